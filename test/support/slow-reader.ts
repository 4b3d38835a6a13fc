import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** A command to spawn with its stdout behind a slow reader, and the handles a test needs on it. */
export interface BehindSlowReader {
  command: string
  args: string[]
  /** The command's own process id (not the reader's): to signal it as Ctrl-C or a kill would. */
  pid(): number
  /** Lets the reader start, `lagMs` later (half a second): long after a command that exits at once has exited. */
  release(): void
}

/**
 * Runs `command args` as `command args | tee log` does when tee is slow to take anything (a busy
 * disk): its stdout goes into a pipe nobody reads until `lagMs` after release() (10s after
 * the start at the latest, should the pipe hold the command up first), so the command has written
 * more than a pipe holds, and may have ended, before anything is read. Its stderr is the spawned
 * bash's, read as it comes; bash's stdout is what the reader passed on, its exit code the command's
 * (pipefail). The reader's files (the command's process id, the release) go in a folder made in `dir`.
 */
export function behindSlowReader(command: string, args: string[], dir: string, lagMs = 500): BehindSlowReader {
  const files = mkdtempSync(join(dir, 'slow-reader-'))
  const pidFile = join(files, 'pid')
  const releaseFile = join(files, 'release')
  const reader = `tries=0; until [ -e "$release" ] || [ $tries -ge 200 ]; do sleep 0.05; tries=$((tries + 1)); done; sleep ${lagMs / 1000}; exec cat`
  return {
    command: 'bash',
    // The pipe's left side writes its process id, then becomes the command.
    args: ['-o', 'pipefail', '-c', `pidfile=$1 release=$2; shift 2; { echo $BASHPID > "$pidfile"; exec "$@"; } | (${reader})`, 'bash', pidFile, releaseFile, command, ...args],
    pid: () => Number(readFileSync(pidFile, 'utf8').trim()),
    release: () => writeFileSync(releaseFile, ''),
  }
}
