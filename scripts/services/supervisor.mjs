// Starting, reusing, stopping and reporting the members of each service (see members.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { isAlive, ServiceError, sleep, startDetached, stopPid, tail, tcpConnect } from './process.mjs';

/** The pid from the member's pid file if that process is alive and really is that member (pids get recycled). */
export function ownPid(cfg, svc, m) {
  let pid;
  try {
    pid = Number.parseInt(fs.readFileSync(m.pidFile, 'utf8'), 10);
  } catch {
    return null;
  }
  if (!pid || !isAlive(pid)) return null;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    const owns = svc.owns ? svc.owns(cfg, m, cmdline) : cmdline.includes(m.dir);
    if (!owns) return null;
  } catch {
    /* no /proc: trust the pid file */
  }
  return pid;
}

const shown = (file) => {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
};

async function waitReady(cfg, svc, m, { pid, exited, started, deadline }) {
  for (;;) {
    if (await svc.ready(cfg, m, started)) return;
    const gone = exited ? exited.code !== undefined : !isAlive(pid);
    if (gone) {
      throw new ServiceError(m.label, `exited before answering${exited ? ` (${exited.code})` : ''}, see ${m.log}`, tail(m.log));
    }
    if (Date.now() > deadline) {
      const logTail = tail(m.log);
      if (started) {
        await stopPid(pid, 10_000); // don't leave a half-started server holding the ports
        fs.rmSync(m.pidFile, { force: true });
      }
      throw new ServiceError(m.label, `did not answer within ${svc.budgetMs(cfg) / 1000} s, see ${m.log}`, logTail);
    }
    await sleep(500);
  }
}

/**
 * The member's ports something still accepts connections on, after giving them a few seconds: a
 * server just stopped (e.g. the other layout on the same ports) may still hold one briefly.
 */
async function busyPorts(cfg, svc, m, graceMs = 20_000) {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const busy = [];
    for (const { host, port } of svc.ports(cfg, m)) if (await tcpConnect(host, port)) busy.push(`${host}:${port}`);
    if (!busy.length || Date.now() > deadline) return busy;
    await sleep(500);
  }
}

/** Start one member unless it already answers; resolves { label, host, state, pid, seconds }. */
export async function upMember(cfg, svc, m, log) {
  const t0 = Date.now();
  const budget = svc.budgetMs(cfg);
  fs.mkdirSync(m.dir, { recursive: true });
  let state = 'reused';
  let pid = ownPid(cfg, svc, m);
  if (!(await svc.probe(cfg, m))) {
    if (pid) {
      // Started earlier (e.g. an interrupted `up`) and still booting: wait for it, never start a second one.
      log(`${m.label}: pid ${pid} is still starting, waiting`);
      await waitReady(cfg, svc, m, { pid, started: true, deadline: Date.now() + budget });
      state = 'waited';
    } else {
      const busy = await busyPorts(cfg, svc, m);
      if (busy.length) throw new ServiceError(m.label, `${busy.join(', ')} in use by another process that is not a working ${svc.name}`);
      const installLog = path.join(cfg.runDir, svc.name, 'install.log');
      if (await svc.install(cfg, installLog)) log(`${svc.name}: installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const t1 = Date.now();
      if (fs.existsSync(m.log)) fs.renameSync(m.log, `${m.log}.prev`);
      const spec = await svc.prepare(cfg, m);
      const logFd = fs.openSync(m.log, 'a');
      let child;
      try {
        log(`${m.label}: starting (log ${shown(m.log)})`);
        child = startDetached(spec, logFd, m.pidFile);
      } finally {
        fs.closeSync(logFd);
      }
      pid = child.pid;
      await waitReady(cfg, svc, m, { ...child, started: true, deadline: t1 + budget });
      state = 'started';
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  if (state !== 'reused') log(`${m.label}: up in ${seconds.toFixed(1)} s (pid ${pid})`);
  return { label: m.label, host: m.host, state, pid: pid ?? null, seconds };
}

/** Stop one member if this script started it; `signal: 'SIGKILL'` kills it at once (failure tests). */
export async function stopMember(cfg, svc, m, { signal = 'SIGTERM' } = {}) {
  const pid = ownPid(cfg, svc, m);
  let state = 'not running';
  if (pid) state = await stopPid(pid, signal === 'SIGKILL' ? 0 : svc.stopGraceMs);
  fs.rmSync(m.pidFile, { force: true });
  return { label: m.label, host: m.host, state, pid };
}

/** Members of the other layout (single vs cluster) that this script started: they hold the same ports. */
function otherLayout(cfg, svc) {
  const wanted = new Set(svc.members(cfg).map((m) => m.dir));
  return svc.allMembers(cfg).filter((m) => !wanted.has(m.dir) && ownPid(cfg, svc, m));
}

/** Bring a whole service up: the other layout stopped first, then the members, then the service's own readiness (ring, topic). */
export async function upService(cfg, svc, log) {
  const t0 = Date.now();
  const others = otherLayout(cfg, svc);
  if (others.length) {
    log(`${svc.name}: stopping the ${others[0].topology} layout first (${others.map((m) => m.host).join(', ')}), its data stays`);
    await Promise.all(others.map((m) => stopMember(cfg, svc, m)));
  }
  const members = svc.members(cfg);
  const results = [];
  if (svc.seedFirst && members.length > 1) {
    results.push(await upMember(cfg, svc, members[0], log));
    results.push(...(await Promise.all(members.slice(1).map((m) => upMember(cfg, svc, m, log)))));
  } else {
    results.push(...(await Promise.all(members.map((m) => upMember(cfg, svc, m, log)))));
  }
  if (svc.afterReady) await svc.afterReady(cfg, Date.now() + svc.budgetMs(cfg) * Math.max(1, members.length), log);
  const seconds = (Date.now() - t0) / 1000;
  const state = results.every((r) => r.state === 'reused') ? 'reused' : results.some((r) => r.state === 'started') ? 'started' : 'waited';
  if (members.length > 1 && state !== 'reused') log(`${svc.name}: ${members.length} members ready in ${seconds.toFixed(1)} s`);
  return { name: svc.name, state, pid: results[0].pid, port: svc.port(cfg), seconds, topology: svc.topology(cfg), members: results };
}
