import type { Hono } from 'hono'
import type { AppEnv } from '../app-env.js'
import { sendOk, successEnvelope } from '../envelope.js'
import { errorCodes, type ErrorCode } from '../error-codes.js'
import type { RouteMeta } from './route-meta.js'

export interface ReadinessCheck {
  name: string
  healthy: boolean
}

export interface HealthDeps {
  /** Dependency checks for /ready, each bounded in time by its implementation. */
  checkReadiness(): Promise<ReadinessCheck[]>
  /** Retry-After on a 503, as on every other 503 of the service. */
  retryAfterSeconds: number
}

export const healthRoute = {
  apiId: 'api.health',
  method: 'GET',
  paths: ['/health'],
  summary: 'Liveness: the process answers',
  description: 'Touches no dependency, so an orchestrator never restarts the service because Cassandra or Keycloak is down.',
  responseSchema: 'health.response',
  errors: ['SERVER_ERROR'] satisfies ErrorCode[],
  authenticated: false,
} as const satisfies RouteMeta

export const readyRoute = {
  apiId: 'api.ready',
  method: 'GET',
  paths: ['/ready'],
  summary: 'Readiness: Cassandra answers, its schema is current, realm keys are loaded',
  description:
    'Each check is listed in `result.checks`: `cassandra`, `cassandra schema`, `realm keys`, and when configured `search` (the engine answers), `search index` (`user_alias` exists) and `redis`. When one fails the answer is 503 with the same envelope, `FAILED` and `UOS_USRDLT0064`.',
  responseSchema: 'health.response',
  errors: ['SERVICE_UNAVAILABLE', 'SERVER_ERROR'] satisfies ErrorCode[],
  errorSchemas: { SERVICE_UNAVAILABLE: 'health.response' },
  authenticated: false,
} as const satisfies RouteMeta

const name = 'sunbird-user-delete'

/**
 * /health: the process is alive (no dependency touched, so an orchestrator never restarts us for
 * Cassandra's sake). /ready: Cassandra answers, the schema is current, realm keys are loaded.
 * Both answer Sunbird's envelope in the shape of Sunbird's own health check.
 */
export function registerHealth(app: Hono<AppEnv>, deps: HealthDeps): void {
  app.get(healthRoute.paths[0], (c) => sendOk(c, healthRoute.apiId, { name, healthy: true, checks: [] }))
  app.get(readyRoute.paths[0], async (c) => {
    const checks = await deps.checkReadiness()
    if (checks.every((check) => check.healthy)) return sendOk(c, readyRoute.apiId, { name, healthy: true, checks })
    // Not the error envelope: the probe's reader wants to see which check failed.
    const unavailable = errorCodes.SERVICE_UNAVAILABLE
    const body = successEnvelope(readyRoute.apiId, c.get('msgid'), { name, healthy: false, checks })
    body.params.status = 'FAILED'
    body.params.err = unavailable.err
    body.params.errmsg = unavailable.errmsg
    body.responseCode = unavailable.responseCode
    c.set('errCode', unavailable.err)
    c.header('Retry-After', String(deps.retryAfterSeconds))
    return c.json(body, unavailable.status)
  })
}
