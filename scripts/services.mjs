#!/usr/bin/env node
// Local backing services for development and tests, without Docker:
//   Apache Cassandra 5.0.7, Keycloak 26.5.6 (realm "sunbird") and Apache Kafka 4.3.1 (KRaft).
//
//   node scripts/services.mjs <up|down|status> [cassandra|keycloak|kafka ...]
//
// Everything is fetched from Maven Central through Maven (the only reachable repository here),
// installed once into SERVICES_DIR (default <repo>/.cache/services) and run as detached JVMs whose
// data, logs and pid files live in the run dir (default <repo>/.cache/run/<name>/).
// Plain Node, no npm dependencies, so it works before `npm install` and from vitest global setup:
//   import { up, down, status } from '../scripts/services.mjs';
//
// Environment (defaults):
//   CASSANDRA_PORT (9042; else sunbird_cassandra_port), CASSANDRA_STORAGE_PORT (7000), CASSANDRA_JMX_PORT (7199)
//   KEYCLOAK_PORT (18080), KEYCLOAK_MANAGEMENT_PORT (19000), KEYCLOAK_JAVA_HOME (unset: `java` on PATH)
//   KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), user-deletion-broadcast-topic (local.delete.user)
//   SERVICES_DIR (<repo>/.cache/services), SERVICES_RUN_DIR (<repo>/.cache/run, or $SERVICES_DIR/run when
//   SERVICES_DIR is set), SERVICES_JAVA (java)
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REALM_FILE = path.join(REPO, 'config', 'keycloak', 'realm-sunbird.json');
// Always the pinned plugin: Maven 3.8's default maven-dependency-plugin (2.8) is too old for these goals.
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.11.0';
export const NAMES = Object.freeze(['cassandra', 'keycloak', 'kafka']);
const HOST = '127.0.0.1';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const intEnv = (...values) => {
  const v = values.find((x) => x !== undefined && x !== '');
  return Number.parseInt(v, 10);
};

/** Configuration, read from the environment on every call so callers may set env after import. */
export function getConfig(env = process.env) {
  const installDir = path.resolve(env.SERVICES_DIR || path.join(REPO, '.cache', 'services'));
  // With SERVICES_DIR set, keep the run dir next to the installs so two setups never share pid files.
  const runDir = path.resolve(
    env.SERVICES_RUN_DIR || (env.SERVICES_DIR ? path.join(installDir, 'run') : path.join(REPO, '.cache', 'run')),
  );
  return {
    installDir,
    runDir,
    java: env.SERVICES_JAVA || 'java', // Java 17 on this machine; Cassandra 5.0 needs 11 or 17.
    cassandra: {
      version: '5.0.7',
      port: intEnv(env.CASSANDRA_PORT, env.sunbird_cassandra_port, 9042),
      storagePort: intEnv(env.CASSANDRA_STORAGE_PORT, 7000),
      jmxPort: intEnv(env.CASSANDRA_JMX_PORT, 7199),
      budgetMs: 120_000,
    },
    keycloak: {
      version: '26.5.6',
      port: intEnv(env.KEYCLOAK_PORT, 18080),
      managementPort: intEnv(env.KEYCLOAK_MANAGEMENT_PORT, 19000),
      realm: 'sunbird',
      adminUser: 'admin',
      adminPassword: 'admin',
      javaHome: env.KEYCLOAK_JAVA_HOME || '',
      budgetMs: 240_000,
    },
    kafka: {
      // 4.4.0 is on Central but its kafka-tools artifact (TopicCommand) is not; 4.3.1 is the newest complete 4.x.
      version: '4.3.1',
      port: intEnv(env.KAFKA_PORT, 19092),
      controllerPort: intEnv(env.KAFKA_CONTROLLER_PORT, 19093),
      topic: env['user-deletion-broadcast-topic'] || 'local.delete.user',
      budgetMs: 90_000,
    },
  };
}

class ServiceError extends Error {
  constructor(name, message, logTail = '') {
    super(`${name}: ${message}`);
    this.service = name;
    this.logTail = logTail;
  }
}

// ---------------------------------------------------------------------------------------------
// Small process / file / network helpers
// ---------------------------------------------------------------------------------------------

const runPath = (cfg, name, ...rest) => path.join(cfg.runDir, name, ...rest);
const logFile = (cfg, name) => runPath(cfg, name, 'server.log');
const pidFile = (cfg, name) => runPath(cfg, name, 'server.pid');

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return e.code === 'EPERM';
  }
  try {
    // A zombie still answers kill(0); treat it as dead.
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (not Linux): trust kill(0)
  }
}

/** The pid from our pid file if that process is alive and really is our server (pids get recycled). */
function ownPid(cfg, name) {
  let pid;
  try {
    pid = Number.parseInt(fs.readFileSync(pidFile(cfg, name), 'utf8'), 10);
  } catch {
    return null;
  }
  if (!pid || !isAlive(pid)) return null;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes(SERVICES[name].installPath(cfg))) return null;
  } catch {
    /* no /proc: trust the pid file */
  }
  return pid;
}

function tcpConnect(port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Send one request frame and resolve with the first complete response (length-prefixed by `frameLength`). */
function tcpExchange(port, request, frameLength, timeoutMs = 1500) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    let buf = Buffer.alloc(0);
    const fail = (err) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error('timeout')));
    socket.once('error', fail);
    socket.once('close', () => fail(new Error('connection closed')));
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const len = frameLength(buf);
      if (len !== null && buf.length >= len) {
        socket.removeAllListeners('close');
        socket.destroy();
        resolve(buf.subarray(0, len));
      }
    });
  });
}

/** Run a short-lived command with output appended to `log`; reject with the log tail on failure. */
function runToLog(name, cmd, args, { log, cwd, env, timeoutMs = 15 * 60_000 }) {
  fs.mkdirSync(path.dirname(log), { recursive: true });
  const fd = fs.openSync(log, 'a');
  fs.writeSync(fd, `\n$ ${cmd} ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new ServiceError(name, `cannot run ${cmd}: ${e.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new ServiceError(name, `${path.basename(cmd)} failed (${signal ?? `exit ${code}`}), see ${log}`, tail(log)));
    });
  });
}

// Maven 3.8 does not lock its local repository, so parallel installs resolve one after another.
let mavenQueue = Promise.resolve();
function serialMaven(fn) {
  const result = mavenQueue.then(fn, fn);
  mavenQueue = result.catch(() => {});
  return result;
}

function writePom(dir, artifactId, dependencies) {
  const deps = dependencies
    .map(([g, a, v]) => `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`)
    .join('\n');
  fs.mkdirSync(dir, { recursive: true });
  const pom = path.join(dir, 'pom.xml');
  fs.writeFileSync(
    pom,
    `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/services.mjs: only used to resolve runtime jars with Maven. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.services</groupId>
  <artifactId>${artifactId}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
${deps}
  </dependencies>
</project>
`,
  );
  return pom;
}

/**
 * Install jars into <home>/lib via copy-dependencies. A marker file is written only after
 * success, so an interrupted install is simply redone.
 */
async function installJars(cfg, name, home, dependencies) {
  const marker = path.join(home, '.installed');
  if (fs.existsSync(marker)) return false;
  return serialMaven(async () => {
    if (fs.existsSync(marker)) return false;
    const pom = writePom(path.join(cfg.installDir, '.build', name), `${name}-runtime`, dependencies);
    const tmpLib = path.join(home, 'lib.tmp');
    fs.rmSync(home, { recursive: true, force: true });
    fs.mkdirSync(home, { recursive: true });
    await runToLog(
      name,
      'mvn',
      ['-B', '-q', '-f', pom, `${DEPENDENCY_PLUGIN}:copy-dependencies`, '-DincludeScope=runtime', `-DoutputDirectory=${tmpLib}`],
      { log: runPath(cfg, name, 'install.log') },
    );
    fs.renameSync(tmpLib, path.join(home, 'lib'));
    fs.writeFileSync(marker, `${new Date().toISOString()}\n`);
    return true;
  });
}

function findJar(libDir, prefix) {
  const jar = fs.readdirSync(libDir).find((f) => f.startsWith(prefix) && f.endsWith('.jar'));
  if (!jar) throw new Error(`${prefix}*.jar not found in ${libDir}`);
  return path.join(libDir, jar);
}

// ---------------------------------------------------------------------------------------------
// Cassandra
// ---------------------------------------------------------------------------------------------

// JPMS flags from Cassandra's conf/jvm17-server.options (the binary tarball is not on Maven Central).
const CASSANDRA_JVM17_FLAGS = [
  '--add-exports', 'java.base/jdk.internal.misc=ALL-UNNAMED',
  '--add-exports', 'java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED',
  '--add-exports', 'java.rmi/sun.rmi.registry=ALL-UNNAMED',
  '--add-exports', 'java.rmi/sun.rmi.server=ALL-UNNAMED',
  '--add-exports', 'java.sql/java.sql=ALL-UNNAMED',
  '--add-exports', 'java.base/java.lang.ref=ALL-UNNAMED',
  '--add-exports', 'jdk.unsupported/sun.misc=ALL-UNNAMED',
  '--add-exports', 'jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED',
  '--add-exports', 'jdk.attach/sun.tools.attach=ALL-UNNAMED',
  '--add-opens', 'java.base/java.lang.module=ALL-UNNAMED',
  '--add-opens', 'java.base/jdk.internal.loader=ALL-UNNAMED',
  '--add-opens', 'java.base/jdk.internal.ref=ALL-UNNAMED',
  '--add-opens', 'java.base/jdk.internal.reflect=ALL-UNNAMED',
  '--add-opens', 'java.base/jdk.internal.math=ALL-UNNAMED',
  '--add-opens', 'java.base/jdk.internal.module=ALL-UNNAMED',
  '--add-opens', 'java.base/jdk.internal.util.jar=ALL-UNNAMED',
  '--add-opens', 'jdk.management/com.sun.management.internal=ALL-UNNAMED',
  '--add-opens', 'java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-opens', 'java.base/java.io=ALL-UNNAMED',
  '--add-opens', 'java.base/java.lang.reflect=ALL-UNNAMED',
  '--add-opens', 'jdk.compiler/com.sun.tools.javac=ALL-UNNAMED',
  '--add-opens', 'java.base/java.lang=ALL-UNNAMED',
  '--add-opens', 'java.base/java.util=ALL-UNNAMED',
];

const cassandra = {
  installPath: (cfg) => path.join(cfg.installDir, `cassandra-${cfg.cassandra.version}`),
  ports: (cfg) => [cfg.cassandra.port, cfg.cassandra.storagePort, cfg.cassandra.jmxPort],

  // cassandra-all plus its dependencies is the whole server (≈100 jars, 67 MB).
  install: (cfg) =>
    installJars(cfg, 'cassandra', cassandra.installPath(cfg), [
      ['org.apache.cassandra', 'cassandra-all', cfg.cassandra.version],
    ]),

  /** Regenerate config on every start (ports may change); data lives in <run>/cassandra/data and survives. */
  prepare(cfg) {
    const c = cfg.cassandra;
    const run = runPath(cfg, 'cassandra');
    const conf = path.join(run, 'conf');
    const data = path.join(run, 'data');
    for (const d of ['data', 'commitlog', 'saved_caches', 'hints', 'cdc_raw']) fs.mkdirSync(path.join(data, d), { recursive: true });
    fs.mkdirSync(conf, { recursive: true });
    const yaml = path.join(conf, 'cassandra.yaml');
    fs.writeFileSync(
      yaml,
      `# Generated by scripts/services.mjs: single local node, no auth.
cluster_name: local
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
commitlog_sync: periodic
commitlog_sync_period: 10000ms
data_file_directories: [${data}/data]
commitlog_directory: ${data}/commitlog
saved_caches_directory: ${data}/saved_caches
hints_directory: ${data}/hints
cdc_raw_directory: ${data}/cdc_raw
seed_provider: [{class_name: org.apache.cassandra.locator.SimpleSeedProvider, parameters: [{seeds: "${HOST}:${c.storagePort}"}]}]
listen_address: ${HOST}
rpc_address: ${HOST}
native_transport_port: ${c.port}
storage_port: ${c.storagePort}
start_native_transport: true
auto_snapshot: false
`,
    );
    const logback = path.join(conf, 'logback.xml');
    fs.writeFileSync(
      logback,
      `<configuration scan="false">
  <!-- stdout is redirected to server.log by scripts/services.mjs -->
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
`,
    );
    const lib = path.join(cassandra.installPath(cfg), 'lib');
    const args = [
      '-Xms512m', '-Xmx512m', '-Xmn128m', '-XX:+UseG1GC', '-XX:+ExitOnOutOfMemoryError',
      '-Djdk.attach.allowAttachSelf=true',
      ...CASSANDRA_JVM17_FLAGS,
      '-Dio.netty.tryReflectionSetAccessible=true',
      `-javaagent:${findJar(lib, 'jamm-')}`, // required: Cassandra measures object sizes with jamm
      `-Dcassandra.config=file://${yaml}`,
      `-Dlogback.configurationFile=${logback}`,
      '-Dcassandra-foreground=yes',
      `-Dcassandra.storagedir=${data}`,
      '-Dcassandra.skip_wait_for_gossip_to_settle=0', // single node: don't wait ~30 s for gossip
      '-Dcassandra.initial_token=0',
      `-Dcassandra.jmx.local.port=${c.jmxPort}`,
      '-cp', `${conf}:${lib}/*`,
      'org.apache.cassandra.service.CassandraDaemon',
    ];
    return { cmd: cfg.java, args, cwd: run };
  },

  /** CQL OPTIONS frame (protocol v4); a SUPPORTED (0x06) reply means the native transport answers. */
  async probe(cfg) {
    const options = Buffer.from([0x04, 0, 0, 1, 0x05, 0, 0, 0, 0]);
    try {
      const reply = await tcpExchange(cfg.cassandra.port, options, (b) => (b.length >= 9 ? 9 + b.readInt32BE(5) : null));
      return (reply[0] & 0x7f) >= 3 && reply[4] === 0x06;
    } catch {
      return false;
    }
  },

  async ready(cfg, started) {
    if (!(await cassandra.probe(cfg))) return false;
    if (!started) return true;
    const log = fs.readFileSync(logFile(cfg, 'cassandra'), 'utf8');
    return /Starting listening for CQL clients|Startup complete/.test(log);
  },

  info: (cfg) => [
    `cassandra  ${HOST}:${cfg.cassandra.port}  (CQL, no auth, local datacenter "datacenter1")`,
    `           e.g. sunbird_cassandra_host=${HOST} sunbird_cassandra_port=${cfg.cassandra.port}`,
  ],
};

// ---------------------------------------------------------------------------------------------
// Keycloak
// ---------------------------------------------------------------------------------------------

// Java runtime: measured on this machine (2 cores), warm start-dev with the realm import until the
// realm's well-known endpoint answers: Java 17 18.7 s / 19.3 s, Temurin 25 19.0 s / 18.4 s — a tie,
// and Java 25 prints IllegalAccessErrors from jboss-threads on shutdown, so Keycloak runs on Java 17
// (the `java` on PATH; JAVA_HOME is cleared unless KEYCLOAK_JAVA_HOME is set).
// `kc.sh build` at install time does not help: it refuses dev mode ("You can not 'build' the server
// in development mode"), and a production build would be re-augmented by start-dev anyway. The first
// start-dev augments once (~22 s extra, persisted in lib/quarkus), later ones reuse it. AppCDS
// (-XX:SharedArchiveFile) gave no gain either (Quarkus loads app classes with its own class loader).
// Database: dev-mem, so every start re-imports config/keycloak/realm-sunbird.json into a clean realm
// and users created at runtime (by tests) do not accumulate. dev-file would start ~5 s faster, but
// would keep old state and ignore later edits of the realm file (import skips existing realms).
const keycloak = {
  installPath: (cfg) => path.join(cfg.installDir, `keycloak-${cfg.keycloak.version}`),
  ports: (cfg) => [cfg.keycloak.port, cfg.keycloak.managementPort],

  async install(cfg) {
    const home = keycloak.installPath(cfg);
    const marker = path.join(home, '.installed');
    if (fs.existsSync(marker)) return false;
    return serialMaven(async () => {
      if (fs.existsSync(marker)) return false;
      const v = cfg.keycloak.version;
      const downloads = path.join(cfg.installDir, '.build', 'keycloak');
      const log = runPath(cfg, 'keycloak', 'install.log');
      fs.mkdirSync(downloads, { recursive: true });
      await runToLog('keycloak', 'mvn', ['-B', '-q', `${DEPENDENCY_PLUGIN}:copy`, `-Dartifact=org.keycloak:keycloak-quarkus-dist:${v}:tar.gz`, `-DoutputDirectory=${downloads}`], { log, cwd: downloads });
      const tarball = path.join(downloads, `keycloak-quarkus-dist-${v}.tar.gz`);
      const extractDir = path.join(cfg.installDir, '.build', 'keycloak-extract');
      fs.rmSync(extractDir, { recursive: true, force: true });
      fs.mkdirSync(extractDir, { recursive: true });
      await runToLog('keycloak', 'tar', ['-xzf', tarball, '-C', extractDir], { log });
      fs.rmSync(home, { recursive: true, force: true });
      fs.renameSync(path.join(extractDir, `keycloak-${v}`), home);
      fs.rmSync(extractDir, { recursive: true, force: true });
      fs.rmSync(tarball, { force: true }); // still in ~/.m2; no need for a second 164 MB copy
      fs.writeFileSync(marker, `${new Date().toISOString()}\n`);
      return true;
    });
  },

  prepare(cfg) {
    const k = cfg.keycloak;
    const home = keycloak.installPath(cfg);
    // --import-realm reads <home>/data/import; copy on every start so realm edits take effect.
    const importDir = path.join(home, 'data', 'import');
    fs.mkdirSync(importDir, { recursive: true });
    fs.copyFileSync(REALM_FILE, path.join(importDir, 'realm-sunbird.json'));
    const env = {
      ...process.env,
      KC_BOOTSTRAP_ADMIN_USERNAME: k.adminUser,
      KC_BOOTSTRAP_ADMIN_PASSWORD: k.adminPassword,
      JAVA_OPTS_KC_HEAP: '-Xms64m -Xmx512m -XX:MaxMetaspaceSize=256m',
    };
    if (k.javaHome) env.JAVA_HOME = k.javaHome;
    else delete env.JAVA_HOME;
    const args = [
      'start-dev',
      `--http-host=${HOST}`,
      `--http-port=${k.port}`,
      `--http-management-port=${k.managementPort}`,
      `--hostname=http://${HOST}:${k.port}`, // fixes the token issuer to http://127.0.0.1:<port>/realms/sunbird
      '--import-realm',
      '--cache=local',
      '--db=dev-mem',
    ];
    return { cmd: path.join(home, 'bin', 'kc.sh'), args, env, cwd: home };
  },

  async probe(cfg) {
    const url = `http://${HOST}:${cfg.keycloak.port}/realms/${cfg.keycloak.realm}/.well-known/openid-configuration`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  },

  ready: (cfg) => keycloak.probe(cfg),

  /**
   * A realm imported by an earlier run (a Keycloak started before the realm file changed keeps it
   * until restarted) gets what later runs rely on: the `basic` client scope with its `auth_time`
   * mapper, a default scope of the portal clients, and the browser-login client `portal-web`.
   * Each is added only when missing, through the admin API, so a running realm is never reset.
   */
  async afterReady(cfg) {
    const k = cfg.keycloak;
    const base = `http://${HOST}:${k.port}`;
    const realmFile = JSON.parse(fs.readFileSync(REALM_FILE, 'utf8'));
    const tokenResponse = await fetch(`${base}/realms/master/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: k.adminUser, password: k.adminPassword }),
    });
    if (!tokenResponse.ok) throw new ServiceError('keycloak', `admin login refused (${tokenResponse.status})`);
    const token = (await tokenResponse.json()).access_token;
    const admin = async (method, route, body) => {
      const response = await fetch(`${base}/admin/realms/${k.realm}${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (!response.ok) throw new ServiceError('keycloak', `${method} ${route} answered ${response.status}`);
      return response.status === 200 ? response.json() : undefined;
    };
    const wantedBasic = realmFile.clientScopes.find((scope) => scope.name === 'basic');
    const wantedAuthTime = wantedBasic.protocolMappers.find((mapper) => mapper.config['claim.name'] === 'auth_time');
    let basic = (await admin('GET', '/client-scopes')).find((scope) => scope.name === 'basic');
    if (!basic) {
      await admin('POST', '/client-scopes', wantedBasic);
      basic = (await admin('GET', '/client-scopes')).find((scope) => scope.name === 'basic');
    } else if (!(basic.protocolMappers ?? []).some((mapper) => mapper.config?.['claim.name'] === 'auth_time' && mapper.config?.['access.token.claim'] === 'true')) {
      await admin('POST', `/client-scopes/${basic.id}/protocol-mappers/models`, wantedAuthTime);
    }
    const clients = await admin('GET', '/clients');
    for (const wanted of realmFile.clients.filter((client) => client.defaultClientScopes?.includes('basic'))) {
      let client = clients.find((candidate) => candidate.clientId === wanted.clientId);
      if (!client) {
        await admin('POST', '/clients', wanted);
        client = (await admin('GET', `/clients?clientId=${encodeURIComponent(wanted.clientId)}`))[0];
      }
      const defaults = await admin('GET', `/clients/${client.id}/default-client-scopes`);
      if (!defaults.some((scope) => scope.name === 'basic')) await admin('PUT', `/clients/${client.id}/default-client-scopes/${basic.id}`);
    }
  },

  info(cfg) {
    const k = cfg.keycloak;
    const base = `http://${HOST}:${k.port}`;
    const lines = [
      `keycloak   ${base}  realm ${base}/realms/${k.realm}  (issuer)`,
      `           admin console ${base}/admin  user ${k.adminUser} / ${k.adminPassword} (master realm)`,
    ];
    try {
      const realm = JSON.parse(fs.readFileSync(REALM_FILE, 'utf8'));
      for (const c of realm.clients ?? []) {
        lines.push(`           client ${c.clientId}${c.publicClient ? ' (public, password grant)' : ` secret ${c.secret}`}`);
      }
      for (const u of realm.users ?? []) {
        const pw = u.credentials?.find((x) => x.type === 'password')?.value;
        if (pw) lines.push(`           user ${u.username} / ${pw}  id ${u.id}`);
      }
    } catch {
      /* realm file unreadable: the generic lines above still help */
    }
    return lines;
  },
};

// ---------------------------------------------------------------------------------------------
// Kafka
// ---------------------------------------------------------------------------------------------

const kafka = {
  installPath: (cfg) => path.join(cfg.installDir, `kafka-${cfg.kafka.version}`),
  ports: (cfg) => [cfg.kafka.port, cfg.kafka.controllerPort],

  // kafka_2.13 is the broker (kafka.Kafka, StorageTool); kafka-tools has TopicCommand.
  // Kafka logs through slf4j 1.7 -> log4j2, but the poms leave the binding to the distribution.
  install: (cfg) =>
    installJars(cfg, 'kafka', kafka.installPath(cfg), [
      ['org.apache.kafka', 'kafka_2.13', cfg.kafka.version],
      ['org.apache.kafka', 'kafka-tools', cfg.kafka.version],
      ['org.apache.logging.log4j', 'log4j-slf4j-impl', '2.25.4'],
    ]),

  classpath: (cfg) => `${path.join(kafka.installPath(cfg), 'lib')}/*`,

  writeLog4j(file, level) {
    fs.writeFileSync(
      file,
      `<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="STDOUT" target="SYSTEM_OUT"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers>
    <Logger name="org.apache.kafka.common.config.AbstractConfig" level="WARN"/>
    <Root level="${level}"><AppenderRef ref="STDOUT"/></Root>
  </Loggers>
</Configuration>
`,
    );
  },

  async prepare(cfg, logFd) {
    const k = cfg.kafka;
    const run = runPath(cfg, 'kafka');
    const conf = path.join(run, 'conf');
    const data = path.join(run, 'data');
    fs.mkdirSync(conf, { recursive: true });
    const props = path.join(conf, 'server.properties');
    // Static quorum (controller.quorum.voters) rather than --standalone: no endpoints are written into
    // the metadata log, so changing KAFKA_CONTROLLER_PORT later does not need a re-format.
    fs.writeFileSync(
      props,
      `# Generated by scripts/services.mjs: single-node KRaft broker+controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${k.controllerPort}
listeners=PLAINTEXT://${HOST}:${k.port},CONTROLLER://${HOST}:${k.controllerPort}
advertised.listeners=PLAINTEXT://${HOST}:${k.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${data}
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
`,
    );
    kafka.writeLog4j(path.join(conf, 'log4j2.xml'), 'INFO');
    kafka.writeLog4j(path.join(conf, 'tools-log4j2.xml'), 'WARN');
    if (!fs.existsSync(path.join(data, 'meta.properties'))) await kafka.format(cfg, props, logFd);
    const args = [
      '-Xms128m', '-Xmx512m', '-XX:+UseG1GC', '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${path.join(conf, 'log4j2.xml')}`,
      `-Dkafka.logs.dir=${path.join(run, 'logs')}`,
      '-cp', kafka.classpath(cfg),
      'kafka.Kafka', props,
    ];
    return { cmd: cfg.java, args, cwd: run };
  },

  /** One-time KRaft storage format with a fresh cluster id (Kafka's base64url Uuid format). */
  format(cfg, props, logFd) {
    let clusterId;
    do clusterId = crypto.randomBytes(16).toString('base64url');
    while (clusterId.startsWith('-')); // Kafka avoids these too: they look like CLI flags
    const tools = path.join(runPath(cfg, 'kafka', 'conf'), 'tools-log4j2.xml');
    const args = [`-Dlog4j2.configurationFile=${tools}`, '-cp', kafka.classpath(cfg), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props];
    return new Promise((resolve, reject) => {
      const child = spawn(cfg.java, args, { stdio: ['ignore', logFd, logFd] });
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0 ? resolve() : reject(new ServiceError('kafka', `storage format failed (exit ${code}), see ${logFile(cfg, 'kafka')}`, tail(logFile(cfg, 'kafka')))),
      );
    });
  },

  /**
   * Metadata request v4 (a non-flexible version every 4.x broker still serves) for one topic.
   * Resolves { brokers, topicError, leader } or rejects when the broker does not answer.
   */
  async metadata(cfg, topic) {
    const clientId = Buffer.from('services.mjs');
    const name = Buffer.from(topic);
    const header = Buffer.alloc(10);
    header.writeInt16BE(3, 0); // api key: Metadata
    header.writeInt16BE(4, 2); // api version
    header.writeInt32BE(1, 4); // correlation id
    header.writeInt16BE(clientId.length, 8);
    const body = Buffer.alloc(4 + 2 + name.length + 1);
    body.writeInt32BE(1, 0);
    body.writeInt16BE(name.length, 4);
    name.copy(body, 6);
    body.writeInt8(0, 6 + name.length); // allow_auto_topic_creation=false
    const payload = Buffer.concat([header, clientId, body]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length);
    const res = await tcpExchange(cfg.kafka.port, Buffer.concat([size, payload]), (b) => (b.length >= 4 ? 4 + b.readInt32BE(0) : null));

    let o = 8; // size + correlation id
    const i16 = () => ((o += 2), res.readInt16BE(o - 2));
    const i32 = () => ((o += 4), res.readInt32BE(o - 4));
    const str = () => {
      const len = i16();
      if (len > 0) o += len;
    };
    i32(); // throttle_time_ms
    const brokers = i32();
    for (let b = 0; b < brokers; b++) (i32(), str(), i32(), str()); // node_id, host, port, rack
    str(); // cluster_id
    i32(); // controller_id
    if (i32() < 1) return { brokers, topicError: -1, leader: -1 };
    const topicError = i16();
    str(); // name
    o += 1; // is_internal
    const partitions = i32();
    let leader = -1;
    if (partitions > 0) (i16(), i32(), (leader = i32())); // error_code, partition_index, leader_id
    return { brokers, topicError, leader };
  },

  async probe(cfg) {
    try {
      return (await kafka.metadata(cfg, cfg.kafka.topic)).brokers > 0;
    } catch {
      return false;
    }
  },

  ready: (cfg) => kafka.probe(cfg),

  /** Create the broadcast topic (1 partition, RF 1) if absent; done when it has a leader. */
  async afterReady(cfg, deadline) {
    const k = cfg.kafka;
    const log = runPath(cfg, 'kafka', 'topics.log');
    for (;;) {
      const meta = await kafka.metadata(cfg, k.topic).catch(() => null);
      if (meta && meta.topicError === 0 && meta.leader >= 0) return;
      if (meta && meta.topicError === 3 /* UNKNOWN_TOPIC_OR_PARTITION */) {
        const tools = path.join(runPath(cfg, 'kafka', 'conf'), 'tools-log4j2.xml');
        await runToLog(
          'kafka',
          cfg.java,
          [
            `-Dlog4j2.configurationFile=${tools}`, '-cp', kafka.classpath(cfg),
            'org.apache.kafka.tools.TopicCommand', // kafka.admin.TopicCommand is gone in 4.x
            '--bootstrap-server', `${HOST}:${k.port}`,
            '--create', '--if-not-exists', '--topic', k.topic, '--partitions', '1', '--replication-factor', '1',
          ],
          { log, timeoutMs: 60_000 },
        ).catch(() => {}); // e.g. controller not ready yet: retried below until the deadline
      }
      if (Date.now() > deadline) {
        throw new ServiceError('kafka', `topic ${k.topic} could not be created in time, see ${log}`, tail(log));
      }
      await sleep(500);
    }
  },

  info: (cfg) => [
    `kafka      bootstrap servers ${HOST}:${cfg.kafka.port}  topic ${cfg.kafka.topic} (1 partition, RF 1)`,
  ],
};

const SERVICES = { cassandra, keycloak, kafka };

// ---------------------------------------------------------------------------------------------
// Lock: one `up` at a time per run dir, across processes (file) and within one process (promise).
// ---------------------------------------------------------------------------------------------

let inProcessLock = Promise.resolve();

async function withLock(cfg, log, fn) {
  const previous = inProcessLock;
  let releaseInProcess;
  inProcessLock = new Promise((resolve) => (releaseInProcess = resolve));
  await previous;
  try {
    return await withFileLock(path.join(cfg.runDir, '.lock'), log, fn);
  } finally {
    releaseInProcess();
  }
}

/** Whether the lock file is left over from a dead `up` (an empty file is one being written right now). */
function isStaleLock(file) {
  try {
    const owner = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    if (owner) return !isAlive(owner);
    return Date.now() - fs.statSync(file).mtimeMs > 5000;
  } catch {
    return false; // vanished meanwhile: just retry
  }
}

async function withFileLock(file, log, fn) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const deadline = Date.now() + 20 * 60_000;
  let announced = false;
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    if (isStaleLock(file)) {
      fs.rmSync(file, { force: true }); // left behind by a killed `up`
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another "services up" still holds ${file}`);
    if (!announced) log(`waiting for another "services up" to finish (lock ${file})`);
    announced = true;
    await sleep(250);
  }
  const release = () => {
    try {
      if (fs.readFileSync(file, 'utf8') === String(process.pid)) fs.rmSync(file, { force: true });
    } catch {
      /* already gone */
    }
  };
  process.once('exit', release);
  try {
    return await fn();
  } finally {
    release();
    process.off('exit', release);
  }
}

// ---------------------------------------------------------------------------------------------
// up / down / status
// ---------------------------------------------------------------------------------------------

function normalize(names) {
  const list = names && names.length ? [...new Set(names)] : [...NAMES];
  const unknown = list.filter((n) => !NAMES.includes(n));
  if (unknown.length) throw new Error(`unknown service(s): ${unknown.join(', ')} (expected ${NAMES.join(', ')})`);
  return list;
}

/** Spawn detached into its own process group (so `down` can signal kc.sh and its JVM together). */
function startDetached(cfg, name, spec, logFd) {
  const child = spawn(spec.cmd, spec.args, {
    cwd: spec.cwd,
    env: spec.env ?? process.env,
    detached: true,
    stdio: ['ignore', logFd, logFd],
  });
  const exited = { code: undefined };
  child.once('exit', (code, signal) => (exited.code = signal ?? code));
  child.once('error', (e) => (exited.code = e.message));
  child.unref();
  if (child.pid) fs.writeFileSync(pidFile(cfg, name), `${child.pid}\n`);
  return { pid: child.pid, exited };
}

async function waitReady(cfg, name, { pid, exited, started, deadline }) {
  const svc = SERVICES[name];
  for (;;) {
    if (await svc.ready(cfg, started)) return;
    const gone = exited ? exited.code !== undefined : !isAlive(pid);
    if (gone) {
      throw new ServiceError(name, `exited before answering${exited ? ` (${exited.code})` : ''}, see ${logFile(cfg, name)}`, tail(logFile(cfg, name)));
    }
    if (Date.now() > deadline) {
      const logTail = tail(logFile(cfg, name));
      if (started) {
        await stopPid(pid, 10_000); // don't leave a half-started server holding the ports
        fs.rmSync(pidFile(cfg, name), { force: true });
      }
      throw new ServiceError(name, `did not answer within ${cfg[name].budgetMs / 1000} s, see ${logFile(cfg, name)}`, logTail);
    }
    await sleep(500);
  }
}

async function upOne(cfg, name, log) {
  const svc = SERVICES[name];
  const t0 = Date.now();
  const budget = cfg[name].budgetMs;
  fs.mkdirSync(runPath(cfg, name), { recursive: true });
  let state = 'reused';
  let pid = ownPid(cfg, name);
  if (!(await svc.probe(cfg))) {
    if (pid) {
      // Started earlier (e.g. an interrupted `up`) and still booting: wait for it, never start a second one.
      log(`${name}: pid ${pid} is still starting, waiting`);
      await waitReady(cfg, name, { pid, started: true, deadline: Date.now() + budget });
      state = 'waited';
    } else {
      const busy = [];
      for (const port of svc.ports(cfg)) if (await tcpConnect(port)) busy.push(port);
      if (busy.length) throw new ServiceError(name, `port(s) ${busy.join(', ')} in use by another process that is not a working ${name}`);
      if (await svc.install(cfg)) log(`${name}: installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const t1 = Date.now();
      const log_ = logFile(cfg, name);
      if (fs.existsSync(log_)) fs.renameSync(log_, `${log_}.prev`);
      const logFd = fs.openSync(log_, 'a');
      let child;
      try {
        const spec = await svc.prepare(cfg, logFd);
        const shown = path.relative(process.cwd(), log_);
        log(`${name}: starting (log ${shown.startsWith('..') ? log_ : shown})`);
        child = startDetached(cfg, name, spec, logFd);
      } finally {
        fs.closeSync(logFd);
      }
      pid = child.pid;
      await waitReady(cfg, name, { ...child, started: true, deadline: t1 + budget });
      state = 'started';
    }
  }
  if (svc.afterReady) await svc.afterReady(cfg, Date.now() + budget);
  const seconds = (Date.now() - t0) / 1000;
  if (state !== 'reused') log(`${name}: up in ${seconds.toFixed(1)} s (pid ${pid})`);
  return { name, state, pid: pid ?? null, port: cfg[name].port, seconds };
}

/**
 * Start (or reuse) the named services in parallel and wait until each answers.
 * Resolves { cassandra: {state, pid, port, seconds}, ... }; rejects with an Error whose `failures`
 * lists ServiceErrors (each with `service` and `logTail`).
 */
export async function up(names, opts = {}) {
  const cfg = getConfig();
  const log = opts.log ?? ((msg) => process.stderr.write(`${msg}\n`));
  const list = normalize(names);
  return withLock(cfg, log, async () => {
    const results = await Promise.allSettled(list.map((n) => upOne(cfg, n, log)));
    const failures = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
    if (failures.length) {
      const err = new Error(failures.map((f) => f.message).join('\n'));
      err.failures = failures;
      throw err;
    }
    return Object.fromEntries(results.map((r) => [r.value.name, r.value]));
  });
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal); // detached => the pid leads its own process group
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

async function stopPid(pid, graceMs) {
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(200);
  if (isAlive(pid)) {
    signalGroup(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(100);
    return 'killed';
  }
  signalGroup(pid, 'SIGKILL'); // stragglers in the group (e.g. kc.sh's JVM), if any
  return 'stopped';
}

/** Stop the named services this script started (pid files). Idempotent. */
export async function down(names, opts = {}) {
  const cfg = getConfig();
  const log = opts.log ?? ((msg) => process.stderr.write(`${msg}\n`));
  const list = normalize(names);
  const results = await Promise.all(
    list.map(async (name) => {
      const pid = ownPid(cfg, name);
      let state = 'not running';
      if (pid) state = await stopPid(pid, 45_000); // Cassandra drains, Kafka does a controlled shutdown
      else if (await SERVICES[name].probe(cfg)) state = 'running, but not started by this script: left alone';
      fs.rmSync(pidFile(cfg, name), { force: true });
      log(`${name}: ${state}${pid ? ` (pid ${pid})` : ''}`);
      return { name, state, pid };
    }),
  );
  return Object.fromEntries(results.map((r) => [r.name, r]));
}

/** One entry per service: { name, up, port, pid } (pid null when not started by this script). */
export async function status(names) {
  const cfg = getConfig();
  return Promise.all(
    normalize(names).map(async (name) => ({ name, up: await SERVICES[name].probe(cfg), port: cfg[name].port, pid: ownPid(cfg, name) })),
  );
}

/** Human-readable connection details for the named services. */
export function connectionInfo(names) {
  const cfg = getConfig();
  return normalize(names).flatMap((n) => SERVICES[n].info(cfg));
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
      console.log(`${s.name.padEnd(10)} ${(s.up ? 'up' : 'down').padEnd(5)} port ${String(s.port).padEnd(6)} pid ${pid}`);
    }
  } else {
    console.error('usage: node scripts/services.mjs <up|down|status> [cassandra|keycloak|kafka ...]');
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
