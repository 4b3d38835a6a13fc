import type cliProgress from 'cli-progress'

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

/** Ends the CLI with exit code 2: nothing (more) could be submitted or followed. */
export function fail(message: string): never {
  stopBar()
  console.error(message)
  process.exit(2)
}
