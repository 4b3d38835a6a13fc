import type { Context } from 'hono'
import type { ServiceMetrics } from '../metrics/service-metrics.js'
import type { AppEnv } from './app-env.js'
import type { AnswerObserver } from './request-context.js'
import { routeLabel } from './route-label.js'

/**
 * Counts and times every answer by route, status and Sunbird err code ("none" on success). The
 * request context tells it each answer once the deadline and the error road are behind it, so it
 * sees the answer the caller got.
 */
export function requestMetrics(metrics: ServiceMetrics): AnswerObserver {
  return function countAnswer(c: Context<AppEnv>, seconds: number): void {
    const status = c.res.status
    metrics.observeRequest({ method: c.req.method, route: routeLabel(c), status: String(status), err: status >= 400 ? (c.get('errCode') ?? 'unknown') : 'none' }, seconds)
  }
}
