// Keycloak 26 (start-dev, realm "sunbird" imported from config/keycloak/realm-sunbird.json).
//
// Java runtime: measured on this machine (2 cores), warm start-dev with the realm import until the
// realm's well-known endpoint answers: Java 17 18.7 s / 19.3 s, Temurin 25 19.0 s / 18.4 s — a tie,
// and Java 25 prints IllegalAccessErrors from jboss-threads on shutdown, so Keycloak runs on Java 17
// (the `java` on PATH; JAVA_HOME is cleared unless KEYCLOAK_JAVA_HOME is set).
// `kc.sh build` at install time does not help: it refuses dev mode ("You can not 'build' the server
// in development mode"), and a production build would be re-augmented by start-dev anyway. The first
// start-dev augments once (~22 s extra, persisted in lib/quarkus), later ones reuse it. AppCDS
// (-XX:SharedArchiveFile) gave no gain either (Quarkus loads app classes with its own class loader).
// Database: dev-mem, so every start re-imports the realm file into a clean realm and users created
// at runtime (by tests) do not accumulate. dev-file would start ~5 s faster, but would keep old
// state and ignore later edits of the realm file (import skips existing realms).
import fs from 'node:fs';
import path from 'node:path';
import { HOST, REPO } from './config.mjs';
import { DEPENDENCY_PLUGIN, installOnce } from './maven.mjs';
import { member } from './members.mjs';
import { runToLog, ServiceError } from './process.mjs';

const REALM_FILE = path.join(REPO, 'config', 'keycloak', 'realm-sunbird.json');
const installPath = (cfg) => path.join(cfg.installDir, `keycloak-${cfg.keycloak.version}`);
const single = (cfg) => member('keycloak', path.join(cfg.runDir, 'keycloak'));

export const keycloak = {
  name: 'keycloak',
  installPath,
  topology: () => 'single',
  members: (cfg) => [single(cfg)],
  allMembers: (cfg) => [single(cfg)],
  ports: (cfg, m) => [cfg.keycloak.port, cfg.keycloak.managementPort].map((port) => ({ host: m.host, port })),
  port: (cfg) => cfg.keycloak.port,
  budgetMs: (cfg) => cfg.keycloak.budgetMs,
  stopGraceMs: 45_000,
  // kc.sh's command line names the install folder, not the run folder.
  owns: (cfg, _m, cmdline) => cmdline.includes(installPath(cfg)),

  install(cfg, log) {
    const v = cfg.keycloak.version;
    return installOnce(installPath(cfg), async (tmpHome) => {
      const downloads = path.join(cfg.installDir, '.build', `keycloak-${process.pid}`);
      fs.mkdirSync(downloads, { recursive: true });
      await runToLog('keycloak', 'mvn', ['-B', '-q', `${DEPENDENCY_PLUGIN}:copy`, `-Dartifact=org.keycloak:keycloak-quarkus-dist:${v}:tar.gz`, `-DoutputDirectory=${downloads}`], { log, cwd: downloads });
      const tarball = path.join(downloads, `keycloak-quarkus-dist-${v}.tar.gz`);
      await runToLog('keycloak', 'tar', ['-xzf', tarball, '-C', tmpHome, '--strip-components=1'], { log });
      fs.rmSync(downloads, { recursive: true, force: true }); // still in ~/.m2; no need for a second 164 MB copy
    });
  },

  prepare(cfg, m) {
    const k = cfg.keycloak;
    const home = installPath(cfg);
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
    return { cmd: path.join(home, 'bin', 'kc.sh'), args, env, cwd: m.dir };
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

  ready: (cfg, m) => keycloak.probe(cfg, m),

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
        lines.push(`           client ${c.clientId}${c.publicClient ? (c.directAccessGrantsEnabled ? ' (public, password grant)' : ' (public, browser login)') : ` secret ${c.secret}`}`);
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
