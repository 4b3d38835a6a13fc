import { randomUUID } from 'node:crypto'
import { type Client, types } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type SeedUser, seedUser } from '../../scripts/lib/seed-users.js'
import { DependencyUnavailableError } from '../../src/deletion/errors.js'
import type { UserStore } from '../../src/deletion/ports.js'
import { migrate } from '../../src/store/migrations.js'
import { expectDeleted, expectError } from '../support/assertions.js'
import { freePort } from '../support/spawned-server.js'
import { type Harness, startHarness, testConfig } from '../support/harness.js'
import { failOnce, startTcpProxy, type TcpProxy, withFaults } from '../support/faults.js'
import { requestsOf } from '../support/deletion-requests.js'
import { readUserState } from '../support/user-state.js'

const ORG = '0137000000000000000021'

/** The real store, one chosen call failing once, the way a dependency dropping out would. */
function failOnceIn(method: keyof UserStore, error: () => Error) {
  // Fail half-way for writes that matter: the real call runs, then the connection "drops" before we hear back.
  const afterRealCall = method !== 'markDeleted' && method !== 'findRoles'
  return (store: UserStore): UserStore => withFaults(store, failOnce(method, error, { afterRealCall }))
}

describe('when Cassandra is unreachable', () => {
  it('then the delete answers 503 UOS_USRDLT0064 with Retry-After, never a hang or a 500', async () => {
    const port = await freePort()
    const h = await startHarness({ cassandra: { port, connectTimeoutMs: 500 } })
    try {
      const response = await h.deleteRequest(
        { request: { userId: '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41' } },
        {
          'x-authenticated-user-token': h.userToken({ sub: '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41' }),
        },
      )
      expect(response.headers.get('retry-after')).toBe(String(h.config.http.retryAfterSeconds))
      await expectError(response, 'SERVICE_UNAVAILABLE')
    } finally {
      await h.close().catch(() => {})
    }
  })
})

describe('when Cassandra stops answering mid-flight', () => {
  let proxy: TcpProxy
  let h: Harness
  beforeAll(async () => {
    proxy = await startTcpProxy(testConfig().cassandra.port)
    h = await startHarness({ cassandra: { port: proxy.port, readTimeoutMs: 800 } })
  })
  afterAll(async () => {
    proxy.thaw()
    await h.close().catch(() => {})
    await proxy.close()
  })

  it('then the request gets 503 within the driver timeout, and the same request succeeds once it is back', async () => {
    const user = await h.seed()
    const headers = { 'x-authenticated-user-token': h.userToken({ sub: user.id }) }
    proxy.freeze()
    const started = Date.now()
    await expectError(await h.deleteRequest({ request: { userId: user.id } }, headers), 'SERVICE_UNAVAILABLE')
    expect(Date.now() - started).toBeLessThan(h.config.http.requestTimeoutMs)
    proxy.thaw()
    await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, headers))
  })
})

/**
 * Row tombstones in the user's user_roles partition, past Cassandra's tombstone_failure_threshold
 * (100,000 by default): the replica fails the read (ReadFailure, 0x1300) rather than scan them all.
 * A full scan of the table fails the same way, so they are written to a keyspace of the test's own,
 * dropped after it, never to the shared test keyspace other tests scan whole.
 */
async function overflowRolesWithTombstones(db: Client, keyspace: string, userId: string): Promise<void> {
  const deleteRole = `DELETE FROM ${keyspace}.user_roles WHERE userid = ? AND role = ?`
  const perBatch = 500
  const batches = Array.from({ length: Math.ceil(100_500 / perBatch) }, (_, b) => Array.from({ length: perBatch }, (_, i) => ({ query: deleteRole, params: [userId, `gone-${b * perBatch + i}`] })))
  for (let i = 0; i < batches.length; i += 8) await Promise.all(batches.slice(i, i + 8).map((batch) => db.batch(batch, { prepare: true, logged: false })))
}

describe('when a replica fails a read (tombstone overflow: Cassandra answers ReadFailure)', () => {
  const keyspace = `readfail_${randomUUID().replace(/-/g, '').slice(0, 16)}`
  let h: Harness
  beforeAll(async () => {
    await migrate(testConfig({ cassandra: { keyspace } }).cassandra)
    h = await startHarness({ cassandra: { keyspace } })
  }, 180_000)
  afterAll(async () => {
    await h?.db.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`, [], { readTimeout: 120_000 })
    await h?.close()
  }, 180_000)

  it('then the delete answers 503 UOS_USRDLT0064 with Retry-After, as for an outage, with nothing written; not a 500', async () => {
    const user: SeedUser = { id: randomUUID() }
    await seedUser(h.db, keyspace, user)
    await overflowRolesWithTombstones(h.db, keyspace, user.id)
    const failing = await h.db.execute(`SELECT role FROM ${keyspace}.user_roles WHERE userid = ?`, [user.id], { prepare: true }).catch((err: unknown) => err)
    expect((failing as { code?: number }).code, 'the roles read fails on the replica').toBe(types.responseErrorCodes.readFailure)

    const response = await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }) })

    expect(response.headers.get('retry-after')).toBe(String(h.config.http.retryAfterSeconds))
    await expectError(response, 'SERVICE_UNAVAILABLE')
    expect(await requestsOf(h.db, user.id, keyspace)).toHaveLength(0)
    const row = (await h.db.execute(`SELECT status, isdeleted FROM ${keyspace}.user WHERE id = ?`, [user.id], { prepare: true })).first()
    expect({ status: row?.get('status'), isdeleted: row?.get('isdeleted') }).toEqual({ status: 1, isdeleted: false })
  })
})

describe('when a step fails half-way', () => {
  const unavailable = () => new DependencyUnavailableError('cassandra')
  const asAdmin = (h: Harness) => ({ 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) })

  it('failing at the lock once the request is recorded answers 200, and the sweeper carries the deletion out', async () => {
    const h = await startHarness({}, { users: failOnceIn('markDeleted', unavailable) })
    try {
      const user = await h.seed({ rootOrgId: ORG })
      const headers = { 'x-authenticated-user-token': h.userToken({ sub: user.id }) }
      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, headers))
      const [open] = await requestsOf(h.db, user.id)
      expect(open?.state).toBe('accepted')
      await h.service.resumeOpen()
      const after = await readUserState(h.db, user.id)
      expect(after.user?.get('isdeleted')).toBe(true)
      expect(after.lookups).toHaveLength(0)
      expect((await requestsOf(h.db, user.id))[0]?.state).toBe('completed')
    } finally {
      await h.close()
    }
  })

  it.each(['eraseLookups', 'scrubProfile'] as const)('failing in %s after the lock answers 200, and a retry finishes the job before it answers "already deleted"', async (method) => {
    const h = await startHarness({}, { users: failOnceIn(method, unavailable) })
    try {
      const user = await h.seed({ rootOrgId: ORG })
      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }) }))
      const [open] = await requestsOf(h.db, user.id)
      expect(open?.state).toBe('in_progress')
      // The retry (by someone who may still act: the user is already locked out) finishes first, then answers 0008.
      await expectError(await h.deleteRequest({ request: { userId: user.id } }, asAdmin(h)), 'ALREADY_DELETED')
      const after = await readUserState(h.db, user.id)
      expect(after.user?.get('email')).toBe('')
      expect(after.user?.get('firstname')).toBe('')
      expect(after.lookups).toHaveLength(0)
      const [request] = await requestsOf(h.db, user.id)
      expect(request?.state).toBe('completed')
      // The lookups' removal landed though its answer was lost, so the retry finds none: the receipt
      // must not say there were none to delete. Scrubbed ones were recorded before the scrub failed.
      const lookups = ((request?.receipt?.stores ?? []) as { store: string; action: string; count?: number; physicallyErasedBy?: string }[]).find((entry) => entry.store === 'cassandra.user_lookup')
      if (method === 'eraseLookups') expect(lookups).toMatchObject({ action: 'absent on resume', count: 0, physicallyErasedBy: expect.any(String) })
      else expect(lookups).toMatchObject({ action: 'deleted', count: 3 })
    } finally {
      await h.close()
    }
  })

  it('failing half-way with nobody retrying answers 200, and the sweeper finishes the request', async () => {
    const h = await startHarness({}, { users: failOnceIn('leaveOrganisations', unavailable) })
    try {
      const user = await h.seed({ rootOrgId: ORG })
      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }) }))
      const report = await h.service.resumeOpen()
      expect(report.completed).toBeGreaterThanOrEqual(1)
      expect((await readUserState(h.db, user.id)).user?.get('email')).toBe('')
      expect((await requestsOf(h.db, user.id))[0]?.state).toBe('completed')
    } finally {
      await h.close()
    }
  })

  it('an unexpected error answers 500 UOS_0069 "server error" without its message', async () => {
    const leaky = () => new Error('boom for asha.verma@example.org at 10.0.0.12')
    const h = await startHarness({}, { users: failOnceIn('findRoles', leaky) })
    try {
      const user = await h.seed()
      const response = await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }) })
      const body = await expectError(response, 'SERVER_ERROR')
      expect(JSON.stringify(body)).not.toContain('asha')
      expect(JSON.stringify(body)).not.toContain('boom')
    } finally {
      await h.close()
    }
  })
})
