import type { Client as SearchClient } from '@opensearch-project/opensearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CassandraDeletionRequests } from '../../src/store/cassandra-deletion-requests.js'
import { CassandraPersonalTables } from '../../src/store/cassandra-personal-tables.js'
import { CassandraUserStore } from '../../src/store/cassandra-user-store.js'
import { createSearchClient } from '../../src/search/search-client.js'
import { verifyDeletion } from '../../src/verification/verify-deletion.js'
import { expectDeleted } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { runDeletionVerify } from '../support/deletion-verify-cli.js'
import { type Harness, startHarness } from '../support/harness.js'
import { envelopeOf, lifecycle } from '../support/lifecycle.js'
import { findValues, newPerson, type PersonValues, seedEverywhere } from '../support/personal-data.js'
import { encryptAsSunbird, encryptUserAsSunbird } from '../support/sunbird-encryption.js'
import { LOCAL_SEARCH, TEST_KEYSPACE } from '../support/test-env.js'
import { connectDb12 } from '../support/redis-cache-db.js'
import { USER_ALIAS } from '../../src/search/sunbird-indexes.js'

/** This deployment's `sunbird_encryption_key`, as userorg-service runs with it. */
const KEY = 'a-deployment-encryption-key'

const q = (h: Harness, cql: string, params: unknown[]) => h.db.execute(cql, params, { prepare: true })
const ORG = '0137000000000000000012'

/** The contacts seedUser writes besides email and phone (scripts/lib/seed-users.ts). */
const recoveryEmailOf = (p: PersonValues) => `recovery.${p.email}`

/**
 * A person as a deployment with `sunbird_encryption=ON` holds them: the user row's contacts and the
 * lookups encrypted, but the recovery email stored plain (written before encryption was on); and
 * the codes Sunbird keyed by the plain values (OTPActor looks them up by the decrypted contact):
 * three otp rows (email, phone, recovery email) and two rate_limit rows.
 */
async function seedEncrypted(h: Harness, p: PersonValues): Promise<void> {
  await h.seed({ id: p.id, firstName: p.firstName, lastName: p.lastName, username: p.username, email: p.email, phone: p.phone, dob: p.dob })
  await encryptUserAsSunbird(h.db, TEST_KEYSPACE, p.id, KEY)
  await q(h, `UPDATE ${TEST_KEYSPACE}.user SET recoveryemail = ? WHERE id = ?`, [recoveryEmailOf(p), p.id])
  await q(h, `INSERT INTO ${TEST_KEYSPACE}.otp (type, key, otp, attemptedcount, createdon) VALUES ('email', ?, '482913', 0, toTimestamp(now())) USING TTL 1800`, [p.email])
  await q(h, `INSERT INTO ${TEST_KEYSPACE}.otp (type, key, otp, attemptedcount, createdon) VALUES ('phone', ?, '771204', 1, toTimestamp(now())) USING TTL 1800`, [p.phone])
  await q(h, `INSERT INTO ${TEST_KEYSPACE}.otp (type, key, otp, attemptedcount, createdon) VALUES ('email', ?, '190375', 0, toTimestamp(now())) USING TTL 1800`, [recoveryEmailOf(p)])
  await q(h, `INSERT INTO ${TEST_KEYSPACE}.rate_limit (key, unit, rate, ttl) VALUES (?, 'HOUR', 1, 3600) USING TTL 3600`, [p.email])
  await q(h, `INSERT INTO ${TEST_KEYSPACE}.rate_limit (key, unit, rate, ttl) VALUES (?, 'DAY', 2, 86400) USING TTL 86400`, [p.phone])
}

/** The code rows keyed by any of the person's plain values. */
async function codesOf(h: Harness, p: PersonValues): Promise<{ otp: number; rateLimit: number }> {
  const keys = [p.email, p.phone, recoveryEmailOf(p)]
  const otp = (await q(h, `SELECT key FROM ${TEST_KEYSPACE}.otp WHERE type IN ('email', 'phone') AND key IN ?`, [keys])).rowLength
  const rateLimit = (await q(h, `SELECT key FROM ${TEST_KEYSPACE}.rate_limit WHERE key IN ?`, [keys])).rowLength
  return { otp, rateLimit }
}

type ReceiptEntry = { store: string; action: string; count?: number }
const actionsOf = (receipt: Record<string, unknown> | null | undefined) =>
  Object.fromEntries(((receipt?.stores ?? []) as ReceiptEntry[]).map((entry) => [entry.store, `${entry.action}${entry.count === undefined ? '' : ` ${entry.count}`}`]))

describe('a deployment that stores the contacts encrypted (sunbird_encryption_key set), on the real Cassandra', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  let search: SearchClient
  beforeAll(async () => {
    h = await startHarness({ deletion: { sunbirdEncryptionKey: KEY } })
    api = lifecycle(h)
    search = createSearchClient({ ...LOCAL_SEARCH, timeoutMs: 10_000 })
  })
  afterAll(async () => {
    await Promise.all([h.close(), search.close()])
  })

  const verify = (requestId: string) =>
    verifyDeletion(
      {
        requests: new CassandraDeletionRequests(h.db, TEST_KEYSPACE),
        users: new CassandraUserStore(h.db, TEST_KEYSPACE),
        tables: new CassandraPersonalTables(h.db, TEST_KEYSPACE),
        search: undefined,
        cache: undefined,
        extraTargets: [],
        cassandra: h.db,
        keyspace: TEST_KEYSPACE,
        receiptKey: h.config.deletion.receiptHashKey,
      },
      requestId,
    )

  it("when Sunbird's deletion runs, then the codes keyed by the plain email and phone are found through the decrypted contacts (a contact stored plain, as it is), deleted and counted in the dry run and the receipt; no value, plain or encrypted, is kept anywhere", async () => {
    const p = newPerson()
    await seedEncrypted(h, p)
    const stored = (await q(h, `SELECT email, phone FROM ${TEST_KEYSPACE}.user WHERE id = ?`, [p.id])).first()
    expect([stored?.get('email'), stored?.get('phone')]).toEqual([encryptAsSunbird(p.email, KEY), encryptAsSunbird(p.phone, KEY)])
    expect(await codesOf(h, p)).toEqual({ otp: 3, rateLimit: 2 })

    const dryRun = await envelopeOf(await api.remove(p.id, { dryRun: true }, api.asUser(p.id)))
    const plan = dryRun.result.plan as { store: string; action: string; count: number }[]
    expect(plan.filter((entry) => entry.store === 'cassandra.otp' || entry.store === 'cassandra.rate_limit')).toEqual([
      { store: 'cassandra.otp', action: 'delete', count: 3 },
      { store: 'cassandra.rate_limit', action: 'delete', count: 2 },
    ])

    await expectDeleted(await api.remove(p.id, {}, api.asUser(p.id)))

    expect(await codesOf(h, p)).toEqual({ otp: 0, rateLimit: 0 })
    const [request] = await requestsOf(h.db, p.id)
    expect(request?.state).toBe('completed')
    expect(actionsOf(request?.receipt)).toMatchObject({ 'cassandra.otp': 'deleted 3', 'cassandra.rate_limit': 'deleted 2', 'cassandra.user_lookup': 'deleted 3' })
    // Every table of the keyspace (the request, its receipt, the audit trail, the outbox included): no value of the person's, decrypted or as stored.
    const values = [p.email, p.phone, recoveryEmailOf(p), encryptAsSunbird(p.email, KEY), encryptAsSunbird(p.phone, KEY)]
    expect(await findValues(h.db, search, values)).toEqual([])
  })

  describe('POST /api/user/v1/export', () => {
    /** The user row's columns Sunbird stores encrypted. */
    const ENCRYPTED = ['email', 'phone', 'username', 'loginid', 'prevusedemail', 'prevusedphone', 'recoveryemail', 'recoveryphone']
    const byTypeAndValue = (a: { type: string; value: string }, b: { type: string; value: string }) => `${a.type}|${a.value}`.localeCompare(`${b.type}|${b.value}`)

    it("when a person Sunbird stores encrypted exports their data, then the row's encrypted columns and the email, phone and username lookups come back as the person gave them (one stored plain, as stored); every other column as stored", async () => {
      const p = newPerson()
      await h.seed({ id: p.id, firstName: p.firstName, lastName: p.lastName, username: p.username, email: p.email, phone: p.phone, dob: p.dob })
      const given = (await q(h, `SELECT ${ENCRYPTED.join(', ')}, firstname, maskedemail FROM ${TEST_KEYSPACE}.user WHERE id = ?`, [p.id])).first()
      const givenRow = Object.fromEntries(given?.keys().map((column) => [column, given.get(column)]) ?? [])
      const givenLookups = (await q(h, `SELECT type, value FROM ${TEST_KEYSPACE}.user_lookup WHERE userid = ?`, [p.id])).rows.map((row) => ({
        type: row.get('type') as string,
        value: row.get('value') as string,
      }))
      await encryptUserAsSunbird(h.db, TEST_KEYSPACE, p.id, KEY)
      // Written before encryption was on: it does not decrypt, and is exported as stored (plain).
      await q(h, `UPDATE ${TEST_KEYSPACE}.user SET recoveryemail = ? WHERE id = ?`, [givenRow.recoveryemail, p.id])
      const stored = (await q(h, `SELECT email, username FROM ${TEST_KEYSPACE}.user WHERE id = ?`, [p.id])).first()
      expect([stored?.get('email'), stored?.get('username')]).toEqual([encryptAsSunbird(p.email, KEY), encryptAsSunbird(p.username, KEY)])

      const answer = await envelopeOf(await api.exportOf(p.id, api.asUser(p.id)))

      expect(answer.status).toBe(200)
      const user = answer.result.user as { row: Record<string, unknown>; lookups: { type: string; value: string }[] }
      expect(user.row).toMatchObject({ id: p.id, ...givenRow })
      expect([...user.lookups].sort(byTypeAndValue)).toEqual([...givenLookups].sort(byTypeAndValue))
      expect(JSON.stringify(user)).not.toContain(encryptAsSunbird(p.email, KEY).slice(0, 40))
    })
  })

  describe('POST /api/user/v1/export, the copies of the row in other stores', () => {
    it('when a person Sunbird stores encrypted in the search document, the user cache and their declarations exports their data, then those sections and a declared email among the external identities give the encrypted fields as the person gave them (one that does not decrypt, as stored), the other fields as stored, and no ciphertext', async () => {
      const p = newPerson()
      await seedEverywhere(h, search, p, ORG)
      await encryptUserAsSunbird(h.db, TEST_KEYSPACE, p.id, KEY)
      // As userorg-service writes them: the document is the row (camelCase), the cache the row's columns, the declared contacts encrypted.
      const encrypted = (value: string) => encryptAsSunbird(value, KEY)
      await search.update({
        index: USER_ALIAS,
        id: p.id,
        refresh: true,
        body: { doc: { userName: encrypted(p.username), email: encrypted(p.email), phone: encrypted(p.phone), encEmail: encrypted(p.email), recoveryEmail: `recovery.${p.email}` } },
      })
      const redis = await connectDb12()
      await redis.hSet(`user:${p.id}`, { email: encrypted(p.email), phone: encrypted(p.phone), username: encrypted(p.username) }).finally(() => redis.close())
      const declared = { 'declared-email': encrypted(p.email), 'declared-phone': encrypted(p.phone), 'declared-school-name': p.declaredSchool }
      await q(h, `UPDATE ${TEST_KEYSPACE}.user_declarations SET userinfo = ? WHERE userid = ? AND orgid = ? AND persona = ?`, [declared, p.id, ORG, 'teacher'])
      // A declared email as an external identity: its id encrypted, and lowercased as the key's column (which then no longer decrypts).
      await q(h, `INSERT INTO ${TEST_KEYSPACE}.usr_external_identity (provider, idtype, externalid, userid, originalexternalid, originalidtype, originalprovider) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
        ORG,
        'declared-email',
        encrypted(p.email).toLowerCase(),
        p.id,
        encrypted(p.email),
        'declared-email',
        ORG,
      ])

      const answer = await envelopeOf(await api.exportOf(p.id, api.asUser(p.id)))

      expect(answer.status).toBe(200)
      const user = answer.result.user as Record<string, unknown>
      expect(user.searchDocument).toMatchObject({
        firstName: p.firstName,
        userName: p.username,
        email: p.email,
        phone: p.phone,
        encEmail: p.email,
        recoveryEmail: `recovery.${p.email}`,
        maskedEmail: 'as****@example.org',
      })
      expect(user.cache).toMatchObject({ firstname: p.firstName, email: p.email, phone: p.phone, username: p.username, schoolname: p.declaredSchool })
      expect(user.externalIdentities).toContainEqual(expect.objectContaining({ idtype: 'declared-email', originalexternalid: p.email, externalid: encrypted(p.email).toLowerCase() }))
      expect(user.user_declarations).toEqual([
        expect.objectContaining({ persona: 'teacher', userinfo: { 'declared-email': p.email, 'declared-phone': p.phone, 'declared-school-name': p.declaredSchool } }),
      ])
      const text = JSON.stringify(user)
      for (const value of [p.email, p.phone, p.username]) expect(text).not.toContain(JSON.stringify(encrypted(value)).slice(1, -1))
    })
  })

  describe('npm run deletion:verify', () => {
    it('when the deletion left nothing, then the by-value lines are ok; when a code keyed by the plain email and a lookup of the encrypted phone come back, then both are residue by value, and the command exits 1 without printing a value', async () => {
      const p = newPerson()
      await seedEncrypted(h, p)
      await expectDeleted(await api.remove(p.id, {}, api.asUser(p.id)))
      const [request] = await requestsOf(h.db, p.id)
      const byValue = (rows: { store: string }[] | undefined) => (rows ?? []).filter((row) => row.store.endsWith('(by value)'))

      const clean = await verify(request?.id ?? '')
      expect(clean?.rows.filter((row) => row.residue)).toEqual([])
      expect(byValue(clean?.rows)).toEqual([
        { store: 'cassandra.otp (by value)', expected: '0 rows', found: '0 rows', residue: false },
        { store: 'cassandra.rate_limit (by value)', expected: '0 rows', found: '0 rows', residue: false },
        { store: 'cassandra.user_lookup (by value)', expected: '0 rows', found: '0 rows', residue: false },
      ])

      await q(h, `INSERT INTO ${TEST_KEYSPACE}.otp (type, key, otp) VALUES ('email', ?, '123456') USING TTL 600`, [p.email])
      await q(h, `INSERT INTO ${TEST_KEYSPACE}.rate_limit (key, unit, rate, ttl) VALUES (?, 'HOUR', 1, 3600) USING TTL 600`, [recoveryEmailOf(p)])
      await q(h, `INSERT INTO ${TEST_KEYSPACE}.user_lookup (type, value) VALUES ('phone', ?)`, [encryptAsSunbird(p.phone, KEY)])

      const dirty = await verify(request?.id ?? '')
      expect(byValue(dirty?.rows)).toEqual([
        { store: 'cassandra.otp (by value)', expected: '0 rows', found: '1 row', residue: true },
        { store: 'cassandra.rate_limit (by value)', expected: '0 rows', found: '1 row', residue: true },
        { store: 'cassandra.user_lookup (by value)', expected: '0 rows', found: '1 row', residue: true },
      ])

      const cli = runDeletionVerify(request?.id ?? '')
      expect(cli.status, cli.stderr).toBe(1)
      expect(cli.stdout).toMatch(/cassandra\.otp \(by value\)\s+0 rows\s+1 row\s+RESIDUE/)
      expect(cli.stdout).toMatch(/cassandra\.rate_limit \(by value\)\s+0 rows\s+1 row\s+RESIDUE/)
      for (const value of [p.email, p.phone, recoveryEmailOf(p), KEY]) expect(`${cli.stdout}${cli.stderr}`).not.toContain(value)
    })

    it("when the person and their managed user are deleted and others sign up again with their email and phone (held encrypted in user_lookup) and ask for codes (keyed by the plain values), then those codes are those users', not residue: ok, exit 0", async () => {
      const parent = newPerson()
      const child = newPerson()
      await seedEncrypted(h, parent)
      await seedEncrypted(h, child)
      await q(h, `UPDATE ${TEST_KEYSPACE}.user SET managedby = ? WHERE id = ?`, [parent.id, child.id])
      await expectDeleted(await api.remove(parent.id, {}, api.asUser(parent.id)))
      const [request] = await requestsOf(h.db, parent.id)
      expect(request?.state).toBe('completed')

      // The freed values taken again as Sunbird stores them: the lookups encrypted, the codes keyed by the plain value.
      const newcomer = await h.seed({ email: parent.email })
      const another = await h.seed({ phone: child.phone })
      await encryptUserAsSunbird(h.db, TEST_KEYSPACE, newcomer.id, KEY)
      await encryptUserAsSunbird(h.db, TEST_KEYSPACE, another.id, KEY)
      await q(h, `INSERT INTO ${TEST_KEYSPACE}.otp (type, key, otp) VALUES ('email', ?, '123456') USING TTL 600`, [parent.email])
      await q(h, `INSERT INTO ${TEST_KEYSPACE}.rate_limit (key, unit, rate, ttl) VALUES (?, 'HOUR', 1, 3600) USING TTL 600`, [child.phone])

      const taken = await verify(request?.id ?? '')
      const byValue = (rows: readonly { store: string; found?: string; residue: boolean }[] | undefined) =>
        (rows ?? []).filter((row) => row.store.endsWith('(by value)')).map((row) => [row.store, row.found, row.residue])
      expect(byValue(taken?.rows)).toEqual([
        ['cassandra.otp (by value)', '0 rows (1 row of another user)', false],
        ['cassandra.rate_limit (by value)', '0 rows', false],
        ['cassandra.user_lookup (by value)', '0 rows (1 row of another user)', false],
      ])
      expect(byValue(taken?.managedUsers?.byValue)).toEqual([
        ['cassandra.otp (by value)', '0 rows', false],
        ['cassandra.rate_limit (by value)', '0 rows (1 row of another user)', false],
        ['cassandra.user_lookup (by value)', '0 rows (1 row of another user)', false],
      ])
      const cli = runDeletionVerify(request?.id ?? '')
      expect(cli.status, cli.stdout + cli.stderr).toBe(0)
      expect(cli.stdout).toMatch(/cassandra\.otp \(by value\)\s+0 rows\s+0 rows \(1 row of another user\)/)
      for (const value of [parent.email, child.phone, KEY]) expect(`${cli.stdout}${cli.stderr}`).not.toContain(value)
    })
  })
})
