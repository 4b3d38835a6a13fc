// Processes, files and sockets: the small helpers every local server module shares.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class ServiceError extends Error {
  constructor(name, message, logTail = '') {
    super(`${name}: ${message}`);
    this.service = name;
    this.logTail = logTail;
  }
}

export function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return e.code === 'EPERM';
  }
  try {
    // A zombie still answers kill(0); treat it as dead once its last thread is gone. A JVM's main
    // thread turns zombie while other threads still exit and its sockets are still open.
    if (!/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))) return true;
    return fs.readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return !fs.existsSync('/proc/self'); // no /proc (not Linux): trust kill(0); else it just vanished
  }
}

function rssKiB(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Resident set size in MiB of a server this script started (Linux), or null: the sum over its
 * process group, since some launch through a wrapper (kc.sh runs Keycloak's JVM as a child).
 */
export function rssMiB(pid) {
  let total = 0;
  try {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
        if (pgrp === pid) total += rssKiB(entry);
      } catch {
        /* exited meanwhile */
      }
    }
  } catch {
    return null; // no /proc
  }
  return total ? Math.round(total / 1024) : null;
}

export function tcpConnect(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
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
export function tcpExchange(host, port, request, frameLength, timeoutMs = 1500) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
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
export function runToLog(name, cmd, args, { log, cwd, env, timeoutMs = 15 * 60_000 }) {
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

/** Run a short-lived command and resolve with its stdout (stderr joined on failure). */
export function runForOutput(cmd, args, { env, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(cmd)} ${signal ?? `exit ${code}`}: ${(err || out).trim().split('\n').slice(-5).join('\n')}`));
    });
  });
}

/** Spawn detached into its own process group (so stopping it reaches every process it started). */
export function startDetached(spec, logFd, pidFile) {
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
  if (child.pid) fs.writeFileSync(pidFile, `${child.pid}\n`);
  return { pid: child.pid, exited };
}

export function signalGroup(pid, signal) {
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

/** SIGTERM, then SIGKILL after `graceMs`; resolves 'stopped' or 'killed' once the process is gone. */
export async function stopPid(pid, graceMs) {
  if (graceMs > 0) {
    signalGroup(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (isAlive(pid) && Date.now() < deadline) await sleep(200);
  }
  if (isAlive(pid)) {
    signalGroup(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(100);
    return 'killed';
  }
  signalGroup(pid, 'SIGKILL'); // stragglers in the group (e.g. kc.sh's JVM), if any
  return 'stopped';
}
