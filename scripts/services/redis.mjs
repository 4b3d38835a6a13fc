// Redis: the one this machine already runs on 127.0.0.1:REDIS_PORT (default 6379) is used as it is;
// without one, `redis-server` from the Debian package is started here (the package is installed
// by scripts/install-os-packages.sh when missing). Sunbird keeps its user cache in DB 12.
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './config.mjs';
import { member } from './members.mjs';
import { runToLog, ServiceError, tcpExchange } from './process.mjs';

const single = (cfg) => member('redis', path.join(cfg.runDir, 'redis'));

function onPath(binary) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, binary);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      /* next */
    }
  }
  return null;
}

/** RESP PING; a "+PONG" (or an auth error: something is there, but not ours to use) answers. */
export async function ping(host, port) {
  try {
    const reply = await tcpExchange(host, port, Buffer.from('*1\r\n$4\r\nPING\r\n'), (b) => {
      const end = b.indexOf('\r\n');
      return end < 0 ? null : end + 2;
    });
    return reply.toString('latin1').trim();
  } catch {
    return null;
  }
}

export const redis = {
  name: 'redis',
  topology: () => 'single',
  members: (cfg) => [single(cfg)],
  allMembers: (cfg) => [single(cfg)],
  ports: (cfg, m) => [{ host: m.host, port: cfg.redis.port }],
  port: (cfg) => cfg.redis.port,
  budgetMs: (cfg) => cfg.redis.budgetMs,
  stopGraceMs: 10_000,
  // redis-server rewrites its process title to "redis-server <host>:<port>".
  owns: (cfg, _m, cmdline) => cmdline.includes('redis-server') && cmdline.includes(`:${cfg.redis.port}`),
  installPath: () => onPath('redis-server') ?? 'redis-server',

  /** Installs the Debian package when no redis-server is on PATH (root only, like every apt-get). */
  async install(_cfg, log) {
    if (onPath('redis-server')) return false;
    await runToLog('redis', 'bash', [path.join(REPO, 'scripts', 'install-os-packages.sh'), 'redis-server'], { log, timeoutMs: 10 * 60_000 });
    if (!onPath('redis-server')) throw new ServiceError('redis', `redis-server is still not on PATH after installing the package, see ${log}`);
    return true;
  },

  prepare(cfg, m) {
    fs.mkdirSync(m.dir, { recursive: true });
    // A cache for local runs: no snapshots, no append-only file; logs go to stdout (server.log).
    const args = ['--bind', m.host, '--port', String(cfg.redis.port), '--dir', m.dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', ''];
    return { cmd: onPath('redis-server') ?? 'redis-server', args, cwd: m.dir };
  },

  probe: async (cfg, m) => (await ping(m.host, cfg.redis.port)) === '+PONG',
  ready: (cfg, m) => redis.probe(cfg, m),

  info(cfg) {
    return [`redis      ${cfg.redis.host}:${cfg.redis.port}  (user cache in DB 12)`, `           e.g. sunbird_redis_host=${cfg.redis.host} sunbird_redis_port=${cfg.redis.port}`];
  },
};
