import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedUser } from '../../scripts/lib/seed-users.js'
import { errorEntry } from '../../src/http/error-codes.js'
import { userDeleteCancel } from '../../src/http/operations/user-delete-cancel.js'
import { userDelete } from '../../src/http/operations/user-delete.js'
import { userExport } from '../../src/http/operations/user-export.js'
import { createSchemaRegistry } from '../../src/schemas/schema-registry.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { type ContractServer, startContractServer } from '../support/contract-server.js'
import { testConfig } from '../support/harness.js'
import { TEST_KEYSPACE } from '../support/test-env.js'

const schemas = createSchemaRegistry({ allErrors: true })
const validator = (id: string | undefined) => schemas.validator(id as string)

function expectValid(schema: string | undefined, body: unknown) {
  const validate = validator(schema)
  expect(validate(body), JSON.stringify({ schema, body, errors: validate.errors })).toBe(true)
}

/**
 * Black-box: the lifecycle routes of the built server over HTTP, every answer checked against its
 * schema in schemas/: modes, grace period, dry run, cancel, export, Idempotency-Key, step-up.
 */
describe('the deletion lifecycle on the built server', () => {
  const db = createCassandraClient(testConfig().cassandra)
  let server: ContractServer

  beforeAll(async () => {
    server = await startContractServer({ env: { DELETION_MAX_AUTH_AGE_SECONDS: '600', DELETION_GRACE_DAY_SECONDS: '3600', DELETION_SWEEP_INTERVAL_MS: '0' } })
  })
  afterAll(async () => {
    await server?.stop()
    await db.shutdown()
  })

  async function person() {
    const id = randomUUID()
    await seedUser(db, TEST_KEYSPACE, { id })
    const token = server.userToken({ sub: id, auth_time: Math.floor(Date.now() / 1000) })
    return { id, headers: { 'content-type': 'application/json', authorization: `Bearer ${server.apiBearer}`, 'x-authenticated-user-token': token } }
  }
  const post = (path: string, headers: Record<string, string>, request: Record<string, unknown>) => fetch(`${server.url}${path}`, { method: 'POST', headers, body: JSON.stringify({ request }) })

  it('when a soft deletion is sent twice with one Idempotency-Key, then both answers match the schema and the second is the first, replayed', async () => {
    const { id, headers } = await person()
    const keyed = { ...headers, 'idempotency-key': randomUUID() }

    const first = await post('/api/user/v1/delete', keyed, { userId: id, mode: 'soft' })
    const firstText = await first.text()
    const second = await post('/api/user/v1/delete', keyed, { userId: id, mode: 'soft' })

    expect(first.status).toBe(200)
    expectValid(userDelete.responseSchema, JSON.parse(firstText))
    expect(second.headers.get('idempotent-replayed')).toBe('true')
    expect(await second.text()).toBe(firstText)
  })

  it('when the soft deletion is cancelled by the person, then the answer matches user-delete-cancel.response', async () => {
    const { id, headers } = await person()
    expect((await post('/api/user/v1/delete', headers, { userId: id, mode: 'soft' })).status).toBe(200)

    const response = await post(userDeleteCancel.paths[0], headers, { userId: id })
    const body = await response.json()

    expect(response.status, JSON.stringify(body)).toBe(200)
    expectValid(userDeleteCancel.responseSchema, body)
    // On the gateway path, the user is no longer deleted: the refusal matches the error schema.
    const again = await post('/v1/user/delete/cancel', headers, { userId: id })
    expect(again.status).toBe(400)
    expectValid('error.response', await again.json())
  })

  it('when a grace period and a dry run are asked, then their answers match user-delete.response', async () => {
    const { id, headers } = await person()

    const dry = await post('/v1/user/delete', headers, { userId: id, mode: 'hard', dryRun: true })
    const dryBody = (await dry.json()) as { result: { plan: unknown[] } }
    expectValid(userDelete.responseSchema, dryBody)
    expect(dryBody.result.plan.length).toBeGreaterThan(5)

    const grace = await post('/api/user/v1/delete', headers, { userId: id, gracePeriodDays: 30 })
    const graceBody = (await grace.json()) as { result: { state: string } }
    expectValid(userDelete.responseSchema, graceBody)
    expect(graceBody.result.state).toBe('scheduled')
  })

  it('when a user exports their data on both paths, then the answer matches user-export.response and is not to be cached', async () => {
    const { id, headers } = await person()

    for (const path of userExport.paths) {
      const response = await post(path, headers, { userId: id })
      expect(response.headers.get('cache-control')).toBe('no-store')
      expectValid(userExport.responseSchema, await response.json())
    }
  })

  it('when the login is older than DELETION_MAX_AUTH_AGE_SECONDS, then 401 with the RFC 9470 challenge in an error envelope', async () => {
    const { id, headers } = await person()
    const stale = { ...headers, 'x-authenticated-user-token': server.userToken({ sub: id, auth_time: Math.floor(Date.now() / 1000) - 3600 }) }

    const response = await post('/api/user/v1/delete', stale, { userId: id })
    const body = (await response.json()) as { params: { err: string } }

    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="insufficient_user_authentication", max_age=600')
    expect(body.params.err).toBe(errorEntry('STEP_UP_REQUIRED').err)
    expectValid('error.response', body)
  })
})
