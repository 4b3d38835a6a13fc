// On a pipe (a log, `| tee`) Node writes stdout and stderr behind the process: what the reader has
// not taken yet waits in Node, and process.exit drops it (a long list, the last line, the key to
// resume with). The operator CLIs end here instead.

// A reader gone (`| head` that has read its lines, a log closed) fails the next write with EPIPE,
// emitted as an 'error' that, unheard, ends the CLI at once with a stack trace and exit 1 (what
// audit:verify says of a broken chain, deletion:verify of residue). Nothing more can reach that
// reader: its lines are dropped, and the CLI goes on to its own end and exit code.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined)

/** The code the process ends with, once exitAfterFlush is called. */
let endingWith: number | undefined

/** Whether the process is ending (exitAfterFlush called): nothing more is started or said. */
export const ending = () => endingWith !== undefined

/**
 * Ends the process with `code` once everything written so far to stdout and stderr is written; a
 * reader gone (EPIPE) counts as written, nothing more can be. The first call decides the code, later ones change nothing.
 */
export function exitAfterFlush(code: number): void {
  if (endingWith !== undefined) return
  endingWith = code
  let open = 2
  for (const stream of [process.stdout, process.stderr]) {
    let written = false
    const done = () => {
      if (written) return
      written = true
      open -= 1
      if (open === 0) process.exit(code)
    }
    stream.on('error', done)
    // Called once every write before it is done: the stream writes in order.
    stream.write('', done)
  }
}

/**
 * A second way out while the lines are written (the operator's Ctrl-C, a supervisor's kill, when
 * the reader has stalled): the process ends at once with the code already decided, dropping what is
 * still unwritten, as a kill asks.
 */
export function exitNow(): never {
  process.exit(endingWith ?? 1)
}
