import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pseudonymise } from '../../src/deletion/receipt.js'
import { chainHash, GENESIS, LEGACY_CHAIN } from '../../src/store/cassandra-audit-trail.js'
import { expectDeleted, expectError } from '../support/assertions.js'
import { undoTampering } from '../support/audit-tampering.js'
import { startHarness, type Harness } from '../support/harness.js'
import { readTopic } from '../support/kafka.js'
import { createKeycloakUser, login } from '../support/keycloak.js'
import { newPerson } from '../support/personal-data.js'
import { KEYCLOAK_URL, REALM, TEST_KEYSPACE } from '../support/test-env.js'
import { readUserState } from '../support/user-state.js'

const ORG = '0137000000000000000031'

/** Every text value of every table of the keyspace, as one string per row. */
async function everyRow(h: Harness): Promise<string[]> {
  const tables = await h.db.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [TEST_KEYSPACE], { prepare: true })
  const rows: string[] = []
  for (const table of tables.rows.map((r) => r.get('table_name') as string)) {
    const result = await h.db.execute(`SELECT * FROM ${TEST_KEYSPACE}.${table}`, [], { fetchSize: 5000 })
    for await (const row of result) rows.push(`${table} ${JSON.stringify(row)}`)
  }
  return rows
}

async function keycloakSearch(term: string): Promise<unknown[]> {
  const token = await fetch(`${KEYCLOAK_URL}/realms/${REALM}/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'user-delete-service', client_secret: 'user-delete-service-secret' }),
  }).then((r) => r.json() as Promise<{ access_token: string }>)
  const response = await fetch(`${KEYCLOAK_URL}/admin/realms/${REALM}/users?search=${encodeURIComponent(term)}`, { headers: { authorization: `Bearer ${token.access_token}` } })
  return (await response.json()) as unknown[]
}

describe('a deletion as a durable request', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ auth: { userToken: { publicKeyDir: '' } } })
  })
  afterAll(async () => {
    await h.close()
  })

  const statusRequest = (body: unknown, token: string) =>
    h.service.app.request('/api/user/v1/delete/status', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.apiBearer}`, 'x-authenticated-user-token': token },
      body: JSON.stringify(body),
    })

  it('when a fully populated user is deleted, then no personal value remains in any table, in Keycloak or on the topic', async () => {
    // Arrange: the user everywhere (Keycloak, every Sunbird table, an external identity, a managed child).
    const account = await createKeycloakUser()
    const extId = `STUDENT-${randomUUID().slice(0, 8)}`
    const user = await h.seed({
      id: account.id,
      username: account.username,
      email: account.email,
      firstName: `Zubeida${randomUUID().slice(0, 4)}`,
      lastName: `Okonkwo${randomUUID().slice(0, 4)}`,
      phone: `98${Math.floor(Math.random() * 1e8)
        .toString()
        .padStart(8, '0')}`,
      dob: '1987-03-09',
      rootOrgId: ORG,
      organisations: [ORG, 'second-org'],
      externalIds: [{ provider: 'state-board', idType: 'roll', externalId: extId }],
    })
    const child = await h.seed({ managedBy: user.id, firstName: `Tomasz${randomUUID().slice(0, 4)}`, lastName: `Child${randomUUID().slice(0, 4)}`, rootOrgId: ORG })
    const before = await readUserState(h.db, user.id)
    const childBefore = await readUserState(h.db, child.id)
    const pii = [user, child].flatMap((u, i) => {
      const row = (i === 0 ? before : childBefore).user!
      // Values that identify this person (masks and seeded boilerplate are the same for every test user).
      return ['username', 'email', 'phone', 'firstname', 'lastname', 'prevusedemail', 'prevusedphone', 'recoveryemail', 'recoveryphone', 'loginid']
        .map((c) => row.get(c) as string)
        .concat(u.externalIds?.map((e) => e.externalId) ?? [])
    })
    pii.push(account.email, account.username, extId)
    const tokens = (await login(account))!

    // Act
    await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': tokens.access_token, 'x-request-id': `proof-${user.id}` }))
    expect(await h.service.publishEvents()).toBeGreaterThanOrEqual(1)

    // Assert: Cassandra, every table of the keyspace.
    const rows = await everyRow(h)
    for (const value of pii) {
      const hits = rows.filter((row) => row.includes(value))
      expect(hits, `"${value}" still in: ${hits.join('\n')}`).toEqual([])
    }
    // Keycloak.
    for (const term of [account.username, account.email]) expect(await keycloakSearch(term)).toEqual([])
    // The topic: our event is there, with ids only.
    const after = await readUserState(h.db, user.id)
    expect(after.user?.get('maskedemail')).toBe('')
    expect(after.user?.get('profiledetails')).toBeNull()
    const messages = await readTopic(h.config.events.topic)
    const ours = messages.filter((m) => m.value.includes(`proof-${user.id}`))
    expect(ours).toHaveLength(1)
    for (const value of pii)
      expect(
        messages.some((m) => m.value.includes(value)),
        value,
      ).toBe(false)
    const event = JSON.parse(ours[0]!.value)
    expect(event.edata).toMatchObject({ action: 'delete-user', iteration: 1, userId: user.id, organisationId: ORG, managed_users: [child.id] })
    expect(event.edata).not.toHaveProperty('userName')
  })

  it('when the requester asks for the status, then it shows every step, and the receipt proves the erasure without personal data', async () => {
    const admin = await createKeycloakUser({ roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
    const adminToken = (await login(admin))!.access_token
    // Values unique to this person, so finding one in the answer is theirs.
    const p = newPerson()
    const externalId = `X-${randomUUID()}`
    const user = await h.seed({ ...p, rootOrgId: ORG, externalIds: [{ provider: 'p', idType: 't', externalId }] })
    const personal = [p.firstName, p.lastName, p.username, p.email, p.phone, p.dob, externalId]
    const requestId = `req-${randomUUID()}`
    await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': adminToken, 'x-request-id': requestId }))

    const byId = await statusRequest({ request: { requestId } }, adminToken)
    const byUser = await statusRequest({ request: { userId: user.id } }, adminToken)
    for (const response of [byId, byUser]) {
      const text = await response.text()
      expect(response.status, text).toBe(200)
      const body = JSON.parse(text)
      expect(body.id).toBe('api.user.delete.status')
      const request = body.result.request
      expect(request).toMatchObject({ requestId, userId: user.id, state: 'completed' })
      // The Sunbird deletion's steps in order: contact-keyed stores before the lookups and profile are blanked.
      expect(Object.keys(request.steps)).toEqual([
        'lock',
        'keycloak',
        'otp',
        'rateLimit',
        'lookups',
        'externalIdentities',
        'organisations',
        'declarations',
        'notes',
        'searchNotes',
        'shadowUser',
        'userFeed',
        'userCert',
        'address',
        'extraTargets',
        'userRow',
        'searchUser',
        'searchAddedByName',
        'cacheUser',
        'managedUsers',
        'event',
      ])
      expect(request.steps.lookups).toMatchObject({ status: 'done', action: 'deleted', count: 4 })
      expect(request.steps.externalIdentities).toMatchObject({ status: 'done', count: 1 })
      expect(request.steps.organisations).toMatchObject({ status: 'done', action: 'marked-left', count: 1 })
      expect(request.receipt.subject).toBe(pseudonymise(h.config.deletion.receiptHashKey, user.id))
      expect(JSON.stringify(request.receipt)).not.toContain(user.id)
      expect(personal.filter((value) => text.includes(value))).toEqual([])
      expect(request.receipt.stores.map((s: { store: string }) => s.store)).toEqual(
        expect.arrayContaining(['keycloak', 'cassandra.user_lookup', 'cassandra.usr_external_identity', 'cassandra.user_roles', 'cassandra.user_deletion_audit']),
      )
    }
  })

  it('when someone else asks for the status, then 403; for an unknown request, then 404', async () => {
    const requester = await createKeycloakUser()
    await h.seed({ id: requester.id })
    const requesterToken = (await login(requester))!.access_token
    const requestId = `req-${randomUUID()}`
    await expectDeleted(await h.deleteRequest({ request: { userId: requester.id } }, { 'x-authenticated-user-token': requesterToken, 'x-request-id': requestId }))
    const stranger = (await login(await createKeycloakUser()))!.access_token
    await expectError(await statusRequest({ request: { requestId } }, stranger), 'FORBIDDEN')
    await expectError(await statusRequest({ request: { requestId: 'no-such-request' } }, stranger), 'DELETION_REQUEST_NOT_FOUND')
    await expectError(await statusRequest({ request: {} }, stranger), 'INVALID_REQUEST_DATA')
    await expectError(await statusRequest({ request: { requestId, userId: requester.id } }, stranger), 'INVALID_REQUEST_DATA')
  })
})

describe('the audit trail', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h.close()
  })

  it("when deletions happen, then each appends ids-only records to this instance's chain that verifies, and tampering is detected", async () => {
    const user = await h.seed()
    const requestId = `audit-${randomUUID()}`
    await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }), 'x-request-id': requestId }))

    const chain = h.service.audit.currentChain
    const rows = (await h.db.execute(`SELECT seq, record FROM ${TEST_KEYSPACE}.user_deletion_audit WHERE chain = ?`, [chain], { prepare: true })).rows
    const ours = rows.filter((row) => (row.get('record') as string).includes(requestId)).map((row) => JSON.parse(row.get('record') as string))
    expect(ours.map((r) => r.event)).toEqual(['deletion.accepted', 'deletion.completed'])
    expect(ours[0]).toMatchObject({ requestId, userId: user.id, requestedBy: user.id })
    expect(Object.keys(ours[0]).sort()).toEqual(['at', 'event', 'requestId', 'requestedBy', 'userId'])
    // Only this instance's chain: other tests tamper with chains of their own in this keyspace.
    expect(await h.service.audit.verify({ chains: [chain] })).toMatchObject({ ok: true })

    // Tamper with our first record, check, then put it back.
    const target = rows.find((row) => (row.get('record') as string).includes(requestId))!
    const seq = target.get('seq')
    const original = target.get('record') as string
    const update = `UPDATE ${TEST_KEYSPACE}.user_deletion_audit SET record = ? WHERE chain = ? AND seq = ?`
    await h.db.execute(update, [original.replace('deletion.accepted', 'deletion.failed'), chain, seq], { prepare: true })
    try {
      expect(await h.service.audit.verify({ chains: [chain] })).toMatchObject({ ok: false, chain, brokenAt: Number(seq) })
    } finally {
      await undoTampering(h.db, update, [original, chain, seq])
    }
    expect(await h.service.audit.verify({ chains: [chain] })).toMatchObject({ ok: true })
  })

  it("when a deletion's records are appended and the chain is anchored, then the anchor holds the chain's head", async () => {
    // Arrange: the anchors table before, the chain's head after one deletion.
    const user = await h.seed()
    await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }) }))
    const chain = h.service.audit.currentChain
    const head = (await h.db.execute(`SELECT seq, hash FROM ${TEST_KEYSPACE}.user_deletion_audit WHERE chain = ? ORDER BY seq DESC LIMIT 1`, [chain], { prepare: true })).first()

    // Act
    await h.service.audit.anchor()

    // Assert
    const anchor = (await h.db.execute(`SELECT seq, hash FROM ${TEST_KEYSPACE}.user_deletion_audit_anchor WHERE chain = ? ORDER BY seq DESC LIMIT 1`, [chain], { prepare: true })).first()
    expect({ seq: Number(anchor?.get('seq')), hash: anchor?.get('hash') }).toEqual({ seq: Number(head?.get('seq')), hash: head?.get('hash') })
  })

  it('when the legacy single chain holds records, then verification still walks it with the same rule', async () => {
    // The chain every record went to before chains were per instance: a record appended to its end the old way verifies.
    const verdict = await h.service.audit.verify({ chains: [LEGACY_CHAIN] })
    const legacy = (await h.db.execute(`SELECT seq, hash FROM ${TEST_KEYSPACE}.user_deletion_audit WHERE chain = ? ORDER BY seq DESC LIMIT 1`, [LEGACY_CHAIN], { prepare: true })).first()
    const seq = legacy ? Number(legacy.get('seq')) + 1 : 1
    const prevHash = legacy ? (legacy.get('hash') as string) : GENESIS
    const text = JSON.stringify({ event: 'deletion.failed', requestId: `legacy-${randomUUID()}`, userId: randomUUID(), requestedBy: randomUUID(), at: new Date().toISOString() })
    const insert = `INSERT INTO ${TEST_KEYSPACE}.user_deletion_audit (chain, seq, at, record, prevhash, hash) VALUES (?, ?, ?, ?, ?, ?)`
    await h.db.execute(insert, [LEGACY_CHAIN, seq, new Date(), text, prevHash, chainHash(prevHash, seq, text)], { prepare: true })
    expect(await h.service.audit.verify({ chains: [LEGACY_CHAIN] })).toMatchObject({ ok: true, records: verdict.records + 1 })

    // A legacy record altered: verification names the legacy chain.
    const update = `UPDATE ${TEST_KEYSPACE}.user_deletion_audit SET record = ? WHERE chain = ? AND seq = ?`
    await h.db.execute(update, [text.replace('deletion.failed', 'deletion.completed'), LEGACY_CHAIN, seq], { prepare: true })
    try {
      expect(await h.service.audit.verify({ chains: [LEGACY_CHAIN] })).toMatchObject({ ok: false, chain: LEGACY_CHAIN, brokenAt: seq })
    } finally {
      await undoTampering(h.db, update, [text, LEGACY_CHAIN, seq])
    }
  })
})
