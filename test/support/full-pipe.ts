import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { projectRoot } from '../../src/config/project-root.js'

export interface FullPipeRun {
  /** The command's exit code; null when it did not end within the limit and was killed. */
  code: number | null
  /** Its stdout and stderr, as the reader took them (the filler's bytes left out). */
  out: string
}

/**
 * The reader: it waits while the command runs and works (it starts up), and takes what is in the
 * pipe once the command has ended, or has used no CPU for a second (it waits for its lines to be
 * written), or after 30 s. The command's CPU time counts its children: tsx runs the script in one.
 */
const READER = [
  'until [ -s "$pidfile" ]; do sleep 0.02; done',
  'read -r pid < "$pidfile"',
  'last=-1; idle=0; tries=0',
  'while [ -e "/proc/$pid" ] && [ $idle -lt 10 ] && [ $tries -lt 300 ]; do',
  '  sleep 0.1; tries=$((tries + 1)); now=0; kids=',
  '  read -r kids < "/proc/$pid/task/$pid/children" 2>/dev/null',
  '  for p in $pid $kids; do read -r -a fields < "/proc/$p/stat" 2>/dev/null && now=$((now + fields[13] + fields[14])); done',
  '  if [ $now = $last ]; then idle=$((idle + 1)); else idle=0; fi; last=$now',
  'done',
  'exec cat',
].join('\n')

/**
 * Runs `command args` with stdout and stderr in one pipe that is full before the command writes
 * anything, as `| tee log` behind a busy disk is once earlier lines are waiting in it: another writer
 * (NUL bytes) filled it, and nobody reads it while the command runs (READER). What the command writes
 * then waits in Node: a command that exits at once drops it, one that waits until its lines are
 * written has them all read. The exit code is the command's (pipefail).
 */
export function runBehindFullPipe(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<FullPipeRun> {
  const dir = mkdtempSync(join(tmpdir(), 'full-pipe-'))
  const script = [
    'pidfile=$1; shift',
    // The pipe's left side writes its process id, starts the filler, then becomes the command.
    `{ echo $BASHPID > "$pidfile"; head -c 1048576 /dev/zero 2>/dev/null & exec "$@" 2>&1; } | (${READER})`,
  ].join('\n')
  const child = spawn('bash', ['-o', 'pipefail', '-c', script, 'bash', join(dir, 'pid'), command, ...args], {
    cwd: projectRoot,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
    // Its own process group, so the limit kills the command and the filler too.
    detached: true,
  })
  const chunks: Buffer[] = []
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
  const limit = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, 'SIGKILL'), 45_000)
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(limit)
      rmSync(dir, { recursive: true, force: true })
      resolve({ code, out: Buffer.concat(chunks).toString('utf8').replaceAll('\0', '') })
    }),
  )
}
