import { randomUUID } from 'node:crypto'
import { createClient } from '@redis/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { userCacheKey } from '../../src/redis/redis-user-cache.js'
import { expectDeleted, expectError } from '../support/assertions.js'
import { type Harness, startHarness } from '../support/harness.js'
import { keycloakAccountOf } from '../support/keycloak.js'
import { envelopeOf, lifecycle, personInBoth } from '../support/lifecycle.js'
import { LOCAL_REDIS, TEST_KEYSPACE } from '../support/test-env.js'

const ORG = '0137000000000000000014'

/** Row counts of every table of the tests' keyspace (files of this tier run one at a time). */
async function countEveryTable(h: Harness): Promise<Record<string, number>> {
  const tables = (await h.db.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [TEST_KEYSPACE], { prepare: true })).rows.map((row) => row.get('table_name') as string)
  const counts: Record<string, number> = {}
  for (const table of tables.sort()) counts[table] = Number((await h.db.execute(`SELECT COUNT(*) FROM ${TEST_KEYSPACE}.${table}`)).first()?.get('count'))
  return counts
}

describe('request.dryRun', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  beforeAll(async () => {
    h = await startHarness()
    api = lifecycle(h)
  })
  afterAll(async () => {
    await h.close()
  })

  it.each([
    ['default', {}],
    ['soft', { mode: 'soft' }],
    ['hard', { mode: 'hard' }],
    ['default', { gracePeriodDays: 7 }],
  ] as const)('when a %s deletion is dry-run, then the plan lists every store and nothing is written anywhere: every table and the Keycloak account as before', async (mode, fields) => {
    const person = await personInBoth(h, { rootOrgId: ORG, externalIds: [{ provider: 'state-board', idType: 'student-id', externalId: `SB-${randomUUID()}` }] })
    await h.seed({ id: randomUUID(), managedBy: person.id })
    const tablesBefore = await countEveryTable(h)
    const accountBefore = await keycloakAccountOf(person.id)

    const answer = await envelopeOf(await api.remove(person.id, { ...fields, dryRun: true }, api.asUser(person.id)))

    expect(answer.status).toBe(200)
    expect(answer.result).toMatchObject({ response: 'SUCCESS', dryRun: true, mode })
    const plan = answer.result.plan as { store: string; action: string; count: number }[]
    // The managed child's stores, each as `<store> (managed users)`, follow the child's own line when the mode erases them.
    const childStores = plan.map((entry) => entry.store).filter((store) => store.endsWith(' (managed users)') && store !== 'cassandra.user (managed users)')
    expect(childStores.includes('keycloak (managed users)') && childStores.includes('cassandra.user_organisation (managed users)')).toBe(mode !== 'soft')
    if (mode === 'soft') expect(childStores).toEqual([])
    expect(plan.map((entry) => entry.store).filter((store) => !childStores.includes(store))).toEqual([
      'cassandra.user (status)',
      'keycloak',
      'cassandra.otp',
      'cassandra.rate_limit',
      'cassandra.user_lookup (email)',
      'cassandra.user_lookup (externalid)',
      'cassandra.user_lookup (phone)',
      'cassandra.user_lookup (username)',
      'cassandra.usr_external_identity',
      'cassandra.user_organisation',
      'cassandra.user_roles',
      'cassandra.user_declarations',
      'cassandra.user_consent',
      'cassandra.user_notes',
      'search.usernotes',
      'cassandra.shadow_user',
      'cassandra.user_feed',
      'cassandra.user_cert',
      'cassandra.address',
      'cassandra.user (profile)',
      'search.user_alias',
      'search.user_alias (addedByName)',
      'cassandra.user_organisation (addedbyname)',
      'redis.user',
      'cassandra.user (managed users)',
      'kafka (delete.user topic)',
    ])
    expect(plan.find((entry) => entry.store === 'keycloak')).toEqual({ store: 'keycloak', action: mode === 'soft' ? 'disable' : 'delete', count: 1 })
    expect(plan.find((entry) => entry.store === 'cassandra.user (managed users)')?.count).toBe(1)
    expect(plan.find((entry) => entry.store === 'kafka (delete.user topic)')).toEqual({
      store: 'kafka (delete.user topic)',
      action: mode === 'soft' ? 'none' : 'publish',
      count: mode === 'soft' ? 0 : 1,
    })
    expect(await countEveryTable(h)).toEqual(tablesBefore)
    expect(await keycloakAccountOf(person.id)).toEqual(accountBefore)
  })

  it('when a user has no Keycloak account, then the plan says absent', async () => {
    const user = await h.seed()

    const answer = await envelopeOf(await api.remove(user.id, { mode: 'hard', dryRun: true }, api.asUser(user.id)))

    expect((answer.result.plan as { store: string }[]).find((entry) => entry.store === 'keycloak')).toEqual({ store: 'keycloak', action: 'absent', count: 0 })
  })

  it('when a dry run meets what a real call refuses, then it answers the same error and writes nothing', async () => {
    const deleted = await h.seed({ status: 2, isDeleted: true })
    const restricted = await h.seed({ roles: [{ role: 'ORG_ADMIN', organisationIds: [ORG] }] })
    const before = await countEveryTable(h)

    await expectError(await api.remove(deleted.id, { dryRun: true }, api.asUser(randomUUID(), { 'x-authenticated-user-token': h.userToken({ sub: deleted.id }) })), 'UNAUTHORIZED')
    const admin = { 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [] }] }) }
    await expectError(await api.remove(deleted.id, { dryRun: true }, { ...admin }), 'FORBIDDEN')
    await expectError(await api.remove(restricted.id, { dryRun: true }, api.asUser(restricted.id)), 'ROLE_RESTRICTED')
    await expectError(await api.remove(randomUUID(), { mode: 'soft', dryRun: true }, api.asUser(randomUUID())), 'FORBIDDEN')

    expect(await countEveryTable(h)).toEqual(before)
  })
})

describe('POST /api/user/v1/export', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  // That an export's answer is never logged is checked on the built server's own log (test/contract/log-privacy.test.ts).
  beforeAll(async () => {
    h = await startHarness()
    api = lifecycle(h)
  })
  afterAll(async () => {
    await h.close()
  })

  it('when a user exports their data, then every seeded row and the real Keycloak account come back, with Cache-Control: no-store', async () => {
    const external = { provider: 'state-board', idType: 'student-id', externalId: `SB-${randomUUID()}` }
    const person = await personInBoth(h, { rootOrgId: ORG, firstName: 'Asha', externalIds: [external] })
    const child = await h.seed({ managedBy: person.id })

    const response = await api.exportOf(person.id, api.asUser(person.id))
    const answer = await envelopeOf(response)

    expect(answer.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(answer.id).toBe('api.user.export')
    const user = answer.result.user as Record<string, unknown>
    expect(user.row).toMatchObject({ id: person.id, email: person.email, username: person.username, firstname: 'Asha', rootorgid: ORG, status: 1, isdeleted: false })
    expect((user.row as Record<string, unknown>).createddate).toEqual(expect.any(String))
    expect((user.lookups as { type: string; value: string }[]).map((lookup) => lookup.type).sort()).toEqual(['email', 'externalid', 'phone', 'username'])
    expect(user.externalIdentities).toEqual([expect.objectContaining({ provider: external.provider, idtype: external.idType, externalid: external.externalId, userid: person.id })])
    expect(user.organisations).toEqual([expect.objectContaining({ organisationid: ORG, isdeleted: false })])
    expect(user.roles).toEqual([expect.objectContaining({ role: 'PUBLIC' })])
    expect(user.managedUserIds).toEqual([child.id])
    expect(user.deletionRequests).toEqual([])
    expect(user.keycloak).toMatchObject({ username: person.username, email: person.email, firstName: 'Ira', enabled: true, federatedIdentities: [] })
    expect((user.keycloak as { attributes: Record<string, string[]> }).attributes.roles).toEqual([JSON.stringify([{ role: 'PUBLIC', scope: [] }])])
  })

  it('when the user is soft-deleted, then an ORG_ADMIN can export them, deletion request included; once erased, 404', async () => {
    const person = await personInBoth(h, { rootOrgId: ORG })
    const admin = { 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) }
    await expectDeleted(await api.remove(person.id, { mode: 'soft' }, { ...admin, 'x-request-id': `soft-${person.id}` }))

    const soft = await envelopeOf(await api.exportOf(person.id, admin))
    expect(soft.status).toBe(200)
    const user = soft.result.user as { keycloak: { enabled: boolean }; deletionRequests: { requestId: string; state: string; mode: string }[] }
    expect(user.keycloak.enabled).toBe(false)
    expect(user.deletionRequests).toEqual([expect.objectContaining({ requestId: `soft-${person.id}`, state: 'completed', mode: 'soft' })])

    await expectDeleted(await api.remove(person.id, { mode: 'hard' }, admin))
    const gone = await api.exportOf(person.id, admin)
    expect(gone.headers.get('cache-control')).toBe('no-store')
    await expectError(gone, 'USER_NOT_FOUND')
  })

  it('when user:<id> in the cache is not a hash (a string someone else wrote), then an ORG_ADMIN still exports them: 200 with the key as held, not 503; a deletion removes it', async () => {
    const person = await h.seed({ rootOrgId: ORG })
    const admin = { 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) }
    const redis = createClient({ socket: LOCAL_REDIS, database: 12 })
    await redis.connect()
    try {
      await redis.set(userCacheKey(person.id), 'x')

      const answer = await envelopeOf(await api.exportOf(person.id, admin))

      expect(answer.status).toBe(200)
      expect(answer.result.user).toMatchObject({ cache: null, cacheValue: { type: 'string', value: 'x' } })
      await expectDeleted(await api.remove(person.id, { mode: 'hard' }, admin))
      expect(await redis.exists(userCacheKey(person.id))).toBe(0)
    } finally {
      await redis.del(userCacheKey(person.id))
      await redis.close()
    }
  })

  it("when a stranger asks for someone else's export, then 403 and nothing is answered", async () => {
    const person = await personInBoth(h)

    await expectError(await api.exportOf(person.id, api.asUser(randomUUID())), 'FORBIDDEN')
  })
})
