import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedUser } from '../../scripts/lib/seed-users.js'
import { composeService, type Service } from '../../src/compose.js'
import type { DeletionReceipt } from '../../src/deletion/deletion-request.js'
import { DependencyUnavailableError } from '../../src/deletion/errors.js'
import type { IdentityProvider } from '../../src/deletion/ports.js'
import { migrate } from '../../src/store/migrations.js'
import { expectDeleted } from '../support/assertions.js'
import { capturedLogger } from '../support/captured-logger.js'
import { failWhen, withFaults } from '../support/faults.js'
import { type Harness, startHarness, testConfig } from '../support/harness.js'
import { parsePrometheusText, sampleValue } from '../support/prometheus-text.js'

// A deletion request whose receipt column holds text that is not a receipt (not JSON, or JSON
// schemas/deletion-receipt.json rejects: the row changed or damaged outside the service), on the
// real Cassandra: the status route still answers the request, the sweeper still carries it (and the
// other open requests) on, and the log says so once, by request id. A keyspace of the test's own,
// so the sweeper's pass meets only this file's requests.

const keyspace = `unreadable_receipt_${randomUUID().replace(/-/g, '').slice(0, 12)}`
const REQUESTS = `${keyspace}.user_deletion_request`
/** What a damaged row may hold: JSON cut short. */
const NOT_JSON = '{"requestId":"cut short'
/** What a changed row may hold: a receipt's field names, values the receipt schema rejects (served, it would break the status route's published schema). */
const OUT_OF_SCHEMA = JSON.stringify({ requestId: 'r', subject: 'not-a-hash', state: 'bogus', completedAt: 'yesterday', stores: [{ store: 'x', action: 'y' }], extra: 1 })
const TOLD = 'deletion request receipt unreadable; the request is answered and resumed without it'
const UNREADABLE_RECEIPTS = 'sunbird_user_delete_unreadable_receipts_total'
const ORG = '0137000000000000000071'

/** Users whose Keycloak calls fail as when it is down: their deletion ends partial, the keycloak step owed. */
const keycloakDownFor = new Set<string>()
const failingIdentityFor = (identity: IdentityProvider): IdentityProvider =>
  withFaults(
    identity,
    failWhen(
      (_method, args) => keycloakDownFor.has(args[0] as string),
      () => new DependencyUnavailableError('keycloak'),
    ),
  )

let h: Harness
/** The service under test, its log kept in `lines`. */
let service: Service
let lines: Record<string, unknown>[]

beforeAll(async () => {
  await migrate(testConfig({ cassandra: { keyspace } }).cassandra)
  h = await startHarness({ cassandra: { keyspace } })
  const captured = capturedLogger()
  lines = captured.lines
  service = composeService(h.config, captured.logger, { identity: failingIdentityFor })
}, 180_000)
afterAll(async () => {
  await service?.close()
  await h?.db.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`, [], { readTimeout: 120_000 })
  await h?.close()
}, 180_000)

const post = (path: string, body: unknown, userToken: string) =>
  service.app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${h.apiBearer}`, 'x-authenticated-user-token': userToken },
    body: JSON.stringify(body),
  })

/** A user's own deletion through the Sunbird route; `keycloakDown`: left partial, its keycloak step owed and the request listed for the sweeper. */
async function ownDeletion({ keycloakDown = false } = {}): Promise<{ requestId: string }> {
  const user = { id: randomUUID(), rootOrgId: ORG }
  await seedUser(h.db, keyspace, user)
  const token = h.userToken({ sub: user.id })
  const requestId = `unreadable-receipt-${randomUUID()}`
  if (keycloakDown) keycloakDownFor.add(user.id)
  try {
    await expectDeleted(
      await service.app.request('/api/user/v1/delete', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${h.apiBearer}`, 'x-authenticated-user-token': token, 'x-request-id': requestId },
        body: JSON.stringify({ request: { userId: user.id } }),
      }),
    )
  } finally {
    keycloakDownFor.delete(user.id)
  }
  return { requestId }
}

/** An ORG_ADMIN of the users' organisation: may follow their deletions (the users themselves are locked out). */
const orgAdminToken = () => h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })

const damageReceipt = (requestId: string, text = NOT_JSON) => h.db.execute(`UPDATE ${REQUESTS} SET receipt = ? WHERE id = ?`, [text, requestId], { prepare: true })

async function stored(requestId: string): Promise<{ state: string; receipt: string | null }> {
  const row = (await h.db.execute(`SELECT state, receipt FROM ${REQUESTS} WHERE id = ?`, [requestId], { prepare: true })).first()
  return { state: row?.get('state') as string, receipt: (row?.get('receipt') as string | null) ?? null }
}

const unreadableReceiptsCounted = async () => sampleValue(parsePrometheusText(await service.metrics.render()), UNREADABLE_RECEIPTS) ?? 0

describe('a deletion request whose stored receipt is not a receipt, on the real Cassandra', () => {
  it.each([
    ['not JSON', NOT_JSON],
    ['JSON the receipt schema rejects', OUT_OF_SCHEMA],
  ])(
    'when its status is asked twice and the receipt is %s, then both answers are the usual 200 envelope with its state and steps and no receipt, and the log and the metric tell it once, by request id only',
    async (_kind, text) => {
      // Arrange: a completed deletion, its receipt damaged in the row.
      const { requestId } = await ownDeletion()
      await damageReceipt(requestId, text)
      const linesBefore = lines.length
      const countedBefore = await unreadableReceiptsCounted()

      // Act
      const first = await post('/api/user/v1/delete/status', { request: { requestId } }, orgAdminToken())
      const second = await post('/api/user/v1/delete/status', { request: { requestId } }, orgAdminToken())

      // Assert
      expect(first.status).toBe(200)
      const body = (await first.json()) as { result: { request: Record<string, unknown> } }
      expect(body).toMatchObject({ id: 'api.user.delete.status', responseCode: 'OK', params: { status: 'SUCCESS', err: null, errmsg: null }, result: { request: { requestId, state: 'completed' } } })
      expect(body.result.request).not.toHaveProperty('receipt')
      expect(Object.keys(body.result.request.steps as object)).toEqual(expect.arrayContaining(['lock', 'keycloak', 'userRow']))
      expect(second.status).toBe(200)
      expect(((await second.json()) as typeof body).result).toEqual(body.result)
      const told = lines.slice(linesBefore).filter((line) => line.msg === TOLD)
      expect(told).toEqual([expect.objectContaining({ requestId, level: 40 })])
      expect(Object.keys(told[0] ?? {}).sort()).toEqual(['level', 'msg', 'requestId', 'service', 'time'])
      expect((await unreadableReceiptsCounted()) - countedBefore).toBe(1)
      expect((await stored(requestId)).receipt, 'a read leaves the row as it is').toBe(text)
    },
  )

  it('when the sweeper meets it among other open requests, then it carries them all on, stores the request a receipt it can read, and logs no failure', async () => {
    // Arrange: two deletions left partial by Keycloak being down, the first one's receipt damaged.
    const damaged = await ownDeletion({ keycloakDown: true })
    const other = await ownDeletion({ keycloakDown: true })
    await damageReceipt(damaged.requestId)
    const linesBefore = lines.length

    // Act: one sweeper pass with Keycloak back, then another.
    const report = await service.resumeOpen()
    const next = await service.resumeOpen()

    // Assert
    expect(report).toMatchObject({ resumed: 2, completed: 2 })
    expect(next).toMatchObject({ resumed: 0, unlisted: 0 })
    for (const { requestId } of [damaged, other]) {
      const { state, receipt } = await stored(requestId)
      expect(state).toBe('completed')
      expect(JSON.parse(receipt ?? 'null') as DeletionReceipt).toMatchObject({ requestId, state: 'completed' })
    }
    const logged = lines.slice(linesBefore)
    expect(logged.filter((line) => line.msg === TOLD)).toEqual([expect.objectContaining({ requestId: damaged.requestId })])
    expect(logged.filter((line) => (line.level as number) >= 40 && line.msg !== TOLD)).toEqual([])
  })
})
