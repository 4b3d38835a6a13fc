import type { MiddlewareHandler } from 'hono'
import type { Logger } from '../logging/logger.js'
import type { AppEnv } from './app-env.js'
import { apiIdForPath, pickMessageId } from './envelope.js'

/**
 * First in the chain: the request id (msgid) every log line and envelope carries, the Sunbird api
 * id, the CORS header Sunbird sends on every answer, and one access-log line per request. The log
 * line has ids, route, status, code and latency only: no header, body or token.
 */
export function requestContext(logger: Logger): MiddlewareHandler<AppEnv> {
  return async function context(c, next) {
    const started = performance.now()
    const msgid = pickMessageId(c.req.header('x-request-id'), c.req.header('x-msgid'))
    const log = logger.child({ msgid })
    c.set('msgid', msgid)
    c.set('apiId', apiIdForPath(c.req.path))
    c.set('log', log)
    await next()
    c.res.headers.set('Access-Control-Allow-Origin', '*')
    log.info(
      {
        method: c.req.method,
        route: c.req.routePath,
        status: c.res.status,
        ...(c.res.status >= 400 && { err: c.get('errCode') }),
        latencyMs: Math.round((performance.now() - started) * 100) / 100,
      },
      'request',
    )
  }
}
