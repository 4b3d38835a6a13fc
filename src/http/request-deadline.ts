import type { MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'

/**
 * The request deadline: past `ms` the handler is abandoned and the caller gets the 503 of the
 * operation's dialect (a 504 HTTPException, which renderError answers as SERVICE_UNAVAILABLE), as
 * hono's timeout middleware does, with one difference. The rejection waits for the end of the
 * event loop's timers phase (setImmediate after its timer): on a loaded process many timers come due
 * in one turn, and Node runs them list by list (one list per duration), so a deletion's own answer
 * timer (answerByDeadline, due a little earlier) could run after this one. Then a deletion already
 * past its point of no return was answered "retry" (503) and carried out anyway; now its accepted
 * answer has always been given first.
 */
export function requestDeadline(ms: number): MiddlewareHandler {
  return async (_c, next) => {
    let timer: NodeJS.Timeout | undefined
    let immediate: NodeJS.Immediate | undefined
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        immediate = setImmediate(() => reject(new HTTPException(504, { message: 'Gateway Timeout' })))
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
