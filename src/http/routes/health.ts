import type { Hono } from 'hono'
import type { AppEnv } from '../app-env.js'
import { successEnvelope } from '../envelope.js'

export interface ReadinessCheck {
  name: string
  healthy: boolean
}

export interface HealthDeps {
  /** Dependency checks for /ready, each bounded in time by its implementation. */
  checkReadiness(): Promise<ReadinessCheck[]>
}

export const healthRoutes = {
  health: { apiId: 'api.health', path: '/health' },
  ready: { apiId: 'api.ready', path: '/ready' },
} as const

/**
 * /health: the process is alive (no dependency touched, so an orchestrator never restarts us for
 * Cassandra's sake). /ready: Cassandra answers, the schema is current, realm keys are loaded.
 * Both answer Sunbird's envelope in the shape of Sunbird's own health check.
 */
export function registerHealth(app: Hono<AppEnv>, deps: HealthDeps): void {
  app.get(healthRoutes.health.path, (c) =>
    c.json(successEnvelope(healthRoutes.health.apiId, c.get('msgid'), { name: 'sunbird-user-delete', healthy: true, checks: [] }), 200),
  )
  app.get(healthRoutes.ready.path, async (c) => {
    const checks = await deps.checkReadiness()
    const healthy = checks.every((check) => check.healthy)
    const body = successEnvelope(healthRoutes.ready.apiId, c.get('msgid'), { name: 'sunbird-user-delete', healthy, checks })
    if (!healthy) {
      body.params.status = 'FAILED'
      body.params.err = 'UOS_USRDLT0064'
      body.params.errmsg = 'SERVICE UNAVAILABLE'
      body.responseCode = 'SERVICE_UNAVAILABLE'
    }
    return c.json(body, healthy ? 200 : 503)
  })
}
