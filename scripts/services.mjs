#!/usr/bin/env node
// Local backing servers for development and tests, without Docker:
//   Apache Cassandra 5.0.7, Keycloak 26.5.6 (realm "sunbird"), Apache Kafka 4.3.1 (KRaft),
//   OpenSearch 2.19.6 (Sunbird's user search) and Redis (Sunbird's user cache).
//
//   node scripts/services.mjs <up|down|status> [cassandra|keycloak|kafka|opensearch|redis ...]
//   CASSANDRA_NODES=3 KAFKA_BROKERS=3 node scripts/services.mjs up     (local clusters on 127.0.0.1-3)
//
// The JVM servers come from Maven Central through Maven (the only artifact repository reachable
// here), installed once into SERVICES_DIR (default <repo>/.cache/services) and run as detached
// processes whose data, logs and pid files live in the run dir (default <repo>/.cache/run/<name>/;
// clusters in <run>/cassandra-cluster/node<i> and <run>/kafka-cluster/broker<i>). Redis is the
// machine's own when one answers, else redis-server from the Debian package. One file per server
// in scripts/services/. Plain Node, no npm dependencies, so it works before `npm install` and from
// vitest global setup:
//   import { up, down, status } from '../scripts/services.mjs';
//
// Environment (defaults):
//   CASSANDRA_NODES (1), CASSANDRA_PORT (9042; else sunbird_cassandra_port), CASSANDRA_STORAGE_PORT (7000),
//   CASSANDRA_JMX_PORT (7199; cluster node i: +10000·(i−1); `up` refuses a layout where two ports clash)
//   KEYCLOAK_PORT (18080), KEYCLOAK_MANAGEMENT_PORT (19000), KEYCLOAK_JAVA_HOME (unset: `java` on PATH)
//   KAFKA_BROKERS (1), KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), user-deletion-broadcast-topic (<ENV_NAME>.delete.user, local.delete.user by default)
//   OPENSEARCH_PORT (9200), OPENSEARCH_TRANSPORT_PORT (9300), REDIS_PORT (6379)
//   SERVICES_DIR (<repo>/.cache/services), SERVICES_RUN_DIR (<repo>/.cache/run, or $SERVICES_DIR/run when
//   SERVICES_DIR is set), SERVICES_JAVA (java)
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { cassandra, ringStatus, waitAllUpNormal } from './services/cassandra.mjs';
import { getConfig, portClashes } from './services/config.mjs';
import { kafka } from './services/kafka.mjs';
import { keycloak } from './services/keycloak.mjs';
import { withLock } from './services/lock.mjs';
import { opensearch } from './services/opensearch.mjs';
import { rssMiB } from './services/process.mjs';
import { redis } from './services/redis.mjs';
import { ownPid, stopMember, upMember, upService } from './services/supervisor.mjs';

export { getConfig, layoutPorts, portClashes } from './services/config.mjs';

const SERVICES = { cassandra, keycloak, kafka, opensearch, redis };
export const NAMES = Object.freeze(Object.keys(SERVICES));

const defaultLog = (msg) => process.stderr.write(`${msg}\n`);

function normalize(names) {
  const list = names && names.length ? [...new Set(names)] : [...NAMES];
  const unknown = list.filter((n) => !NAMES.includes(n));
  if (unknown.length) throw new Error(`unknown service(s): ${unknown.join(', ')} (expected ${NAMES.join(', ')})`);
  return list;
}

/** opts.cassandraNodes / opts.kafkaBrokers override CASSANDRA_NODES / KAFKA_BROKERS. */
const configFor = (opts = {}) => getConfig(process.env, opts);

/** The config to start servers with: refused, naming the variables, when two of its ports are one. */
function startableConfig(opts) {
  const cfg = configFor(opts);
  const problems = portClashes(cfg);
  if (problems.length) throw new Error(`the local servers' ports clash; set the variables so every port is its own:\n  ${problems.join('\n  ')}`);
  return cfg;
}

/**
 * Start (or reuse) the named services in parallel and wait until each answers (a cluster: every
 * node UN, every broker registered, the topic fully replicated).
 * Resolves { cassandra: {state, pid, port, seconds, topology, members}, ... }; rejects with an Error
 * whose `failures` lists ServiceErrors (each with `service` and `logTail`).
 */
export async function up(names, opts = {}) {
  const cfg = startableConfig(opts);
  const log = opts.log ?? defaultLog;
  const list = normalize(names);
  return withLock(cfg.runDir, log, async () => {
    const results = await Promise.allSettled(list.map((n) => upService(cfg, SERVICES[n], log)));
    const failures = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
    if (failures.length) {
      const err = new Error(failures.map((f) => f.message).join('\n'));
      err.failures = failures;
      throw err;
    }
    return Object.fromEntries(results.map((r) => [r.value.name, r.value]));
  });
}

/** Stop every member of the named services this script started, single and cluster alike. Idempotent. */
export async function down(names, opts = {}) {
  const cfg = configFor(opts);
  const log = opts.log ?? defaultLog;
  const list = normalize(names);
  const results = await Promise.all(
    list.map(async (name) => {
      const svc = SERVICES[name];
      const members = await Promise.all(svc.allMembers(cfg).map((m) => stopMember(cfg, svc, m)));
      const touched = members.filter((r) => r.pid);
      for (const r of touched) log(`${r.label}${r.label === name ? '' : ` (${r.host})`}: ${r.state} (pid ${r.pid})`);
      if (!touched.length) {
        // Only once ours are gone: one still answering on these ports is someone else's.
        const foreign = await svc.probe(cfg, svc.members(cfg)[0]);
        log(`${name}: ${foreign ? 'running, but not started by this script: left alone' : 'not running'}`);
        if (foreign) touched.push({ label: name, state: 'running, but not started by this script: left alone', pid: null });
      }
      return { name, state: touched.length ? touched[0].state : 'not running', pid: touched[0]?.pid ?? null, port: svc.port(cfg), members };
    }),
  );
  return Object.fromEntries(results.map((r) => [r.name, r]));
}

/**
 * One entry per member: { name, label, host, up, port, pid, rssMiB } (pid null when not started by
 * this script). Shows the layout that runs (by pid files), else the one the env selects.
 */
export async function status(names, opts = {}) {
  const cfg = configFor(opts);
  const entries = [];
  for (const name of normalize(names)) {
    const svc = SERVICES[name];
    const all = svc.allMembers(cfg);
    const running = all.filter((m) => ownPid(cfg, svc, m));
    // A layout with a member running is shown whole, so a killed node shows as down.
    const shownMembers = running.length ? all.filter((m) => m.topology === running[0].topology) : svc.members(cfg);
    for (const m of shownMembers) {
      const pid = ownPid(cfg, svc, m);
      entries.push({ name, label: m.label, host: m.host, up: await svc.probe(cfg, m), port: svc.port(cfg), pid, rssMiB: pid ? rssMiB(pid) : null });
    }
  }
  return entries;
}

/** Human-readable connection details for the named services. */
export function connectionInfo(names, opts = {}) {
  const cfg = configFor(opts);
  return normalize(names).flatMap((n) => SERVICES[n].info(cfg));
}

// ---------------------------------------------------------------------------------------------
// Cluster members, for failure tests: kill or start one node or broker, wait for the ring.
// ---------------------------------------------------------------------------------------------

function clusterMember(name, index, opts, { starting = false } = {}) {
  const cfg = starting ? startableConfig(opts) : configFor(opts);
  const svc = SERVICES[name];
  if (!svc || !['cassandra', 'kafka'].includes(name)) throw new Error(`${name} has no cluster members`);
  const m = svc.members(cfg).find((x) => x.index === index);
  if (!m) throw new Error(`${name} has no member ${index} in this layout (${svc.members(cfg).length} member(s))`);
  return { cfg, svc, m };
}

/** Stop member `index` (1-based) of a service; `signal: 'SIGKILL'` kills it without a chance to drain. */
export async function stopNode(name, index, opts = {}) {
  const { cfg, svc, m } = clusterMember(name, index, opts);
  return stopMember(cfg, svc, m, { signal: opts.signal ?? 'SIGTERM' });
}

/** Start member `index` again (its data kept) and wait until it answers. */
export async function startNode(name, index, opts = {}) {
  const { cfg, svc, m } = clusterMember(name, index, opts, { starting: true });
  return upMember(cfg, svc, m, opts.log ?? defaultLog);
}

/** Wait until every Cassandra node is UN, or every Kafka broker is registered with the topic in sync. */
export async function waitForCluster(name, opts = {}) {
  const cfg = configFor(opts);
  const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
  if (name === 'cassandra') return waitAllUpNormal(cfg, deadline, opts.log);
  if (name === 'kafka') return kafka.afterReady(cfg, deadline);
  throw new Error(`${name} has no cluster`);
}

/** `nodetool status` as seen from Cassandra node `index`: [{ state: 'UN' | 'DN' | …, address }]. */
export function cassandraRing(index = 1, opts = {}) {
  const { cfg, m } = clusterMember('cassandra', index, opts);
  return ringStatus(cfg, m);
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

async function main(argv) {
  const [command, ...names] = argv;
  if (command === 'up') {
    try {
      const t0 = Date.now();
      const result = await up(names);
      console.log(connectionInfo(Object.keys(result)).join('\n'));
      console.error(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      for (const f of err.failures ?? [err]) {
        console.error(`\n${f.message}`);
        if (f.logTail) console.error(`--- last 40 log lines ---\n${f.logTail}\n---`);
      }
      process.exitCode = 1;
    }
  } else if (command === 'down') {
    await down(names);
  } else if (command === 'status') {
    for (const s of await status(names)) {
      const pid = s.pid ?? (s.up ? '? (not started by this script)' : '-');
      const rss = s.rssMiB ? `  rss ${s.rssMiB} MiB` : '';
      console.log(`${s.label.padEnd(18)} ${(s.up ? 'up' : 'down').padEnd(5)} ${`${s.host}:${s.port}`.padEnd(16)} pid ${pid}${rss}`);
    }
  } else {
    console.error(`usage: node scripts/services.mjs <up|down|status> [${NAMES.join('|')} ...]`);
    process.exitCode = 2;
  }
}

const invokedDirectly = process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
if (invokedDirectly) {
  process.on('SIGINT', () => process.exit(130)); // run the lock-release 'exit' handler on Ctrl-C
  main(process.argv.slice(2)).catch((err) => {
    console.error(err.message);
    process.exitCode = 1;
  });
}
