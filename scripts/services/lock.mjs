// One `up` at a time per run folder, across processes (a lock file) and within one process (a promise chain).
import fs from 'node:fs';
import path from 'node:path';
import { isAlive, sleep } from './process.mjs';

let inProcessLock = Promise.resolve();

export async function withLock(runDir, log, fn) {
  const previous = inProcessLock;
  let releaseInProcess;
  inProcessLock = new Promise((resolve) => (releaseInProcess = resolve));
  await previous;
  try {
    return await withFileLock(path.join(runDir, '.lock'), log, fn);
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
