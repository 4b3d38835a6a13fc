import { randomUUID } from 'node:crypto'
import type { Client as SearchClient } from '@opensearch-project/opensearch'
import { createClient } from '@redis/client'
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisConnection } from '../../src/redis/redis-client.js'
import { RedisUserCache } from '../../src/redis/redis-user-cache.js'
import { OpenSearchUserIndex } from '../../src/search/opensearch-user-index.js'
import { createSearchClient } from '../../src/search/search-client.js'
import { CassandraDeletionRequests } from '../../src/store/cassandra-deletion-requests.js'
import { CassandraPersonalTables } from '../../src/store/cassandra-personal-tables.js'
import { CassandraUserStore } from '../../src/store/cassandra-user-store.js'
import { keyId } from '../../src/deletion/keyed-hash.js'
import { hasResidue, verifyDeletion } from '../../src/verification/verify-deletion.js'
import { USER_ALIAS } from '../../src/search/sunbird-indexes.js'
import { expectDeleted } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { envelopeOf, lifecycle } from '../support/lifecycle.js'
import { findValues, newPerson, personalValues, seedEverywhere } from '../support/personal-data.js'
import { freePort } from '../support/spawned-server.js'
import { LOCAL_REDIS, LOCAL_SEARCH, TEST_KEYSPACE } from '../support/test-env.js'
import { runDeletionVerify } from '../support/deletion-verify-cli.js'

const ORG = '0137000000000000000012'

/** The topic's retention.ms and segment.ms, as its broker answers them. */
async function topicSettings(brokers: readonly string[], topic: string): Promise<{ retentionMs: number; segmentMs: number }> {
  const admin = new Kafka({ clientId: 'erasure-everywhere-test', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'segment.ms'] }] })
    const value = (name: string) => Number(resources[0]?.configEntries.find((entry) => entry.configName === name)?.configValue)
    return { retentionMs: value('retention.ms'), segmentMs: value('segment.ms') }
  } finally {
    await admin.disconnect()
  }
}

type ReceiptEntry = { store: string; action: string; count?: number; physicallyErasedBy?: string; physicalErasure?: string }
const entriesOf = (receipt: Record<string, unknown> | null | undefined) => (receipt?.stores ?? []) as ReceiptEntry[]
const actionsOf = (receipt: Record<string, unknown> | null | undefined) =>
  Object.fromEntries(entriesOf(receipt).map((entry) => [entry.store, `${entry.action}${entry.count === undefined ? '' : ` ${entry.count}`}`]))

/**
 * A realistic person in every store a Sunbird deployment keeps them in (the five tables, the side
 * and legacy tables, the codes keyed by plain email and phone, Sunbird's search index with its
 * mapping, the Redis user cache), deleted in each mode over HTTP; then every personal value is
 * searched for in OpenSearch, every table of the keyspace is scanned, and so is the Redis keyspace.
 */
describe('a person erased from every store, on the real Cassandra, OpenSearch and Redis', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  let search: SearchClient
  beforeAll(async () => {
    h = await startHarness()
    api = lifecycle(h)
    search = createSearchClient({ ...LOCAL_SEARCH, timeoutMs: 10_000 })
  })
  afterAll(async () => {
    await Promise.all([h.close(), search.close()])
  })

  it('when Sunbird’s deletion (no mode) runs, then no personal value is left anywhere, the search document is a tombstone of ids and flags, consent rows stay, and the receipt names every store', async () => {
    const p = newPerson()
    await seedEverywhere(h, search, p, ORG)
    expect(await findValues(h.db, search, personalValues(p))).toEqual(
      expect.arrayContaining([
        'user',
        'user_lookup',
        'user_declarations',
        'user_notes',
        'otp',
        'rate_limit',
        'shadow_user',
        'user_feed',
        'user_cert',
        'address',
        `search:${USER_ALIAS}`,
        'search:usernotes',
        `redis:user:${p.id}`,
      ]),
    )

    await expectDeleted(await api.remove(p.id, {}, api.asUser(p.id)))

    expect(await findValues(h.db, search, personalValues(p))).toEqual([])
    const { body } = await search.get({ index: USER_ALIAS, id: p.id })
    expect(body._source).toEqual({ id: p.id, userId: p.id, identifier: p.id, status: 2, isDeleted: true, isBlocked: true, rootOrgId: ORG, organisations: [{ organisationId: ORG }] })
    expect((await h.db.execute(`SELECT status FROM ${TEST_KEYSPACE}.user_consent WHERE user_id = ?`, [p.id], { prepare: true })).rowLength).toBe(1)
    expect((await h.db.execute(`SELECT name, email, phone FROM ${TEST_KEYSPACE}.shadow_user WHERE userid = ?`, [p.id], { prepare: true })).first()?.get('name')).toBeNull()
    const [request] = await requestsOf(h.db, p.id)
    expect(request?.state).toBe('completed')
    expect(actionsOf(request?.receipt)).toMatchObject({
      'search.user_alias': 'tombstoned 1',
      'search.usernotes': 'deleted 1',
      'redis.user': 'deleted 1',
      'cassandra.user_declarations': 'deleted 1',
      'cassandra.user_consent': 'kept',
      'cassandra.user_notes': 'deleted 1',
      'cassandra.otp': 'deleted 2',
      'cassandra.rate_limit': 'deleted 2',
      'cassandra.shadow_user': 'blanked 1',
      'cassandra.user_feed': 'deleted 1',
      'cassandra.user_cert': 'deleted 1',
      'cassandra.address': 'deleted 1',
      'downstream.ml': 'left to ml via the delete-user event',
      'downstream.knowlg': 'left to knowlg via the delete-user event',
      'cassandra.bulk_upload_process': 'not reachable by user id',
    })
    // When each store drops the old values physically, from its live settings.
    const entries = entriesOf(request?.receipt)
    const completedAt = Date.parse(String(request?.receipt?.completedAt))
    const gcGrace = Number(
      (await h.db.execute("SELECT gc_grace_seconds FROM system_schema.tables WHERE keyspace_name = ? AND table_name = 'user_notes'", [TEST_KEYSPACE], { prepare: true }))
        .first()
        ?.get('gc_grace_seconds'),
    )
    const notes = entries.find((entry) => entry.store === 'cassandra.user_notes')
    expect(Date.parse(notes?.physicallyErasedBy ?? '')).toBe(completedAt + gcGrace * 1000)
    expect(notes?.physicalErasure).toContain(`gc_grace_seconds (${gcGrace} s)`)
    expect(entries.find((entry) => entry.store === 'cassandra.user (profile)')?.physicalErasure).toContain(`nodetool compact ${TEST_KEYSPACE} user`)
    expect(entries.find((entry) => entry.store === 'search.user_alias')?.physicalErasure).toContain('_forcemerge?only_expunge_deletes=true')
    expect(entries.find((entry) => entry.store === 'redis.user')?.physicallyErasedBy).toBe(request?.receipt?.completedAt)
    // Kafka drops whole segments once their newest record is past retention.ms: the event's may take records for segment.ms more.
    const topic = await topicSettings(h.config.events.brokers, h.config.events.topic)
    const event = entries.find((entry) => entry.store === 'kafka (delete.user topic)')
    expect(event?.action).toBe('queued')
    expect(Date.parse(event?.physicallyErasedBy ?? '')).toBe(completedAt + topic.segmentMs + topic.retentionMs + 300_000)
    expect(event?.physicalErasure).toContain(`segment.ms (${topic.segmentMs} ms)`)
    // What was kept (consent, roles) or only appended (the audit trail) is not going: no date, no how.
    for (const store of ['cassandra.user_consent', 'cassandra.user_roles', 'cassandra.user_deletion_audit']) {
      expect(entries.find((entry) => entry.store === store)?.action, store).toMatch(/^(kept|appended)$/)
      expect(
        entries.find((entry) => entry.store === store),
        store,
      ).not.toHaveProperty('physicallyErasedBy')
    }
  })

  it('when a hard deletion runs, then no personal value is left anywhere and the search document and consent rows are gone', async () => {
    const p = newPerson()
    await seedEverywhere(h, search, p, ORG)

    await expectDeleted(await api.remove(p.id, { mode: 'hard' }, api.asUser(p.id)))

    expect(await findValues(h.db, search, personalValues(p))).toEqual([])
    expect((await search.exists({ index: USER_ALIAS, id: p.id })).body).toBe(false)
    expect((await h.db.execute(`SELECT status FROM ${TEST_KEYSPACE}.user_consent WHERE user_id = ?`, [p.id], { prepare: true })).rowLength).toBe(0)
    const [request] = await requestsOf(h.db, p.id)
    expect(actionsOf(request?.receipt)).toMatchObject({ 'search.user_alias': 'deleted 1', 'cassandra.user_consent': 'deleted 1', 'cassandra.shadow_user': 'deleted 1' })
  })

  it('when a soft deletion runs, then only the cache and the short-lived codes go, the search document is flagged; on cancel its flags come back and what soft kept is all there', async () => {
    const p = newPerson()
    await seedEverywhere(h, search, p, ORG)
    const kept = ['address', 'shadow_user', 'user', 'user_cert', 'user_declarations', 'user_feed', 'user_lookup', 'user_notes', `search:${USER_ALIAS}`, 'search:usernotes'].sort()

    await expectDeleted(await api.remove(p.id, { mode: 'soft' }, api.asUser(p.id)))

    expect(await findValues(h.db, search, personalValues(p))).toEqual(kept)
    expect((await search.get({ index: USER_ALIAS, id: p.id })).body._source).toMatchObject({ status: 2, isDeleted: true, isBlocked: true, firstName: p.firstName })
    const [request] = await requestsOf(h.db, p.id)
    expect(request?.state).toBe('completed')

    expect((await envelopeOf(await api.cancel(p.id, api.asUser(p.id)))).status).toBe(200)

    const restored = (await search.get({ index: USER_ALIAS, id: p.id })).body._source as Record<string, unknown>
    expect(restored).toMatchObject({ status: 1, isDeleted: false, firstName: p.firstName, userName: p.username, dob: p.dob })
    // The seeded document had no isBlocked (Sunbird writes none into a live user's): the cancel removes it, never leaves a null.
    expect(restored).not.toHaveProperty('isBlocked')
    expect(await findValues(h.db, search, personalValues(p))).toEqual(kept)
  })

  /** Deletes the person through an instance whose search engine is unreachable: answered 200, the request left partial, owing the search steps. */
  async function deleteWhileSearchIsDown(p: ReturnType<typeof newPerson>) {
    const down = await startHarness({ search: { hosts: ['127.0.0.1'], port: await freePort(), timeoutMs: 500 }, deletion: { leaseMs: 1000 } })
    try {
      await expectDeleted(await lifecycle(down).remove(p.id, {}, lifecycle(down).asUser(p.id)))
    } finally {
      await down.close()
    }
  }

  /** One sweep by a fresh instance (its search settings `search`, else the local engine's) once the last run's 1 s lease has run out. */
  async function sweepOnceLeaseRanOut(search?: { hosts: string[] }) {
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const instance = await startHarness({ ...(search && { search }), deletion: { leaseMs: 1000 } })
    try {
      await instance.service.resumeOpen()
    } finally {
      await instance.close()
    }
  }

  it('when the search engine is down, then the request is partial with the search steps pending, and a later sweep with it back erases the document', async () => {
    const p = newPerson()
    await seedEverywhere(h, search, p, ORG)
    await deleteWhileSearchIsDown(p)
    const [partial] = await requestsOf(h.db, p.id)
    expect(partial?.state).toBe('partial')
    expect(partial?.steps.searchUser).toMatchObject({ status: 'pending', action: 'unreachable' })
    expect(partial?.steps.searchNotes).toMatchObject({ status: 'pending' })
    expect(entriesOf(partial?.receipt).find((entry) => entry.store === 'search.user_alias')?.action).toBe('pending')

    await sweepOnceLeaseRanOut()

    const [done] = await requestsOf(h.db, p.id)
    expect(done?.state).toBe('completed')
    expect(await findValues(h.db, search, personalValues(p))).toEqual([])
  })

  it('when a request owing the search engine is resumed by a process started without sunbird_es_host, then the steps stay pending and the document stays until a configured process erases it', async () => {
    const p = newPerson()
    await seedEverywhere(h, search, p, ORG)
    await deleteWhileSearchIsDown(p)
    const [partial] = await requestsOf(h.db, p.id)
    expect(partial?.steps.searchUser).toMatchObject({ status: 'pending', action: 'unreachable' })

    // The operator's shell, or an instance, without sunbird_es_host: the same Cassandra, no search engine.
    await sweepOnceLeaseRanOut({ hosts: [] })
    const [still] = await requestsOf(h.db, p.id)
    expect(still?.state).toBe('partial')
    expect(still?.steps.searchUser).toMatchObject({ status: 'pending', action: 'not configured here' })
    expect(still?.steps.searchNotes).toMatchObject({ status: 'pending', action: 'not configured here' })
    expect(actionsOf(still?.receipt)).toMatchObject({ 'search.user_alias': 'pending', 'search.usernotes': 'pending' })
    expect(await findValues(h.db, search, personalValues(p))).toEqual(expect.arrayContaining([`search:${USER_ALIAS}`, 'search:usernotes']))

    await sweepOnceLeaseRanOut()
    const [done] = await requestsOf(h.db, p.id)
    expect(done?.state).toBe('completed')
    expect(await findValues(h.db, search, personalValues(p))).toEqual([])
  })

  describe('npm run deletion:verify', () => {
    const verifyCommand = runDeletionVerify

    const verify = async (requestId: string) => {
      const redis = new RedisConnection({ ...LOCAL_REDIS, db: 12, timeoutMs: 2000 })
      try {
        return await verifyDeletion(
          {
            requests: new CassandraDeletionRequests(h.db, TEST_KEYSPACE),
            users: new CassandraUserStore(h.db, TEST_KEYSPACE),
            tables: new CassandraPersonalTables(h.db, TEST_KEYSPACE),
            search: new OpenSearchUserIndex(search),
            cache: new RedisUserCache(redis),
            extraTargets: [],
            cassandra: h.db,
            keyspace: TEST_KEYSPACE,
            receiptKey: h.config.deletion.receiptHashKey,
          },
          requestId,
        )
      } finally {
        await redis.close()
      }
    }

    it('when a deletion left nothing, then every store is ok; when a code keyed by the plain email and a note come back, then exactly those are residue, found by value and by id, and the command exits 1 without printing a value', async () => {
      const p = newPerson()
      await seedEverywhere(h, search, p, ORG)
      await expectDeleted(await api.remove(p.id, {}, api.asUser(p.id)))
      const [request] = await requestsOf(h.db, p.id)

      const clean = await verify(request?.id ?? '')
      expect(clean?.rows.filter((row) => row.residue)).toEqual([])
      expect(clean?.rows.map((row) => row.store)).toEqual(expect.arrayContaining(['search.user_alias', 'search.usernotes', 'redis.user', 'cassandra.otp (by value)', 'cassandra.user_notes']))
      // Sunbird's deletion marked the real membership row left (isdeleted, orgleftdate), as read back.
      expect(clean?.rows.find((row) => row.store === 'cassandra.user_organisation')).toEqual({
        store: 'cassandra.user_organisation',
        expected: 'every row marked left',
        found: '0 of 1 row not marked left',
        residue: false,
      })

      await h.db.execute(`INSERT INTO ${TEST_KEYSPACE}.otp (type, key, otp) VALUES ('email', ?, '123456') USING TTL 600`, [p.email], { prepare: true })
      await h.db.execute(`INSERT INTO ${TEST_KEYSPACE}.user_notes (id, userid, note) VALUES (?, ?, 'again')`, [`note2-${p.id}`, p.id], { prepare: true })
      await h.db.execute(`INSERT INTO ${TEST_KEYSPACE}.user_organisation (userid, organisationid, isdeleted) VALUES (?, 'another-org', false)`, [p.id], { prepare: true })

      const dirty = await verify(request?.id ?? '')
      expect(dirty?.rows.filter((row) => row.residue).map((row) => row.store)).toEqual(['cassandra.user_organisation', 'cassandra.user_notes', 'cassandra.otp (by value)'])

      const cli = verifyCommand(request?.id ?? '')
      expect(cli.status, cli.stderr).toBe(1)
      expect(cli.stdout).toMatch(/cassandra\.otp \(by value\)\s+0 rows\s+1 row\s+RESIDUE/)
      for (const value of personalValues(p)) expect(cli.stdout).not.toContain(value)
    })

    it('when the deleted person managed a user, then that user is checked by the id the request recorded (the hard deletion cut the managedby link) in every store the person is; what comes back of theirs is residue, by id and by value, and the command exits 1 naming them by id only', async () => {
      const parent = newPerson()
      const child = newPerson()
      await seedEverywhere(h, search, parent, ORG)
      await seedEverywhere(h, search, child, ORG)
      await h.db.execute(`UPDATE ${TEST_KEYSPACE}.user SET managedby = ? WHERE id = ?`, [parent.id, child.id], { prepare: true })
      await expectDeleted(await api.remove(parent.id, { mode: 'hard' }, api.asUser(parent.id)))
      const [request] = await requestsOf(h.db, parent.id)
      expect(request?.state).toBe('completed')

      const clean = await verify(request?.id ?? '')
      expect(clean?.managedUsers).toMatchObject({ recorded: 1, linkedOnly: 0 })
      expect(clean?.managedUsers?.users.map((user) => user.userId)).toEqual([child.id])
      expect(clean?.managedUsers?.users[0]?.rows.map((row) => row.store)).toEqual(clean?.rows.map((row) => row.store).filter((store) => !store.endsWith('(by value)')))
      expect(clean && hasResidue(clean)).toBe(false)

      // The managed user's code keyed by their plain email, a note and their cache entry come back.
      await h.db.execute(`INSERT INTO ${TEST_KEYSPACE}.otp (type, key, otp) VALUES ('email', ?, '123456') USING TTL 600`, [child.email], { prepare: true })
      await h.db.execute(`INSERT INTO ${TEST_KEYSPACE}.user_notes (id, userid, note) VALUES (?, ?, 'again')`, [`note2-${child.id}`, child.id], { prepare: true })
      const redis = createClient({ socket: { host: LOCAL_REDIS.host, port: LOCAL_REDIS.port }, database: 12 })
      await redis.connect()
      try {
        await redis.hSet(`user:${child.id}`, { userid: child.id, firstname: child.firstName })
      } finally {
        await redis.close()
      }

      const dirty = await verify(request?.id ?? '')
      const residueOf = (rows: readonly { store: string; residue: boolean }[] | undefined) => (rows ?? []).filter((row) => row.residue).map((row) => row.store)
      expect(residueOf(dirty?.rows)).toEqual([])
      expect(residueOf(dirty?.managedUsers?.users[0]?.rows)).toEqual(['cassandra.user_notes', 'redis.user'])
      expect(residueOf(dirty?.managedUsers?.byValue)).toEqual(['cassandra.otp (by value)'])

      const cli = verifyCommand(request?.id ?? '')
      expect(cli.status, cli.stderr).toBe(1)
      expect(cli.stdout).toContain(`person ${parent.id}: ok`)
      expect(cli.stdout).toContain(`managed user ${child.id}: RESIDUE`)
      expect(cli.stdout).toMatch(/redis\.user\s+no key\s+key\s+RESIDUE/)
      expect(cli.stdout).toMatch(/managed users by value \(their contacts together\): RESIDUE\n.*\ncassandra\.otp \(by value\)\s+0 rows\s+1 row\s+RESIDUE/)
      for (const value of [...personalValues(parent), ...personalValues(child)]) expect(cli.stdout).not.toContain(value)
    })

    it('when Sunbird’s deletion (no mode) scrubbed the person and their managed user, then both rows are ok; when a column describing them comes back (places, class, terms accepted, role), then exactly that row is residue, its columns counted, and the command exits 1 without printing a value', async () => {
      const parent = newPerson()
      const child = newPerson()
      await seedEverywhere(h, search, parent, ORG)
      await seedEverywhere(h, search, child, ORG)
      await h.db.execute(`UPDATE ${TEST_KEYSPACE}.user SET managedby = ? WHERE id = ?`, [parent.id, child.id], { prepare: true })
      await expectDeleted(await api.remove(parent.id, {}, api.asUser(parent.id)))
      const [request] = await requestsOf(h.db, parent.id)
      expect(request?.state).toBe('completed')
      const profileOf = (rows: readonly { store: string; found: string; residue: boolean }[] | undefined) => rows?.find((row) => row.store === 'cassandra.user (profile)')

      const clean = await verify(request?.id ?? '')
      expect(profileOf(clean?.rows)).toMatchObject({ found: '0 personal column(s) set', residue: false })
      expect(profileOf(clean?.managedUsers?.users[0]?.rows)).toMatchObject({ found: '0 personal column(s) set', residue: false })

      // A list, a map, a timestamp and a text column of the person's; a map of the managed user's.
      const school = `school-${parent.id}`
      await h.db.execute(
        `UPDATE ${TEST_KEYSPACE}.user SET locationids = ?, framework = ?, tncacceptedon = ?, usertype = ? WHERE id = ?`,
        [['state-1', school], { board: ['CBSE'] }, new Date(), 'administrator', parent.id],
        { prepare: true },
      )
      await h.db.execute(`UPDATE ${TEST_KEYSPACE}.user SET alltncaccepted = ? WHERE id = ?`, [{ groupsTnc: '{"version":"3.4.0"}' }, child.id], { prepare: true })

      const dirty = await verify(request?.id ?? '')
      expect(profileOf(dirty?.rows)).toMatchObject({ found: '4 personal column(s) set', residue: true })
      expect(profileOf(dirty?.managedUsers?.users[0]?.rows)).toMatchObject({ found: '1 personal column(s) set', residue: true })
      expect(dirty?.rows.filter((row) => row.residue).map((row) => row.store)).toEqual(['cassandra.user (profile)'])

      const cli = verifyCommand(request?.id ?? '')
      expect(cli.status, cli.stderr).toBe(1)
      expect(cli.stdout).toContain(`person ${parent.id}: RESIDUE`)
      expect(cli.stdout).toContain(`managed user ${child.id}: RESIDUE`)
      expect(cli.stdout).toMatch(/cassandra\.user \(profile\)\s+no personal column\s+4 personal column\(s\) set\s+RESIDUE/)
      for (const value of [...personalValues(parent), ...personalValues(child), school, 'CBSE', 'administrator', '3.4.0']) expect(cli.stdout).not.toContain(value)
    })

    it("when another user now holds the email of the deleted person and the phone of their managed user (a new account, or the person signing up again), then those lookup rows and the codes sent to them are that user's, not residue: ok, exit 0; a lookup naming a user the deletion erased or no user that is there, and a code of a value nobody else holds, are still residue, exit 1", async () => {
      const parent = newPerson()
      const child = newPerson()
      await seedEverywhere(h, search, parent, ORG)
      await seedEverywhere(h, search, child, ORG)
      await h.db.execute(`UPDATE ${TEST_KEYSPACE}.user SET managedby = ? WHERE id = ?`, [parent.id, child.id], { prepare: true })
      await expectDeleted(await api.remove(parent.id, { mode: 'hard' }, api.asUser(parent.id)))
      const [request] = await requestsOf(h.db, parent.id)
      expect(request?.state).toBe('completed')

      // The freed values taken again: user_lookup (email, parent's email) -> newcomer, (phone, child's phone) -> another; each asks for a code.
      const newcomer = await h.seed({ email: parent.email })
      const another = await h.seed({ phone: child.phone })
      await h.db.execute(`INSERT INTO ${TEST_KEYSPACE}.otp (type, key, otp) VALUES ('email', ?, '123456') USING TTL 600`, [parent.email], { prepare: true })
      await h.db.execute(`INSERT INTO ${TEST_KEYSPACE}.rate_limit (key, unit, rate, ttl) VALUES (?, 'HOUR', 1, 3600) USING TTL 600`, [child.phone], { prepare: true })

      const taken = await verify(request?.id ?? '')
      const byValue = (rows: readonly { store: string; found: string; residue: boolean }[] | undefined) =>
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
      const ok = verifyCommand(request?.id ?? '')
      expect(ok.status, ok.stdout + ok.stderr).toBe(0)
      expect(ok.stdout).toContain(`person ${parent.id}: ok`)

      // Still residue, no other user's: the parent's phone given to the managed user this deletion erased (their tombstone row is
      // there), with a code sent to it; the managed user's email given to a user id with no user row.
      await h.db.execute(`INSERT INTO ${TEST_KEYSPACE}.user_lookup (type, value, userid) VALUES ('phone', ?, ?)`, [parent.phone, child.id], { prepare: true })
      await h.db.execute(`INSERT INTO ${TEST_KEYSPACE}.otp (type, key, otp) VALUES ('phone', ?, '654321') USING TTL 600`, [parent.phone], { prepare: true })
      await h.db.execute(`INSERT INTO ${TEST_KEYSPACE}.user_lookup (type, value, userid) VALUES ('email', ?, ?)`, [child.email, randomUUID()], { prepare: true })
      const dirty = await verify(request?.id ?? '')
      expect(byValue(dirty?.rows)).toEqual([
        ['cassandra.otp (by value)', '1 row (1 row of another user)', true],
        ['cassandra.rate_limit (by value)', '0 rows', false],
        ['cassandra.user_lookup (by value)', '1 row (1 row of another user)', true],
      ])
      expect(byValue(dirty?.managedUsers?.byValue)).toEqual([
        ['cassandra.otp (by value)', '0 rows', false],
        ['cassandra.rate_limit (by value)', '0 rows (1 row of another user)', false],
        ['cassandra.user_lookup (by value)', '1 row (1 row of another user)', true],
      ])
      const cli = verifyCommand(request?.id ?? '')
      expect(cli.status, cli.stderr).toBe(1)
      for (const value of [...personalValues(parent), ...personalValues(child)]) expect(cli.stdout).not.toContain(value)
      expect([newcomer.id, another.id].some((id) => cli.stdout.includes(id))).toBe(false)
    })

    it('when DELETION_RECEIPT_HASH_KEY changed since the deletion, then the command cannot check by value, says so naming the key id the hashes were made with, and exits 3 (never 0) although a code came back; run with the old key, it finds that code (exit 1)', async () => {
      const p = newPerson()
      await seedEverywhere(h, search, p, ORG)
      await expectDeleted(await api.remove(p.id, {}, api.asUser(p.id)))
      const [request] = await requestsOf(h.db, p.id)
      const oldKey = h.config.deletion.receiptHashKey
      const rotatedKey = `rotated-${oldKey}-after-a-leak`
      // The key ids are recorded with the hashes and in the receipt, as the store reads them back.
      const stored = await new CassandraDeletionRequests(h.db, TEST_KEYSPACE).get(request?.id ?? '')
      expect(stored?.steps.otp?.hashKeyId).toBe(keyId(oldKey))
      expect(stored?.steps.rateLimit?.hashKeyId).toBe(keyId(oldKey))
      expect(stored?.receipt?.subjectKeyId).toBe(keyId(oldKey))
      await h.db.execute(`INSERT INTO ${TEST_KEYSPACE}.otp (type, key, otp) VALUES ('email', ?, '123456') USING TTL 600`, [p.email], { prepare: true })

      const rotated = verifyCommand(request?.id ?? '', { DELETION_RECEIPT_HASH_KEY: rotatedKey })
      expect(rotated.status, rotated.stderr).toBe(3)
      expect(rotated.stdout).toContain(`person ${p.id}: INCOMPLETE`)
      expect(rotated.stdout).toMatch(new RegExp(`cassandra\\.otp \\(by value\\)\\s+0 rows\\s+cannot check: made with another key \\(key id ${keyId(oldKey)}\\)\\s+CANNOT CHECK`))
      expect(rotated.stdout).toContain(`configured DELETION_RECEIPT_HASH_KEY (key id ${keyId(rotatedKey)})`)

      const withOldKey = verifyCommand(request?.id ?? '', { DELETION_RECEIPT_HASH_KEY: oldKey })
      expect(withOldKey.status, withOldKey.stderr).toBe(1)
      expect(withOldKey.stdout).toMatch(/cassandra\.otp \(by value\)\s+0 rows\s+1 row\s+RESIDUE/)
      for (const value of [...personalValues(p), oldKey, rotatedKey]) {
        expect(rotated.stdout + rotated.stderr).not.toContain(value)
        expect(withOldKey.stdout + withOldKey.stderr).not.toContain(value)
      }
    })

    it('when a store does not answer (Redis on a closed port), then the command prints one line naming the request and the store, no stack trace and no value, and exits 2 (could not verify), not 1 (residue)', async () => {
      const p = newPerson()
      await seedEverywhere(h, search, p, ORG)
      await expectDeleted(await api.remove(p.id, {}, api.asUser(p.id)))
      const [request] = await requestsOf(h.db, p.id)

      const cli = verifyCommand(request?.id ?? '', { sunbird_redis_port: String(await freePort()), REDIS_TIMEOUT_MS: '500' })

      expect(cli.status, cli.stderr).toBe(2)
      expect(cli.stdout).toBe('')
      expect(cli.stderr.trim().split('\n')).toHaveLength(1)
      expect(cli.stderr).toMatch(new RegExp(`^deletion:verify: could not verify deletion request ${request?.id}: redis unavailable`))
      expect(cli.stderr).not.toMatch(/\n\s+at /)
      for (const value of personalValues(p)) expect(cli.stderr).not.toContain(value)
    })
  })
})
