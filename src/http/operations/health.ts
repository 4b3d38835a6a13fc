import { ApiError } from '../api-error.js'
import { noPreflight } from '../cors.js'
import { noCredentials } from '../credentials/no-credentials.js'
import { sunbirdEnvelope } from '../dialects/sunbird-envelope.js'
import { defineOperation } from '../operation.js'

const name = 'sunbird-user-delete'

/** The process is alive. Touches no dependency, so an orchestrator never restarts us for Cassandra's sake. */
export const health = defineOperation({
  id: 'api.health',
  method: 'GET',
  paths: ['/health'],
  summary: 'Liveness: the process answers',
  description: 'Touches no dependency, so an orchestrator never restarts the service because Cassandra or Keycloak is down.',
  tag: 'operations',
  credentials: noCredentials,
  request: {},
  responseSchema: 'health.response',
  // Its own 405 in the document (Allow: GET, its own id): the shared MethodNotAllowed shows a POST route's.
  errors: ['METHOD_NOT_ALLOWED', 'PAYLOAD_TOO_LARGE', 'SERVER_ERROR'],
  dialect: sunbirdEnvelope,
  cors: noPreflight,
  async handle() {
    return { name, healthy: true, checks: [] }
  },
})

/** Cassandra answers, its schema is current, realm keys are loaded, and Sunbird's search engine and user cache answer when configured; in the shape of Sunbird's own health check. */
export const ready = defineOperation({
  id: 'api.ready',
  method: 'GET',
  paths: ['/ready'],
  summary: 'Readiness: Cassandra answers, its schema is current, realm keys are loaded',
  description:
    'Each check is listed in `result.checks`: `cassandra`, `cassandra schema`, `realm keys`, and when configured `search` (the engine answers), `search index` (`user_alias` exists) and `redis`. When one fails the answer is 503 with the same envelope, `FAILED` and `UOS_USRDLT0064`.',
  tag: 'operations',
  credentials: noCredentials,
  request: {},
  responseSchema: 'health.response',
  errors: ['METHOD_NOT_ALLOWED', 'PAYLOAD_TOO_LARGE', 'SERVICE_UNAVAILABLE', 'SERVER_ERROR'],
  errorSchemas: { SERVICE_UNAVAILABLE: 'health.response' },
  dialect: sunbirdEnvelope,
  cors: noPreflight,
  async handle(_input, services) {
    const checks = await services.checkReadiness()
    const result = { name, healthy: checks.every((check) => check.healthy), checks }
    // The probe's reader wants to see which check failed: the 503 carries the checks.
    if (!result.healthy) throw new ApiError('SERVICE_UNAVAILABLE', { reason: 'a readiness check failed', result })
    return result
  },
})
