// OpenSearch 2.19 (Apache-2.0, Elasticsearch 7 API), assembled from Maven Central: there is no
// server package in Debian or npm, and the tarball is not on Central. The layout the bootstrap wants:
//   <home>/lib/                      the core jars, the only ones on the classpath
//   <home>/modules/transport-netty4  HTTP and transport (netty), loaded in a plugin class loader
//   <home>/modules/lang-painless     scripting (Sunbird's ingest pipeline and update scripts)
//   <home>/modules/analysis-common   the ngram filter and custom analyzers of Sunbird's indexes
//   <home>/plugins/                  empty
// Each module needs a plugin-descriptor.properties and a plugin-security.policy, which the Maven
// jars lack; the grants are those of OpenSearch's own modules. The bootstrap refuses to run as
// root, so as root the JVM drops to `nobody` (setpriv), and the run folder is handed to it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HOST } from './config.mjs';
import { copyDependencies, installOnce } from './maven.mjs';
import { member } from './members.mjs';

const installPath = (cfg) => path.join(cfg.installDir, `opensearch-${cfg.opensearch.version}`);
const single = (cfg) => member('opensearch', path.join(cfg.runDir, 'opensearch'));
const UNPRIVILEGED = { user: 'nobody', uid: 65534, gid: 65534 };

const MODULES = [
  {
    dir: 'transport-netty4',
    artifact: ['org.opensearch.plugin', 'transport-netty4-client'],
    classname: 'org.opensearch.transport.Netty4Plugin',
    description: 'Netty 4 based transport implementation',
    extended: '',
    policy: `grant {
  permission java.io.FilePermission "/proc/sys/net/core/somaxconn", "read";
  permission java.net.SocketPermission "*", "accept,connect";
  permission java.lang.RuntimePermission "*", "setContextClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
  permission java.util.PropertyPermission "sun.nio.ch.bugLevel", "write";
};
`,
  },
  {
    dir: 'lang-painless',
    artifact: ['org.opensearch.plugin', 'lang-painless'],
    classname: 'org.opensearch.painless.PainlessPlugin',
    description: 'An easy, safe and fast scripting language for OpenSearch',
    extended: '',
    policy: `grant {
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};
`,
  },
  {
    dir: 'analysis-common',
    artifact: ['org.opensearch.plugin', 'analysis-common'],
    classname: 'org.opensearch.analysis.common.CommonAnalysisPlugin',
    description: 'Adds "built in" analyzers to OpenSearch',
    extended: 'lang-painless',
    policy: 'grant {\n};\n',
  },
];

/** "netty-codec-4.1.121.Final.jar" -> "netty-codec": what two copies of a library share whatever their versions. */
const artifactName = (jar) => /^(.+?)-\d[\w.-]*\.jar$/.exec(jar)?.[1] ?? jar;

/** Jars a module folder must not repeat: the core's, and those of the module it extends (jar hell otherwise). */
function dropShared(dir, ...others) {
  const shared = new Set(others.flatMap((o) => fs.readdirSync(o).map(artifactName)));
  for (const jar of fs.readdirSync(dir)) if (jar.endsWith('.jar') && shared.has(artifactName(jar))) fs.rmSync(path.join(dir, jar));
}

/** Whether a user who is neither owner nor group (nobody) can walk down to `p` (mode bits only). */
function traversableByOthers(p) {
  for (let dir = path.resolve(p); ; dir = path.dirname(dir)) {
    try {
      if ((fs.statSync(dir).mode & 0o001) === 0) return false;
    } catch {
      /* not created yet: its parents decide */
    }
    if (path.dirname(dir) === dir) return true;
  }
}

/**
 * The install folder when nobody can read it, else a copy made once in `fallback` (a checkout under
 * a private home folder, e.g. /root, is out of nobody's reach).
 */
function reachableByOthers(home, fallback) {
  if (traversableByOthers(home)) return home;
  const marker = path.join(fallback, '.installed');
  if (!fs.existsSync(marker) || fs.readFileSync(marker, 'utf8') !== fs.readFileSync(path.join(home, '.installed'), 'utf8')) {
    fs.rmSync(fallback, { recursive: true, force: true });
    fs.cpSync(home, fallback, { recursive: true });
    fs.chmodSync(fallback, 0o755);
  }
  return fallback;
}

const hashOf = (text) => crypto.createHash('sha256').update(text).digest('hex').slice(0, 12);

/** Where the node's own files (config, data, logs, tmp) go: its run folder, unless nobody cannot reach it. pid and server.log stay in the run folder. */
const nodeDirOf = (m) => (isRoot() && !traversableByOthers(m.dir) ? path.join(os.tmpdir(), `opensearch-node-${hashOf(m.dir)}`) : m.dir);

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function chownTree(dir, uid, gid) {
  fs.chownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, uid, gid);
    else fs.chownSync(p, uid, gid);
  }
}

export const opensearch = {
  name: 'opensearch',
  installPath,
  topology: () => 'single',
  members: (cfg) => [single(cfg)],
  allMembers: (cfg) => [single(cfg)],
  ports: (cfg, m) => [cfg.opensearch.port, cfg.opensearch.transportPort].map((port) => ({ host: m.host, port })),
  port: (cfg) => cfg.opensearch.port,
  budgetMs: (cfg) => cfg.opensearch.budgetMs,
  // SIGTERM makes 2.19 log "stopping" and then hang ~60 s in log4j's shutdown hook under the
  // security manager. Every acknowledged write is already in the fsynced translog, so a short grace
  // and SIGKILL lose nothing.
  stopGraceMs: 5_000,
  owns: (_cfg, m, cmdline) => cmdline.includes('org.opensearch.bootstrap.OpenSearch') && cmdline.includes(`-Dopensearch.path.conf=${path.join(nodeDirOf(m), 'config')}`),

  install(cfg, log) {
    const v = cfg.opensearch.version;
    return installOnce(installPath(cfg), async (home) => {
      const buildDir = (name) => path.join(cfg.installDir, '.build', `opensearch-${name}-${process.pid}`);
      const lib = path.join(home, 'lib');
      // Versioned file names: the bootstrap's security policy grants by jar name ("${codebase.opensearch}").
      await copyDependencies({
        name: 'opensearch',
        buildDir: buildDir('core'),
        dependencies: [
          ['org.opensearch', 'opensearch', v],
          ['org.opensearch', 'opensearch-plugin-classloader', v], // loaded by the bootstrap, not declared by the core POM
          ['org.apache.logging.log4j', 'log4j-core', '2.25.4'], // <optional> in the core POM, required at run time
        ],
        outDir: lib,
        log,
      });
      for (const mod of MODULES) {
        const dir = path.join(home, 'modules', mod.dir);
        await copyDependencies({ name: 'opensearch', buildDir: buildDir(mod.dir), dependencies: [[...mod.artifact, v]], outDir: dir, log });
        dropShared(dir, lib, ...(mod.extended ? [path.join(home, 'modules', mod.extended)] : []));
        fs.writeFileSync(
          path.join(dir, 'plugin-descriptor.properties'),
          [
            `description=${mod.description}`,
            `version=${v}`,
            `name=${mod.dir}`,
            `classname=${mod.classname}`,
            'java.version=11',
            `opensearch.version=${v}`,
            `extended.plugins=${mod.extended}`,
            '',
          ].join('\n'),
        );
        fs.writeFileSync(path.join(dir, 'plugin-security.policy'), mod.policy);
      }
      for (const d of ['bin', 'plugins']) fs.mkdirSync(path.join(home, d), { recursive: true }); // the bootstrap checks both exist
    });
  },

  prepare(cfg, m) {
    const o = cfg.opensearch;
    const asRoot = isRoot();
    const home = asRoot ? reachableByOthers(installPath(cfg), path.join(os.tmpdir(), `opensearch-${o.version}-home`)) : installPath(cfg);
    const nodeDir = nodeDirOf(m);
    const conf = path.join(nodeDir, 'config');
    const data = path.join(nodeDir, 'data');
    const logs = path.join(nodeDir, 'logs');
    const tmp = path.join(nodeDir, 'tmp');
    for (const d of [conf, data, logs, tmp]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(
      path.join(conf, 'opensearch.yml'),
      `# Generated by scripts/services: single local node, no security plugin.
cluster.name: local
node.name: local
discovery.type: single-node
network.host: ${HOST}
http.port: ${o.port}
transport.port: ${o.transportPort}
path.data: ${data}
path.logs: ${logs}
# Writes go to the indexes db:migrate created; a write to a missing index fails instead of guessing a mapping.
action.auto_create_index: false
`,
    );
    fs.writeFileSync(
      path.join(conf, 'log4j2.properties'),
      `# stdout is redirected to server.log by scripts/services
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
`,
    );
    const java = [
      `-Xms${o.heap}`, `-Xmx${o.heap}`, '-XX:+UseG1GC', '-XX:+ExitOnOutOfMemoryError',
      `-Djava.io.tmpdir=${tmp}`, `-Djna.tmpdir=${tmp}`,
      '-Dfile.encoding=UTF-8', '-Djava.security.manager=allow',
      `-Dopensearch.path.home=${home}`, `-Dopensearch.path.conf=${conf}`,
      '-Dopensearch.distribution.type=tar', '-Dopensearch.bundled_jdk=false',
      '-Dlog4j2.disable.jmx=true',
      '-cp', `${path.join(home, 'lib')}/*`,
      'org.opensearch.bootstrap.OpenSearch',
    ];
    if (!asRoot) return { cmd: cfg.java, args: java, cwd: m.dir };
    // The node writes only into its own folder; the install stays root's and read-only.
    chownTree(nodeDir, UNPRIVILEGED.uid, UNPRIVILEGED.gid);
    const env = { ...process.env, HOME: m.dir };
    return {
      cmd: 'setpriv',
      args: [`--reuid=${UNPRIVILEGED.uid}`, `--regid=${UNPRIVILEGED.gid}`, '--clear-groups', '--', cfg.java, ...java],
      env,
      cwd: nodeDir,
    };
  },

  async probe(cfg) {
    try {
      const res = await fetch(`http://${HOST}:${cfg.opensearch.port}/`, { signal: AbortSignal.timeout(2000) });
      const body = await res.json();
      return res.status === 200 && body?.version?.distribution === 'opensearch';
    } catch {
      return false;
    }
  },

  /** Ready when the cluster has elected itself and answers health (yellow is fine: Sunbird asks for a replica). */
  async ready(cfg) {
    try {
      const res = await fetch(`http://${HOST}:${cfg.opensearch.port}/_cluster/health?wait_for_status=yellow&timeout=1s`, { signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  },

  info(cfg) {
    const url = `http://${HOST}:${cfg.opensearch.port}`;
    return [
      `opensearch ${url}  (OpenSearch ${cfg.opensearch.version}, Elasticsearch 7 API, no auth)`,
      `           e.g. sunbird_es_host=${HOST} sunbird_es_port=${cfg.opensearch.port}`,
    ];
  },
};
