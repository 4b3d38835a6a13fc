import type { Context, MiddlewareHandler } from 'hono'
import { type ChildLogger, lazyChildLogger } from '../logging/lazy-child-logger.js'
import type { Logger } from '../logging/logger.js'
import type { AppEnv } from './app-env.js'
import { apiIdForPath, pickMessageId } from './envelope.js'
import { watchHeaders } from './final-json-answer.js'
import { addGatewayCors } from './gateway-cors.js'
import { routeLabel } from './route-label.js'

/** Told of every answer, as the caller gets it, and how long it took (e.g. the request metrics). */
export type AnswerObserver = (c: Context<AppEnv>, seconds: number) => void

/**
 * First in the chain: the request id (msgid) every log line and envelope carries, the Sunbird api
 * id, the CORS header Sunbird sends on every answer, and one access-log line per request. The log
 * line has ids, route, status, code and latency only: no header, body or token. Lines written for
 * the request go through `c.get('log')`, a child of the logger that carries the msgid. Each
 * `observer` is told the answer here rather than by a middleware of its own: hono gives every
 * middleware an async dispatch, which each request would pay for.
 */
export function requestContext(logger: Logger, observers: readonly AnswerObserver[] = []): MiddlewareHandler<AppEnv> {
  /** After the answer: the CORS header, the observers, and the access-log line, through the request's logger. */
  function finish(c: Context<AppEnv>, log: ChildLogger, started: number): void {
    addGatewayCors(c)
    const elapsedMs = performance.now() - started
    for (const observe of observers) observe(c, elapsedMs / 1000)
    // Built only when it is written: below LOG_LEVEL=info the line costs nothing.
    if (!log.isLevelEnabled('info')) return
    // A caller's X-Request-Id that named a deletion already gives way to an id of the service's, which
    // the answer names: the line names it too, or an operator given that id finds nothing.
    const answeredId = c.res.headers.get('x-request-id')
    log.info(
      {
        method: c.req.method,
        route: routeLabel(c),
        status: c.res.status,
        err: c.res.status >= 400 ? (c.get('errCode') ?? 'unknown') : 'none',
        latencyMs: Math.round(elapsedMs * 100) / 100,
        ...(answeredId !== null && answeredId !== c.get('msgid') && { requestId: answeredId }),
      },
      'request',
    )
  }

  // A chained promise rather than an async function: one promise less on every request.
  return function context(c, next) {
    const started = performance.now()
    // First in the chain: from here on a header set through hono keeps the answer on hono's road.
    watchHeaders(c)
    const msgid = pickMessageId(c.req.header('x-request-id'), c.req.header('x-msgid'))
    // Made on its first line: a request refused below LOG_LEVEL=info writes none.
    const log = lazyChildLogger(logger, { msgid })
    c.set('msgid', msgid)
    c.set('apiId', apiIdForPath(c.req.path))
    c.set('log', log)
    return next().then(() => finish(c, log, started))
  }
}
