// Where the local servers are installed and run, their versions, ports and sizes. Read from the
// environment on every call, so callers may set env after import.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HOST = '127.0.0.1';

const intEnv = (...values) => {
  const v = values.find((x) => x !== undefined && x !== null && x !== '');
  return Number.parseInt(v, 10);
};

/** Node i (1-based) of a local cluster listens on the loopback alias 127.0.0.i, every node on the same ports. */
export const nodeHost = (i) => `127.0.0.${i}`;

function memberCount(name, value) {
  const n = intEnv(value, 1);
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`${name} must be a whole number from 1 to 9 (got ${value})`);
  return n;
}

/**
 * @param env the environment (CASSANDRA_NODES, KAFKA_BROKERS, ports, SERVICES_DIR, …)
 * @param options { cassandraNodes?, kafkaBrokers? } override the env's cluster sizes
 */
export function getConfig(env = process.env, options = {}) {
  const installDir = path.resolve(env.SERVICES_DIR || path.join(REPO, '.cache', 'services'));
  // With SERVICES_DIR set, keep the run dir next to the installs so two setups never share pid files.
  const runDir = path.resolve(
    env.SERVICES_RUN_DIR || (env.SERVICES_DIR ? path.join(installDir, 'run') : path.join(REPO, '.cache', 'run')),
  );
  return {
    installDir,
    runDir,
    java: env.SERVICES_JAVA || 'java', // Java 17 on this machine; Cassandra 5.0 needs 11 or 17, OpenSearch 2.19 17.
    cassandra: {
      version: '5.0.7',
      nodes: memberCount('CASSANDRA_NODES', options.cassandraNodes ?? env.CASSANDRA_NODES),
      port: intEnv(env.CASSANDRA_PORT, env.sunbird_cassandra_port, 9042),
      storagePort: intEnv(env.CASSANDRA_STORAGE_PORT, 7000),
      // JMX listens on 127.0.0.1 only, so cluster node i takes jmxPort + 10000·(i−1) (cassandraJmxPort).
      jmxPort: intEnv(env.CASSANDRA_JMX_PORT, 7199),
      // SERVICES_START_BUDGET_MS: a longer wait on a loaded machine (a cluster node's JVM can take minutes there).
      budgetMs: intEnv(env.SERVICES_START_BUDGET_MS, 120_000),
    },
    keycloak: {
      version: '26.5.6',
      port: intEnv(env.KEYCLOAK_PORT, 18080),
      managementPort: intEnv(env.KEYCLOAK_MANAGEMENT_PORT, 19000),
      realm: 'sunbird',
      adminUser: 'admin',
      adminPassword: 'admin',
      javaHome: env.KEYCLOAK_JAVA_HOME || '',
      // SERVICES_START_BUDGET_MS may lengthen this wait (a loaded machine), never shorten it.
      budgetMs: Math.max(240_000, intEnv(env.SERVICES_START_BUDGET_MS, 0)),
    },
    kafka: {
      // 4.4.0 is on Central but its kafka-tools artifact (TopicCommand) is not; 4.3.1 is the newest complete 4.x.
      version: '4.3.1',
      brokers: memberCount('KAFKA_BROKERS', options.kafkaBrokers ?? env.KAFKA_BROKERS),
      port: intEnv(env.KAFKA_PORT, 19092),
      controllerPort: intEnv(env.KAFKA_CONTROLLER_PORT, 19093),
      // The service's own rule (src/config/load-config.ts): else ENV_NAME's topic, which must exist (no auto-create).
      topic: env['user-deletion-broadcast-topic'] || `${env.ENV_NAME || 'local'}.delete.user`,
      budgetMs: intEnv(env.SERVICES_START_BUDGET_MS, 90_000),
    },
    opensearch: {
      // 2.19.x is the newest line that runs on Java 17 (3.x needs 21+).
      version: '2.19.6',
      port: intEnv(env.OPENSEARCH_PORT, 9200),
      transportPort: intEnv(env.OPENSEARCH_TRANSPORT_PORT, 9300),
      heap: '256m',
      budgetMs: Math.max(120_000, intEnv(env.SERVICES_START_BUDGET_MS, 0)),
    },
    redis: {
      host: HOST,
      port: intEnv(env.REDIS_PORT, 6379),
      budgetMs: 30_000,
    },
    // The service itself (`npm start` serves on it), so no server of the layout takes its port.
    service: { port: intEnv(env.PORT, 9000) },
  };
}

/**
 * JMX binds the loopback address 127.0.0.1 whatever the node's address, so nodes cannot share its
 * port: node i takes CASSANDRA_JMX_PORT + 10000·(i−1), clear of the neighbouring ports other local
 * setups take (storage and JMX ports 100 apart). portClashes() checks it lands on a port of its own.
 */
export const cassandraJmxPort = (cfg, index) => cfg.cassandra.jmxPort + 10_000 * (index - 1);

/**
 * Every port number the layout takes, each with the variable (or rule) that gives it. Members of a
 * cluster share the CQL, storage, broker and controller ports on their own addresses, so each of
 * those is one entry; a JMX port is one entry per node, all on 127.0.0.1.
 */
export function layoutPorts(cfg) {
  const c = cfg.cassandra;
  const jmx = Array.from({ length: c.nodes }, (_, k) => ({
    port: cassandraJmxPort(cfg, k + 1),
    name: k === 0 ? 'CASSANDRA_JMX_PORT' : `CASSANDRA_JMX_PORT + ${10_000 * k} (JMX of Cassandra node ${k + 1})`,
  }));
  return [
    { port: c.port, name: 'CASSANDRA_PORT' },
    { port: c.storagePort, name: 'CASSANDRA_STORAGE_PORT' },
    ...jmx,
    { port: cfg.keycloak.port, name: 'KEYCLOAK_PORT' },
    { port: cfg.keycloak.managementPort, name: 'KEYCLOAK_MANAGEMENT_PORT' },
    { port: cfg.kafka.port, name: 'KAFKA_PORT' },
    { port: cfg.kafka.controllerPort, name: 'KAFKA_CONTROLLER_PORT' },
    { port: cfg.opensearch.port, name: 'OPENSEARCH_PORT' },
    { port: cfg.opensearch.transportPort, name: 'OPENSEARCH_TRANSPORT_PORT' },
    { port: cfg.redis.port, name: 'REDIS_PORT' },
    { port: cfg.service.port, name: 'PORT (the service)' },
  ];
}

/**
 * What is wrong with the layout's ports, one sentence each: a port outside 1–65535 (a JMX port of
 * a far node can overflow), or one number given by two variables. Empty when every port is its own.
 */
export function portClashes(cfg) {
  const problems = [];
  const byPort = new Map();
  for (const { port, name } of layoutPorts(cfg)) {
    if (!Number.isInteger(port) || port < 1 || port > 65_535) problems.push(`${name} is ${port}, outside 1–65535`);
    byPort.set(port, [...(byPort.get(port) ?? []), name]);
  }
  for (const [port, names] of byPort) if (names.length > 1) problems.push(`port ${port} is both ${names.join(' and ')}`);
  return problems;
}
