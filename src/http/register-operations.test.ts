import { Ajv2020 } from 'ajv/dist/2020.js'
import { describe, expect, it } from 'vitest'
import { createApp } from '../app.js'
import { createLogger } from '../logging/logger.js'
import { createServiceMetrics } from '../metrics/service-metrics.js'
import { createSchemaRegistry, type JsonSchema, readSchemas, type SchemaRegistry } from '../schemas/schema-registry.js'
import type { SchemaId } from '../schemas/schema-types.js'
import { ApiError } from './api-error.js'
import { credentialedCors, noPreflight, portalCors } from './cors.js'
import type { CredentialScheme, Verifiers } from './credentials/credential-scheme.js'
import { noCredentials } from './credentials/no-credentials.js'
import type { Dialect } from './dialect.js'
import { sunbirdEnvelope } from './dialects/sunbird-envelope.js'
import { errorEntry } from './error-codes.js'
import { buildOpenApiDocument } from './openapi.js'
import { defineOperation, type Operation } from './operation.js'
import { operations } from './operations/index.js'
import { InMemoryIdempotencyKeys } from '../../test/support/fakes/in-memory-idempotency-keys.js'
import { unusedServices } from '../../test/support/unused-services.js'

const services = unusedServices

/** The real app factory, over services and verifiers the tests below never reach. */
function appServing(served: readonly Operation[] = operations, schemas: SchemaRegistry = createSchemaRegistry(), requestTimeoutMs = 5000) {
  return createApp(
    {
      ...services,
      ...({ sessionCookie: { name: 'neptun-session', allowedOrigins: ['https://app.example'], secure: false } } as unknown as Verifiers),
      logger: createLogger('silent'),
      schemas,
      maxBodyBytes: 1024,
      requestTimeoutMs,
      retryAfterSeconds: 7,
      metrics: createServiceMetrics(),
      idempotency: { keys: new InMemoryIdempotencyKeys(), inFlightSeconds: 30 },
    },
    served,
  )
}

type Envelope = { id: string; params: { err: string } }

describe('routes derived from the operation list', () => {
  const app = appServing()
  const otherMethod = (method: string) => (method === 'GET' ? 'POST' : 'GET')

  const inDialect = (name: string) => operations.filter((operation) => operation.dialect.name === name).flatMap((operation) => operation.paths.map((path) => [path, operation] as const))

  it.each(inDialect('sunbird-envelope'))('when %s is called with a method it does not serve, then 405 with Allow, in its own envelope id', async (path, operation) => {
    const response = await app.request(path, { method: otherMethod(operation.method) })
    const body = (await response.json()) as Envelope

    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe(operation.cors.preflight ? `${operation.method}, OPTIONS` : operation.method)
    expect(body.params.err).toBe(errorEntry('METHOD_NOT_ALLOWED').err)
    expect(body.id).toBe(operation.id)
  })

  it.each(operations.filter((operation) => operation.dialect.name !== 'sunbird-envelope').flatMap((operation) => operation.paths.map((path) => [path, operation] as const)))(
    'when %s (another API’s dialect) is called with a method it does not serve, then 405 with Allow, in that dialect, with X-Request-Id',
    async (path, operation) => {
      const concrete = path.replace(/:[a-z_]+/, '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41')
      const response = await app.request(concrete, { method: 'POST', headers: { 'x-request-id': 'caller-chosen-id' } })
      const body = (await response.json()) as Record<string, unknown>

      expect(response.status).toBe(405)
      expect(response.headers.get('allow')).toBe(operation.cors.preflight ? `${operation.method}, OPTIONS` : operation.method)
      expect(response.headers.get('x-request-id')).toBe('caller-chosen-id')
      expect(body).not.toHaveProperty('params')
      expect(JSON.stringify(body)).toMatch(/not allowed|Not Allowed/i)
    },
  )

  it('when a path whose operation asks for a preflight gets OPTIONS, then 204 with the methods and the headers of its credential scheme', async () => {
    const response = await app.request('/api/user/v1/delete/status', { method: 'OPTIONS' })

    expect(response.status).toBe(204)
    expect(response.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS')
    expect(response.headers.get('access-control-allow-headers')).toBe(
      'Content-Type, Authorization, X-Authenticated-User-Token, X-Authenticated-For, X-Request-ID, X-msgId, X-Channel-Id, X-Device-Id, X-App-Id',
    )
    expect(response.headers.get('access-control-max-age')).toBe('600')
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
  })

  it('when the delete path gets a preflight that names no new header, then it allows exactly the headers Sunbird callers always got', async () => {
    const response = await app.request('/api/user/v1/delete', { method: 'OPTIONS', headers: { 'access-control-request-headers': 'content-type, authorization' } })

    expect(response.headers.get('access-control-allow-headers')).toBe(
      'Content-Type, Authorization, X-Authenticated-User-Token, X-Authenticated-For, X-Request-ID, X-msgId, X-Channel-Id, X-Device-Id, X-App-Id',
    )
  })

  it.each(['/api/user/v1/delete', '/api/user/v1/delete/batch'])('when a browser asks to send Idempotency-Key on %s, then its preflight allows it', async (path) => {
    const response = await app.request(path, { method: 'OPTIONS', headers: { 'access-control-request-headers': 'content-type, idempotency-key' } })

    expect(response.headers.get('access-control-allow-headers')?.split(', ')).toContain('Idempotency-Key')
  })

  const restPreflights = operations
    .filter((operation) => operation.dialect.name !== 'sunbird-envelope' && operation.cors.preflight)
    .flatMap((operation) => operation.paths.map((path) => [path.replace(/:[a-z_]+/, '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41')]))

  it.each(restPreflights)('when the REST path %s gets a preflight, then it carries X-Request-Id like every answer there: the caller’s own when sent, else a fresh one', async (path) => {
    const own = await app.request(path, { method: 'OPTIONS', headers: { 'x-request-id': 'caller-chosen-id', 'access-control-request-method': 'DELETE' } })
    const fresh = await app.request(path, { method: 'OPTIONS', headers: { 'access-control-request-method': 'DELETE' } })

    expect([own.status, own.headers.get('x-request-id')]).toEqual([204, 'caller-chosen-id'])
    expect([fresh.status, fresh.headers.get('x-request-id')]).toEqual([204, expect.stringMatching(/^[0-9a-f-]{36}$/)])
  })

  it('when the session path gets a preflight from an allowed origin, then X-Request-Id rides along with its credentialed CORS', async () => {
    const response = await app.request('/api/users/5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'x-request-id': 'caller-chosen-id' } })

    expect(response.headers.get('x-request-id')).toBe('caller-chosen-id')
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(response.headers.get('access-control-allow-credentials')).toBe('true')
  })

  it.each([
    ['an origin not allowed', { origin: 'https://other.example' }],
    ['no Origin', {}],
  ])('when the session path is called with %s, then its answer and its preflight carry Vary: Origin and no CORS grant (docs/integrating.md)', async (_name, headers) => {
    const path = '/api/users/5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'

    for (const method of ['DELETE', 'OPTIONS']) {
      const response = await app.request(path, { method, headers })

      expect(response.headers.get('vary'), method).toBe('Origin')
      expect(response.headers.get('access-control-allow-origin'), method).toBeNull()
      expect(response.headers.get('access-control-allow-credentials'), method).toBeNull()
    }
  })

  it.each(inDialect('sunbird-envelope').filter(([, operation]) => operation.cors.preflight))(
    'when the Sunbird path %s gets a preflight, then its answer is as its callers always got it: no X-Request-Id',
    async (path) => {
      const response = await app.request(path, { method: 'OPTIONS', headers: { 'x-request-id': 'caller-chosen-id' } })

      expect(response.status).toBe(204)
      expect(response.headers.get('x-request-id')).toBeNull()
    },
  )

  it('when a probe path gets OPTIONS, then it is a method it does not serve (no preflight)', async () => {
    const response = await app.request('/health', { method: 'OPTIONS' })

    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('GET')
  })

  it('when an operation needs a larger body than HTTP_MAX_BODY_BYTES (a batch of 1000 long ids), then it reads up to its own limit and its 413 names that limit; the others keep the configured one', async () => {
    const body = (bytes: number) => JSON.stringify({ request: { userIds: ['x'.repeat(bytes)] } })
    const post = (path: string, text: string) => app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text })

    const batchWithinItsLimit = await post('/api/user/v1/delete/batch', body(200_000))
    const batchOverItsLimit = await post('/api/user/v1/delete/batch', body(300_000))
    const singleOverTheConfigured = await post('/api/user/v1/delete', body(2_000))

    // Read whole, so the credentials are what refuses it (none were sent).
    expect(batchWithinItsLimit.status).toBe(401)
    expect(batchOverItsLimit.status).toBe(413)
    expect(((await batchOverItsLimit.json()) as { params: { errmsg: string } }).params.errmsg).toBe('Maximum upload data size should be 262144')
    expect(singleOverTheConfigured.status).toBe(413)
    expect(((await singleOverTheConfigured.json()) as { params: { errmsg: string } }).params.errmsg).toBe('Maximum upload data size should be 1024')
  })

  it("when a REST dialect's route answers, then a browser script may read its request id, Retry-After, WWW-Authenticate and Idempotent-Replayed; a Sunbird route's answer exposes nothing new", async () => {
    const rest = await app.request('/api/v2/user/5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41/', { method: 'DELETE' })
    const session = await app.request('/api/users/5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41', { method: 'DELETE' })
    const sunbird = await app.request('/api/user/v1/delete', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })

    for (const answer of [rest, session]) expect(answer.headers.get('access-control-expose-headers')).toBe('X-Request-Id, Retry-After, WWW-Authenticate, Idempotent-Replayed')
    expect(rest.headers.get('x-request-id')).not.toBeNull()
    expect(sunbird.headers.get('access-control-expose-headers')).toBeNull()
  })

  it('when no operation has the path, then 404 in the default dialect with an id derived from the path', async () => {
    const response = await app.request('/api/user/v9/remove', { method: 'POST' })
    const body = (await response.json()) as Envelope

    expect(response.status).toBe(404)
    expect(body.params.err).toBe('UOS_APINOTFOUND')
    expect(body.id).toBe('api.user.v9.remove')
  })
})

// A dialect of another API (REST, `{"detail": …}`), a credential scheme of its own and a path
// parameter: what the next operations need, proven on a test operation.
const PARAMS_ID = 'test-user.params' as SchemaId
const paramsSchema: JsonSchema = {
  $id: PARAMS_ID,
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$', 'x-error-codes': { pattern: 'INVALID_USER_ID' } } },
}

const detailDialect: Dialect<{ deleted: string }> = {
  name: 'detail',
  success(c, _operation, result) {
    c.header('x-deleted', result.deleted)
    return c.body(null, 204)
  },
  error(c, { entry, errmsg }) {
    return c.json({ detail: errmsg }, entry.status)
  },
  docs: {
    success: () => ({ 204: { description: 'Deleted; no body.' } }),
    errors: (codes) =>
      Object.fromEntries(
        codes.map((code) => [String(errorEntry(code).status), { description: errorEntry(code).errmsg, content: { 'application/json': { schema: { type: 'object', required: ['detail'] } } } }]),
      ),
  },
}

const bearerOnly: CredentialScheme<{ userId: string }> = {
  name: 'test-bearer',
  headers: ['Authorization'],
  openApi: { security: [{ testBearer: [] }], securitySchemes: { testBearer: { type: 'http', scheme: 'bearer' } }, parameters: {} },
  async authenticate(c) {
    const token = c.req.header('authorization')
    if (token !== 'Bearer let-me-in') throw new ApiError('UNAUTHORIZED', { reason: 'test bearer' })
    return { userId: 'me' }
  },
  lockOut: async (principal) => principal,
  idempotencyOwner: (principal) => `person:${principal.userId}`,
  person: (principal) => ({ userId: principal.userId }),
}

const restDelete = defineOperation({
  id: 'api.v2.user.delete',
  method: 'DELETE',
  paths: ['/api/v2/user/:id/', '/api/v2/user/:id'],
  summary: 'Delete a user (test dialect)',
  tag: 'users',
  credentials: bearerOnly,
  request: { params: PARAMS_ID },
  errors: ['INVALID_USER_ID', 'UNAUTHORIZED', 'USER_NOT_FOUND'],
  dialect: detailDialect,
  cors: noPreflight,
  async handle({ params, caller }) {
    const { id } = params as { id: string }
    if (id === '00000000-0000-0000-0000-000000000000') throw new ApiError('USER_NOT_FOUND')
    return { deleted: `${id} by ${caller.userId}` }
  },
})

const probe = defineOperation({
  id: 'api.probe',
  method: 'GET',
  paths: ['/probe'],
  summary: 'A probe in the Sunbird dialect',
  tag: 'operations',
  credentials: noCredentials,
  request: {},
  errors: ['SERVER_ERROR'],
  dialect: sunbirdEnvelope,
  cors: portalCors,
  async handle() {
    return { ok: true }
  },
})

function testSchemas(): SchemaRegistry {
  const real = createSchemaRegistry()
  // verbose: the error-code mapping reads each failing keyword's parent schema, as the service's registry does.
  const ajv = new Ajv2020({ strict: true, verbose: true })
  ajv.addKeyword({ keyword: 'x-error-codes', schemaType: 'object' })
  const validateParams = ajv.compile(paramsSchema)
  return {
    schemas: new Map([...real.schemas, [PARAMS_ID, paramsSchema]]),
    validator: ((id: string) => (id === PARAMS_ID ? validateParams : real.validator(id))) as SchemaRegistry['validator'],
  }
}

describe('an operation in another dialect, with its own credential scheme and a path parameter', () => {
  const app = appServing([restDelete, probe], testSchemas())
  const id = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
  const call = (path: string, init: RequestInit = {}) => app.request(path, { method: 'DELETE', headers: { authorization: 'Bearer let-me-in' }, ...init })

  it('when it succeeds, then its dialect renders the answer (204), on both path forms', async () => {
    for (const path of [`/api/v2/user/${id}/`, `/api/v2/user/${id}`]) {
      const response = await call(path)

      expect(response.status).toBe(204)
      expect(response.headers.get('x-deleted')).toBe(`${id} by me`)
    }
  })

  it('when its credentials fail, its path parameter is invalid or the work fails, then each error-table entry is rendered by its dialect', async () => {
    const unauthorized = await call(`/api/v2/user/${id}/`, { headers: {} })
    const invalid = await call('/api/v2/user/not-an-id/')
    const missing = await call('/api/v2/user/00000000-0000-0000-0000-000000000000/')

    expect([unauthorized.status, await unauthorized.json()]).toEqual([401, { detail: errorEntry('UNAUTHORIZED').errmsg }])
    expect([invalid.status, await invalid.json()]).toEqual([400, { detail: errorEntry('INVALID_USER_ID').errmsg }])
    expect([missing.status, await missing.json()]).toEqual([404, { detail: errorEntry('USER_NOT_FOUND').errmsg }])
  })

  it('when its path is called with another method, then 405 in its dialect, without OPTIONS (no preflight)', async () => {
    const response = await call(`/api/v2/user/${id}/`, { method: 'POST' })

    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('DELETE')
    expect(await response.json()).toEqual({ detail: errorEntry('METHOD_NOT_ALLOWED').errmsg })
  })

  it('when the same app has a Sunbird operation, then that one still answers its envelope', async () => {
    const response = await app.request('/probe')
    const body = (await response.json()) as { id: string; result: unknown }

    expect(response.status).toBe(200)
    expect(body).toMatchObject({ id: 'api.probe', result: { ok: true } })
  })

  it('when documented, then OpenAPI has its path parameter, its security scheme, and its answers as its dialect documents them', () => {
    const schemas = new Map([...readSchemas(), [PARAMS_ID, paramsSchema]])
    const document = buildOpenApiDocument({ operations: [restDelete], schemas, maxBodyBytes: 1024, retryAfterSeconds: 7, defaultDialect: sunbirdEnvelope }) as {
      paths: Record<string, { delete: { parameters: { name?: string; in?: string }[]; security: unknown; responses: Record<string, unknown> } }>
      components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> }
    }

    const operation = document.paths['/api/v2/user/{id}/']?.delete

    expect(operation?.parameters).toContainEqual({ name: 'id', in: 'path', required: true, schema: { $ref: `#/components/schemas/${PARAMS_ID}/properties/id` } })
    expect(operation?.security).toEqual([{ testBearer: [] }])
    expect(Object.keys(operation?.responses ?? {})).toEqual(['204', '400', '401', '404'])
    expect(document.components.securitySchemes).toHaveProperty('testBearer')
    expect(document.components.schemas).toHaveProperty(PARAMS_ID)
    expect(document.paths['/api/v2/user/{id}']).toBeDefined()
  })
})

describe("the request deadline's 503 on an operation with headers of its own", () => {
  const ORIGIN = 'https://app.example'
  /** A route of the cookie kind (credentialed CORS, exposed headers) whose work outlasts the deadline. */
  const slowSessionRoute = defineOperation({
    id: 'api.slow.session',
    method: 'DELETE',
    paths: ['/slow/:id'],
    summary: 'Slower than the request deadline',
    tag: 'users',
    credentials: noCredentials,
    request: {},
    errors: ['SERVICE_UNAVAILABLE'],
    dialect: detailDialect,
    cors: credentialedCors,
    async handle() {
      await new Promise((resolve) => setTimeout(resolve, 400))
      return { deleted: 'late' }
    },
  })

  it("when the deadline answers for it, then the 503 carries the route's own CORS (the caller's allowed origin, credentials, exposed headers), never *", async () => {
    const app = appServing([slowSessionRoute], createSchemaRegistry(), 100)

    const response = await app.request('/slow/1', { method: 'DELETE', headers: { origin: ORIGIN } })

    expect(response.status).toBe(503)
    expect(response.headers.get('access-control-allow-origin')).toBe(ORIGIN)
    expect(response.headers.get('access-control-allow-credentials')).toBe('true')
    expect(response.headers.get('access-control-expose-headers')).toContain('Retry-After')
    expect(response.headers.get('retry-after')).toBe('7')
  })
})
