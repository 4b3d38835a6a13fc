import type { Hono } from 'hono'
import type { ServiceMetrics } from '../../metrics/service-metrics.js'
import type { AppEnv } from '../app-env.js'
import { getOnly } from './get-only.js'

export const metricsPath = '/metrics'

/** Prometheus scrape endpoint. Unauthenticated like /health: keep it off the public gateway. */
export function registerMetrics(app: Hono<AppEnv>, metrics: ServiceMetrics): void {
  getOnly(app, metricsPath, async (c) => c.body(await metrics.render(), 200, { 'content-type': metrics.contentType }))
}
