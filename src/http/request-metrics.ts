import type { MiddlewareHandler } from 'hono'
import type { ServiceMetrics } from '../metrics/service-metrics.js'
import type { AppEnv } from './app-env.js'
import { routeLabel } from './route-label.js'

/**
 * Counts and times every answer by route, status and Sunbird err code ("none" on success). It sits
 * outside the deadline and error handling, so it sees the answer the caller got.
 */
export function requestMetrics(metrics: ServiceMetrics): MiddlewareHandler<AppEnv> {
  // A chained promise, not an async function: one promise less on every request (see request-context.ts).
  return function measure(c, next) {
    const started = performance.now()
    return next().then(() => {
      const status = c.res.status
      metrics.observeRequest(
        { method: c.req.method, route: routeLabel(c), status: String(status), err: status >= 400 ? (c.get('errCode') ?? 'unknown') : 'none' },
        (performance.now() - started) / 1000,
      )
    })
  }
}
