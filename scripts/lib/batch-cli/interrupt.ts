import { ending, exitNow } from '../exit-after-flush.js'
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
      // Already ending (its lines waiting on a stalled reader): the signal ends it now, not on a second one.
      process.once(signal, () => (ending() ? exitNow() : endCli(code, `interrupted; ${whatNow?.()}`)))
    }
  whatNow = say
}
