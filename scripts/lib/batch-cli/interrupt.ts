import { endCli } from './terminal.js'

/** What an interrupt says: set by the phase under way (submitting, cancelling, following). */
let whatNow: (() => string) | undefined

/**
 * Ctrl-C or a kill: what was sent goes on in the service, so the bar is stopped and `say` tells
 * what goes on and how to pick it up, and the CLI exits once its lines are written (endCli). Each
 * phase calls it with its own words; the handlers are installed once.
 */
export function exitOnInterrupt(say: () => string) {
  if (whatNow === undefined)
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      process.once(signal, () => endCli(code, `interrupted; ${whatNow?.()}`))
    }
  whatNow = say
}
