import type cliProgress from 'cli-progress'
import { ending, exitAfterFlush } from '../exit-after-flush.js'

/** The progress bar while it is drawn: every way out stops it, or the terminal is left without a cursor. */
let bar: cliProgress.SingleBar | undefined

/** Records the bar just started, so every way out (fail, an interrupt, the end of a follow) stops it. */
export function holdBar(drawn: cliProgress.SingleBar) {
  bar = drawn
}

export function stopBar() {
  bar?.stop()
  bar = undefined
}

/** What fail throws, and a call once the CLI is ending: it stops the code under way; deletion-batch.ts lets it pass. */
export class CliEnding extends Error {}

/**
 * Every way out of the batch CLI (the end, fail, an interrupt): the bar stopped, `message` said on
 * stderr, the exit once every line is written. The first way out is the one said; later ones say nothing.
 */
export function endCli(code: number, message?: string) {
  if (ending()) return
  stopBar()
  if (message !== undefined) console.error(message)
  exitAfterFlush(code)
}

/** Ends the CLI with exit code 2: nothing (more) could be submitted or followed. Nothing after it runs while its lines are written. */
export function fail(message: string): never {
  endCli(2, message)
  throw new CliEnding()
}

/** Once the CLI is ending (an interrupt), no call starts and no answer is acted on while its last lines are written. */
export function stopIfEnding() {
  if (ending()) throw new CliEnding()
}
