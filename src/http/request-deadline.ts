import type { MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { AppEnv } from './app-env.js'

/**
 * The request deadline: past `ms` the handler is abandoned and the caller gets the 503 of the
 * operation's dialect (a 504 HTTPException, which renderError answers as SERVICE_UNAVAILABLE), as
 * hono's timeout middleware does, with one difference. The rejection waits for the end of the
 * event loop's timers phase (setImmediate after its timer): on a loaded process many timers come due
 * in one turn, and Node runs them list by list (one list per duration), so a deletion's own answer
 * timer (answerByDeadline, due a little earlier) could run after this one. Then a deletion already
 * past its point of no return was answered "retry" (503) and carried out anyway; now its accepted
 * answer has always been given first. And once a deletion has said it passed that point
 * (`pastPointOfNoReturn`), the deadline does not answer at all: on a saturated process the accepted
 * answer may take longer than the margin between the two timers to render, and "retry" would then
 * still be a lie. The handler answers by `answerBy` (see answerByDeadline), so nothing hangs.
 */
export function requestDeadline(ms: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let timer: NodeJS.Timeout | undefined
    let immediate: NodeJS.Immediate | undefined
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        immediate = setImmediate(() => {
          if (!c.get('pastPointOfNoReturn')) reject(new HTTPException(504, { message: 'Gateway Timeout' }))
        })
      }, ms)
    })
    try {
      await Promise.race([next(), expired])
    } finally {
      clearTimeout(timer)
      if (immediate) clearImmediate(immediate)
    }
  }
}
