import type { MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { FixedDeadlines } from '../shared/fixed-deadlines.js'
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
 * `answerBy` is set here, `answerMarginMs` before the deadline.
 */
export function requestDeadline(ms: number, answerMarginMs = 0): MiddlewareHandler<AppEnv> {
  // Every request's deadline is `ms` away: one timer serves them all, not one Node timer per request.
  const deadlines = new FixedDeadlines(ms)
  // A plain promise settled by whichever comes first, rather than Promise.race over an async
  // function: the same outcome with fewer promises, which every request pays for.
  return (c, next) => {
    // A deletion past its point of no return must answer before the deadline's 503 would.
    c.set('answerBy', new Date(Date.now() + Math.max(0, ms - answerMarginMs)))
    return new Promise<void>((resolve, reject) => {
      let immediate: NodeJS.Immediate | undefined
      const deadline = deadlines.add(() => {
        immediate = setImmediate(() => {
          if (!c.get('pastPointOfNoReturn')) reject(new HTTPException(504, { message: 'Gateway Timeout' }))
        })
      })
      const settle = () => {
        deadlines.cancel(deadline)
        if (immediate) clearImmediate(immediate)
      }
      next().then(
        () => {
          settle()
          resolve()
        },
        (err: unknown) => {
          settle()
          reject(err)
        },
      )
    })
  }
}
