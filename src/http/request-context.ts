import type { Context, MiddlewareHandler } from 'hono'
import type { Logger } from '../logging/logger.js'
import type { AppEnv } from './app-env.js'
import { apiIdForPath, pickMessageId } from './envelope.js'
import { routeLabel } from './route-label.js'

/**
 * First in the chain: the request id (msgid) every log line and envelope carries, the Sunbird api
 * id, the CORS header Sunbird sends on every answer, and one access-log line per request. The log
 * line has ids, route, status, code and latency only: no header, body or token. Lines written for
 * the request go through `c.get('log')`, a child of the logger that carries the msgid.
 */
export function requestContext(logger: Logger): MiddlewareHandler<AppEnv> {
  /** After the answer: the CORS header and the access-log line, through the request's logger. */
  function finish(c: Context<AppEnv>, log: Logger, started: number): void {
    // Sunbird's gateway sends it on every answer; an operation with a CORS policy of its own sets it itself.
    if (!c.res.headers.has('Access-Control-Allow-Origin') && !c.get('credentialedCors')) c.res.headers.set('Access-Control-Allow-Origin', '*')
    // Built only when it is written: below LOG_LEVEL=info the line costs nothing.
    if (!log.isLevelEnabled('info')) return
    log.info(
      {
        method: c.req.method,
        route: routeLabel(c),
        status: c.res.status,
        err: c.res.status >= 400 ? (c.get('errCode') ?? 'unknown') : 'none',
        latencyMs: Math.round((performance.now() - started) * 100) / 100,
      },
      'request',
    )
  }

  // A chained promise rather than an async function: one promise less on every request.
  return function context(c, next) {
    const started = performance.now()
    const msgid = pickMessageId(c.req.header('x-request-id'), c.req.header('x-msgid'))
    const log = logger.child({ msgid })
    c.set('msgid', msgid)
    c.set('apiId', apiIdForPath(c.req.path))
    c.set('log', log)
    return next().then(() => finish(c, log, started))
  }
}
