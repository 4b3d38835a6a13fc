import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedUser } from '../../scripts/lib/seed-users.js'
import { signApiBearer } from '../../scripts/lib/sign-jwt.js'
import { createSchemaRegistry } from '../../src/schemas/schema-registry.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { type ContractServer, startContractServer } from '../support/contract-server.js'
import { LOCAL_CONSUMER, testConfig, trustedConsumerApiBearer } from '../support/harness.js'
import { TEST_KEYSPACE } from '../support/test-env.js'

const schemas = createSchemaRegistry({ allErrors: true })
const APP_ORIGIN = 'https://app.example'
const ORG = '0137000000000000000012'

function expectBody(schemaId: string, body: unknown, expected: unknown) {
  const validate = schemas.validator(schemaId)
  expect(validate(body), JSON.stringify({ body, errors: validate.errors })).toBe(true)
  expect(body).toStrictEqual(expected)
}

/**
 * Black-box, each seed's documented request as its clients send it (path, method, headers, the
 * shape of its example ids) against the built server, and each documented answer exactly: status,
 * body (no extra keys, valid against its schema in schemas/), Content-Type, X-Request-Id.
 */
describe('the seed clients’ documented requests against the built server', () => {
  const db = createCassandraClient(testConfig().cassandra)
  let server: ContractServer

  beforeAll(async () => {
    server = await startContractServer({ env: { SESSION_ALLOWED_ORIGINS: `${APP_ORIGIN},https://other.example`, SESSION_COOKIE_SECURE: 'true' } })
  })
  afterAll(async () => {
    await server?.stop()
    await db.shutdown()
  })

  async function seeded(): Promise<string> {
    const id = randomUUID()
    await seedUser(db, TEST_KEYSPACE, { id, rootOrgId: ORG })
    return id
  }
  const send = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { method: 'DELETE', headers })

  it('seed 003: the documented fetch (form Content-Type, Accept JSON, bearer) answers 204 with no body (soft); a repeat on the form without the slash answers the seed’s 400', async () => {
    const id = await seeded()
    const headers = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', Authorization: `Bearer ${server.userToken({ sub: id })}` }

    const soft = await send(`/api/v2/user/${id}/`, { ...headers, 'X-Request-Id': `seed-003-${id}` })
    const again = await send(`/api/v2/user/${id}`, { ...headers, Authorization: `Bearer ${server.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })}` })

    expect([soft.status, await soft.text(), soft.headers.get('x-request-id')]).toEqual([204, '', `seed-003-${id}`])
    expect(again.status).toBe(400)
    expectBody('drf-detail.error', await again.json(), { detail: 'The user has already been soft deleted' })
    expect(again.headers.get('content-type')).toMatch(/^application\/json/)
  })

  it('seed 003: an id that is not one we issue (the seed’s integer ids) answers 404 {"detail":"User not found"}', async () => {
    const response = await send('/api/v2/user/17/', { Authorization: `Bearer ${server.userToken({ sub: randomUUID() })}` })

    expect(response.status).toBe(404)
    expectBody('drf-detail.error', await response.json(), { detail: 'User not found' })
  })

  it('seed 001: the documented curl (DELETE with the UUID, the consumer’s JWT) answers 204 with no body; then 404 and the 400 for a non-UUID exactly as documented', async () => {
    const id = await seeded()
    const consumer = { Authorization: `Bearer ${trustedConsumerApiBearer()}` }

    const deleted = await send(`/api/v1/users/${id}`, consumer)
    const gone = await send(`/api/v1/users/${id}`, consumer)
    const invalid = await send('/api/v1/users/not-a-uuid', consumer)
    const otherConsumer = await send(`/api/v1/users/${randomUUID()}`, { Authorization: `Bearer ${signApiBearer(LOCAL_CONSUMER.key, LOCAL_CONSUMER.secret)}` })
    const anonymous = await send('/api/v1/users/123e4567-e89b-12d3-a456-426614174000')

    expect([deleted.status, await deleted.text()]).toEqual([204, ''])
    expect(gone.status).toBe(404)
    expectBody('nest.error', await gone.json(), { statusCode: 404, message: 'User not found' })
    expect(invalid.status).toBe(400)
    expectBody('nest.error', await invalid.json(), { statusCode: 400, message: 'Validation failed', errors: ['id must be a valid UUID'] })
    expect(otherConsumer.status).toBe(403)
    expectBody('nest.error', await otherConsumer.json(), { statusCode: 403, message: 'Forbidden resource' })
    expect(anonymous.status).toBe(401)
    expectBody('nest.error', await anonymous.json(), { statusCode: 401, message: 'Unauthorized' })
  })

  it('seed 002: the documented curl (Cookie: neptun-session=…) answers 200 true and expires the cookie, Secure when SESSION_COOKIE_SECURE=true', async () => {
    const id = await seeded()

    const response = await send(`/api/users/${id}`, { Cookie: `neptun-session=${server.userToken({ sub: id })}`, Origin: APP_ORIGIN })

    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await response.json()).toBe(true)
    expect(response.headers.get('set-cookie')?.split('; ')).toEqual(expect.arrayContaining(['neptun-session=', 'Max-Age=0', 'Path=/', 'HttpOnly', 'Secure', 'SameSite=Lax']))
    expect([response.headers.get('access-control-allow-origin'), response.headers.get('access-control-allow-credentials')]).toEqual([APP_ORIGIN, 'true'])
    expect(response.headers.get('x-request-id')).toBeTruthy()
  })

  it('seed 002: "your-user-id" answers the documented 400, an unknown user the documented 404, a foreign origin 403', async () => {
    const me = randomUUID()
    const session = { Cookie: `neptun-session=${server.userToken({ sub: me })}` }

    const malformed = await send('/api/users/your-user-id', session)
    const missing = await send(`/api/users/${me}`, session)
    const forged = await send(`/api/users/${me}`, { ...session, Origin: 'https://evil.example' })

    expect(malformed.status).toBe(400)
    expectBody('nuxt.error', await malformed.json(), { statusCode: 400, statusMessage: 'Bad Request', data: { message: 'Invalid user ID format' } })
    expect(missing.status).toBe(404)
    expectBody('nuxt.error', await missing.json(), { statusCode: 404, statusMessage: 'Not Found', data: { message: 'User not found' } })
    expect(forged.status).toBe(403)
    expectBody('nuxt.error', await forged.json(), { statusCode: 403, statusMessage: 'Forbidden', data: { message: 'Cross-site request refused.' } })
    expect(forged.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('seed 002: a preflight from an allowed origin gets credentialed CORS, never *', async () => {
    const response = await fetch(`${server.url}/api/users/${randomUUID()}`, { method: 'OPTIONS', headers: { Origin: APP_ORIGIN, 'Access-Control-Request-Method': 'DELETE' } })

    expect(response.status).toBe(204)
    expect(response.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN)
    expect(response.headers.get('access-control-allow-credentials')).toBe('true')
    expect(response.headers.get('access-control-allow-methods')).toBe('DELETE, OPTIONS')
    expect(response.headers.get('vary')).toMatch(/Origin/)
  })

  it('seed 000: the documented request (DELETE /api/users/{user_id}/ with the bearer) answers 204; 401 and 404 as {"detail"}', async () => {
    const id = await seeded()

    const deleted = await send(`/api/users/${id}/`, { Authorization: `Bearer ${server.userToken({ sub: id })}` })
    const anonymous = await send(`/api/users/${id}/`)
    const missing = await send(`/api/users/${randomUUID()}/`, { Authorization: `Bearer ${server.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [] }] })}` })

    expect([deleted.status, await deleted.text()]).toEqual([204, ''])
    expect(anonymous.status).toBe(401)
    expectBody('drf-detail.error', await anonymous.json(), { detail: 'Authentication credentials were not provided or are not valid.' })
    expect(missing.status).toBe(404)
    expectBody('drf-detail.error', await missing.json(), { detail: 'User not found' })
  })

  it('when the routes have answered, then the metrics label each by its route pattern, both slash forms apart', async () => {
    const metrics = await (await fetch(`${server.url}/metrics`)).text()

    for (const route of ['/api/v2/user/:id/', '/api/v2/user/:id', '/api/v1/users/:id', '/api/users/:user_id', '/api/users/:user_id/']) expect(metrics).toContain(`route="${route}"`)
  })
})
