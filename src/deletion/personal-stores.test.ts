import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { WORLD_GRACE_DAY_MS, WORLD_RECEIPT_KEY, type WorldOptions, deletionWorld } from '../../test/support/fakes/deletion-world.js'
import type { SeedUser } from '../../test/support/fakes/in-memory-user-store.js'
import { cancelDeletion } from './cancel-deletion.js'
import type { Caller } from './caller.js'
import { type DeletionInput, deleteAccount } from './delete-account.js'
import { DependencyUnavailableError } from './errors.js'
import { keyId, keyedHash } from './keyed-hash.js'
import { resumeOpenDeletions } from './run-deletion.js'

const TARGET = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const OTHER = '6b6e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d42'
const ORG = 'org-1'
const EMAIL = 'asha.verma@example.org'
const PHONE = '9876543210'

const self = (): Caller => ({ consumer: 'portal', userId: TARGET, roles: [] })
const person = (id: string, email: string, phone: string): SeedUser => ({
  id,
  rootOrgId: ORG,
  organisationIds: [ORG],
  lookups: 3,
  profile: { firstname: 'Asha', email, phone, dob: '1990-04-12' },
})

let counter = 0
const ask = (fields: Partial<DeletionInput> = {}): DeletionInput => ({ requestId: `req-${++counter}`, userId: TARGET, caller: self(), ...fields })

/** The person in every store beyond Sunbird's five, and a bystander with rows of their own. */
function worldWithPerson(options: WorldOptions = {}) {
  const w = deletionWorld({ seed: [person(TARGET, EMAIL, PHONE), person(OTHER, 'other@example.org', '9000000001')], ...options })
  for (const userId of [TARGET, OTHER]) {
    w.tables.addRow('user_declarations', { userid: userId, orgid: ORG, persona: 'teacher', userinfo: { 'declared-school-name': 'Springfield High' } })
    w.tables.addRow('user_consent', { user_id: userId, consumer_id: ORG, object_id: ORG, status: 'ACTIVE' })
    w.tables.addRow('user_notes', { id: `note-${userId}`, userid: userId, note: 'call me back' })
    w.tables.addRow('shadow_user', { channel: 'demo', userextid: `ext-${userId}`, userid: userId, name: 'Asha Verma', email: EMAIL, phone: PHONE })
    w.tables.addRow('user_feed', { id: `feed-${userId}`, userid: userId, data: 'welcome Asha' })
    w.tables.addRow('user_cert', { id: `cert-${userId}`, userid: userId, accesscode: 'X1Y2' })
    w.tables.addRow('address', { id: `addr-${userId}`, userid: userId, city: 'Pune' })
    w.tables.addRow('sunbird_courses.user_enrolments', { userid: userId, courseid: 'c-1', progress: 3 })
    w.search.users.set(userId, {
      id: userId,
      userId,
      firstName: 'Asha',
      userName: 'asha_v',
      dob: '1990-04-12',
      status: 1,
      isDeleted: false,
      rootOrgId: ORG,
      organisations: [{ organisationId: ORG, orgName: 'Demo School' }],
    })
    w.search.notes.set(`note-${userId}`, { id: `note-${userId}`, userId, note: 'call me back' })
    w.cache.hashes.set(userId, { firstname: 'Asha', email: EMAIL })
  }
  w.tables.addCode('otp', 'email', EMAIL)
  w.tables.addCode('otp', 'phone', PHONE)
  w.tables.addCode('rate_limit', EMAIL, 'HOUR')
  w.tables.addCode('rate_limit', 'other@example.org', 'HOUR')
  return w
}

const ENROLMENTS = { keyspace: 'sunbird_courses', table: 'user_enrolments', userColumn: 'userid', action: 'delete' } as const

/**
 * The same deployment's deps as a process started without sunbird_es_host and sunbird_redis_host
 * would build them (an operator's shell running `npm run deletion:resume`, or one instance set up
 * short): the same Cassandra, no search engine, no cache. `warnings` collects what it logs.
 */
function withoutSearchAndCache(w: ReturnType<typeof worldWithPerson>) {
  const warnings: { step: string; err: unknown; requestId: string | undefined }[] = []
  const deps = { ...w.deps, search: undefined, cache: undefined, onStepError: (step: string, err: unknown, requestId?: string) => void warnings.push({ step, err, requestId }) }
  return { deps, warnings }
}

/** The receipt's action for each store, by store. */
const receiptActions = (w: ReturnType<typeof worldWithPerson>) => Object.fromEntries((w.requests.all()[0]?.receipt?.stores ?? []).map((entry) => [entry.store, entry.action]))

async function rowsOf(w: ReturnType<typeof worldWithPerson>, userId: string) {
  const tables = ['user_declarations', 'user_consent', 'user_notes', 'shadow_user', 'user_feed', 'user_cert', 'address'] as const
  return Object.fromEntries(await Promise.all(tables.map(async (table) => [table, (await w.tables.readRows(table, userId)).length] as const)))
}

describe('the stores beyond the five, per mode', () => {
  it('when Sunbird’s deletion runs, then the search document is a tombstone of ids and flags, notes, declarations, legacy rows, codes and the cache are gone, consent kept, shadow_user blanked', async () => {
    const w = worldWithPerson({ extraTargets: [ENROLMENTS] })

    await deleteAccount(w.deps, ask())

    expect(w.search.users.get(TARGET)).toEqual({
      id: TARGET,
      userId: TARGET,
      identifier: TARGET,
      status: 2,
      isDeleted: true,
      isBlocked: true,
      rootOrgId: ORG,
      organisations: [{ organisationId: ORG }],
    })
    expect(await w.search.readNotes(TARGET)).toEqual([])
    expect(await rowsOf(w, TARGET)).toEqual({ user_declarations: 0, user_consent: 1, user_notes: 0, shadow_user: 1, user_feed: 0, user_cert: 0, address: 0 })
    expect(await w.tables.readRows('shadow_user', TARGET)).toEqual([expect.objectContaining({ name: null, email: null, phone: null })])
    expect(await w.tables.countCodes('otp', [EMAIL, PHONE])).toBe(0)
    expect(await w.tables.countCodes('rate_limit', [EMAIL, PHONE])).toBe(0)
    expect(w.cache.hashes.has(TARGET)).toBe(false)
    expect(await w.tables.countExtra(ENROLMENTS, TARGET)).toBe(0)
    // The bystander keeps everything.
    expect(await rowsOf(w, OTHER)).toEqual({ user_declarations: 1, user_consent: 1, user_notes: 1, shadow_user: 1, user_feed: 1, user_cert: 1, address: 1 })
    expect(w.search.users.get(OTHER)?.firstName).toBe('Asha')
    expect(await w.tables.countCodes('rate_limit', ['other@example.org'])).toBe(1)
    expect(await w.tables.countExtra(ENROLMENTS, OTHER)).toBe(1)
  })

  it('when Sunbird’s deletion is receipted, then each store has its entry by the names the receipt promises, with action and count', async () => {
    const w = worldWithPerson({ extraTargets: [ENROLMENTS] })

    await deleteAccount(w.deps, ask())

    const stores = Object.fromEntries((w.requests.all()[0]?.receipt?.stores ?? []).map((entry) => [entry.store, `${entry.action}${entry.count === undefined ? '' : ` ${entry.count}`}`]))
    expect(stores).toMatchObject({
      'search.user_alias': 'tombstoned 1',
      'search.usernotes': 'deleted 1',
      'redis.user': 'deleted 1',
      'cassandra.user_declarations': 'deleted 1',
      'cassandra.user_consent': 'kept',
      'cassandra.user_notes': 'deleted 1',
      'cassandra.otp': 'deleted 2',
      'cassandra.rate_limit': 'deleted 1',
      'cassandra.shadow_user': 'blanked 1',
      'cassandra.user_feed': 'deleted 1',
      'cassandra.user_cert': 'deleted 1',
      'cassandra.address': 'deleted 1',
      'cassandra.sunbird_courses.user_enrolments': 'deleted 1',
      'downstream.ml': 'left to ml via the delete-user event',
      'downstream.knowlg': 'left to knowlg via the delete-user event',
      'cassandra.bulk_upload_process': 'not reachable by user id',
    })
  })

  it('when the contacts are looked up by value, then the request keeps their keyed hashes, never the values', async () => {
    const w = worldWithPerson()

    await deleteAccount(w.deps, ask())

    const request = w.requests.all()[0]
    expect(request?.steps.otp?.hashes?.sort()).toEqual([keyedHash(WORLD_RECEIPT_KEY, EMAIL), keyedHash(WORLD_RECEIPT_KEY, PHONE)].sort())
    expect(JSON.stringify(request)).not.toContain(EMAIL)
    expect(JSON.stringify(request)).not.toContain(PHONE)
  })

  it('when the contacts are hashed, then each code step keeps with its hashes the id of the key that made them (never the key), so a later key is not compared with them', async () => {
    const w = worldWithPerson()

    await deleteAccount(w.deps, ask())

    const request = w.requests.all()[0]
    expect(keyId(WORLD_RECEIPT_KEY)).toBe(createHmac('sha256', WORLD_RECEIPT_KEY).update('key-id').digest('hex').slice(0, 16))
    expect(request?.steps.otp?.hashKeyId).toBe(keyId(WORLD_RECEIPT_KEY))
    expect(request?.steps.rateLimit?.hashKeyId).toBe(keyId(WORLD_RECEIPT_KEY))
    expect(request?.receipt?.subjectKeyId).toBe(keyId(WORLD_RECEIPT_KEY))
    expect(keyId('another-receipt-key')).not.toBe(keyId(WORLD_RECEIPT_KEY))
    expect(JSON.stringify(request)).not.toContain(WORLD_RECEIPT_KEY)
  })

  it('when a hard deletion runs, then the search document, consent and shadow_user rows go too', async () => {
    const w = worldWithPerson()

    await deleteAccount(w.deps, ask({ mode: 'hard' }))

    expect(w.search.users.has(TARGET)).toBe(false)
    expect(await rowsOf(w, TARGET)).toEqual({ user_declarations: 0, user_consent: 0, user_notes: 0, shadow_user: 0, user_feed: 0, user_cert: 0, address: 0 })
    expect(w.cache.hashes.has(TARGET)).toBe(false)
    expect(w.requests.all()[0]?.receipt?.stores.find((entry) => entry.store === 'search.user_alias')).toMatchObject({ action: 'deleted', count: 1 })
  })

  it('when a soft deletion runs and is cancelled, then the search flags come back as they were; rows are kept throughout; cache and codes are not brought back', async () => {
    const w = worldWithPerson()
    const before = await rowsOf(w, TARGET)

    await deleteAccount(w.deps, ask({ mode: 'soft' }))
    expect(w.search.users.get(TARGET)).toMatchObject({ status: 2, isDeleted: true, isBlocked: true, firstName: 'Asha' })
    expect(await rowsOf(w, TARGET)).toEqual(before)
    expect(await w.search.readNotes(TARGET)).toHaveLength(1)
    expect(w.cache.hashes.has(TARGET)).toBe(false)
    expect(await w.tables.countCodes('otp', [EMAIL, PHONE])).toBe(0)
    expect(w.requests.all()[0]?.state).toBe('completed')

    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    const document = w.search.users.get(TARGET)
    expect(document).toMatchObject({ status: 1, isDeleted: false, firstName: 'Asha' })
    // The document had no isBlocked before the deletion: the restore removes the flag (the adapter's behaviour).
    expect(document).not.toHaveProperty('isBlocked')
    expect(await rowsOf(w, TARGET)).toEqual(before)
    expect(w.cache.hashes.has(TARGET)).toBe(false)
  })

  it('when the search engine and the cache are not configured, then the receipt says so for each, and the request completes', async () => {
    const w = worldWithPerson({ withoutSearch: true, withoutCache: true })

    await deleteAccount(w.deps, ask())

    const request = w.requests.all()[0]
    expect(request?.state).toBe('completed')
    const actions = Object.fromEntries((request?.receipt?.stores ?? []).map((entry) => [entry.store, entry.action]))
    expect(actions).toMatchObject({ 'search.user_alias': 'not configured', 'search.usernotes': 'not configured', 'redis.user': 'not configured' })
  })

  it('when the search engine or the cache is down, then the request is partial with those steps pending, and the sweeper finishes them once they are back', async () => {
    const w = worldWithPerson()
    w.search.down = true
    w.cache.down = true

    await deleteAccount(w.deps, ask())

    const request = w.requests.all()[0]
    expect(request?.state).toBe('partial')
    expect(request?.steps.searchUser).toMatchObject({ status: 'pending', action: 'unreachable' })
    expect(request?.steps.searchNotes).toMatchObject({ status: 'pending' })
    expect(request?.steps.cacheUser).toMatchObject({ status: 'pending' })
    expect(request?.steps.userRow).toMatchObject({ status: 'done' })
    expect(w.search.users.get(TARGET)?.firstName).toBe('Asha')

    w.search.down = false
    w.cache.down = false
    w.clock.advance(60_000)
    await resumeOpenDeletions(w.deps)

    expect(w.requests.all()[0]?.state).toBe('completed')
    expect(w.search.users.get(TARGET)).not.toHaveProperty('firstName')
    expect(w.cache.hashes.has(TARGET)).toBe(false)
  })

  it('when a request owing the search engine and the cache is resumed by a process without sunbird_es_host and sunbird_redis_host, then the steps stay pending, the request partial, a warning is logged, and a configured instance finishes it', async () => {
    // Arrange: both down during the deletion: the steps are owed.
    const w = worldWithPerson()
    w.search.down = true
    w.cache.down = true
    await deleteAccount(w.deps, ask())
    const request = () => w.requests.all()[0]
    expect(request()?.state).toBe('partial')
    w.search.down = false
    w.cache.down = false
    const shell = withoutSearchAndCache(w)

    // Act
    w.clock.advance(60_000)
    const report = await resumeOpenDeletions(shell.deps)

    // Assert: nothing owed is completed as "not configured"; the person's document and cache stay until a configured run.
    expect(report).toMatchObject({ resumed: 1, completed: 0, partial: 1 })
    expect(request()?.state).toBe('partial')
    for (const step of ['searchNotes', 'searchUser', 'cacheUser'] as const) expect(request()?.steps[step]).toMatchObject({ status: 'pending', action: 'not configured here' })
    expect(receiptActions(w)).toMatchObject({ 'search.user_alias': 'pending', 'search.usernotes': 'pending', 'redis.user': 'pending' })
    expect(w.search.users.get(TARGET)?.firstName).toBe('Asha')
    expect(w.cache.hashes.has(TARGET)).toBe(true)
    expect(w.requests.isOpen(request()?.id ?? '')).toBe(true)
    // Owing the same stores as before: no second partial record.
    expect(w.audit.eventsOf(request()?.id ?? '').filter((event) => event === 'deletion.partial')).toHaveLength(1)
    expect(shell.warnings.map((warning) => [warning.step, warning.requestId, (warning.err as DependencyUnavailableError).dependency])).toEqual([
      ['searchNotes', request()?.id, 'search'],
      ['searchUser', request()?.id, 'search'],
      ['searchAddedByName', request()?.id, 'search'],
      ['cacheUser', request()?.id, 'redis'],
    ])
    for (const { err } of shell.warnings) {
      expect(err).toBeInstanceOf(DependencyUnavailableError)
      const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : ''
      expect(why).toMatch(/sunbird_(es|redis)_host is not set in this process/)
      expect(why).not.toContain(TARGET)
    }

    w.clock.advance(60_000)
    await resumeOpenDeletions(w.deps)

    expect(request()?.state).toBe('completed')
    expect(w.search.users.get(TARGET)).not.toHaveProperty('firstName')
    expect(await w.search.readNotes(TARGET)).toEqual([])
    expect(w.cache.hashes.has(TARGET)).toBe(false)
  })

  it('when a request that never reached the search engine or the cache is resumed by a process without them, then they are not configured, as in a deployment without them, and it completes', async () => {
    const w = deletionWorld({
      seed: [person(TARGET, EMAIL, PHONE)],
      afterStep: (hook) => {
        if (hook === 'accept') throw new Error('killed')
      },
    })
    await expect(deleteAccount(w.deps, ask())).rejects.toThrow('killed')
    const shell = { ...w.deps, search: undefined, cache: undefined, afterStep: undefined }
    w.clock.advance(60_000)

    await resumeOpenDeletions(shell)

    const request = w.requests.all()[0]
    expect(request?.state).toBe('completed')
    expect(request?.steps.searchUser).toMatchObject({ status: 'skipped', action: 'not configured' })
    expect(request?.steps.cacheUser).toMatchObject({ status: 'skipped', action: 'not configured' })
  })

  it('when a grace period whose soft phase flagged the search document ends under a process without the search engine and the cache, then the erasure owes them and a configured instance erases them', async () => {
    const w = worldWithPerson()
    await deleteAccount(w.deps, ask({ gracePeriodDays: 1 }))
    const request = () => w.requests.all()[0]
    expect(request()?.state).toBe('scheduled')
    expect(w.search.users.get(TARGET)).toMatchObject({ isDeleted: true, firstName: 'Asha' })
    w.clock.advance(60 * 60 * 1000)

    await resumeOpenDeletions(withoutSearchAndCache(w).deps)

    expect(request()).toMatchObject({ state: 'partial', plan: 'sunbird' })
    for (const step of ['searchNotes', 'searchUser', 'cacheUser'] as const) expect(request()?.steps[step]).toMatchObject({ status: 'pending', action: 'not configured here' })
    expect(w.search.users.get(TARGET)?.firstName).toBe('Asha')
    expect(await w.search.readNotes(TARGET)).toHaveLength(1)

    w.clock.advance(60_000)
    await resumeOpenDeletions(w.deps)

    expect(request()?.state).toBe('completed')
    expect(w.search.users.get(TARGET)).not.toHaveProperty('firstName')
    expect(await w.search.readNotes(TARGET)).toEqual([])
    expect(receiptActions(w)).toMatchObject({ 'search.user_alias': 'tombstoned', 'search.usernotes': 'deleted' })
  })

  it('when a soft deletion that flagged the search document is cancelled by a process without the search engine, then the cancel waits (the user stays locked out) and a configured instance restores the flags', async () => {
    const w = worldWithPerson()
    await deleteAccount(w.deps, ask({ mode: 'soft' }))
    const shell = withoutSearchAndCache(w)

    await expect(cancelDeletion(shell.deps, { userId: TARGET, caller: self() })).rejects.toBeInstanceOf(DependencyUnavailableError)

    const request = () => w.requests.all()[0]
    expect(request()?.state).toBe('cancelling')
    expect(request()?.steps.searchUser).toMatchObject({ status: 'pending', action: 'not configured here', restore: { status: 1, isDeleted: false } })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
    expect(w.search.users.get(TARGET)).toMatchObject({ status: 2, isDeleted: true })
    expect(shell.warnings.map((warning) => warning.step)).toEqual(['searchUser'])

    w.clock.advance(60_000)
    await resumeOpenDeletions(w.deps)

    expect(request()?.state).toBe('cancelled')
    expect(w.search.users.get(TARGET)).toMatchObject({ status: 1, isDeleted: false, firstName: 'Asha' })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
  })
})

describe('a grace period while the search engine or the cache is down', () => {
  const DAY = WORLD_GRACE_DAY_MS
  const request = (w: ReturnType<typeof worldWithPerson>) => w.requests.all()[0]

  it('when both are down at the request, then it is scheduled at once with its eraseAt, their steps owed and retried each pass without another audit record, and once they are back the document is flagged, the cache cleared, and the request due at eraseAt', async () => {
    const w = worldWithPerson()
    w.search.down = true
    w.cache.down = true

    expect(await deleteAccount(w.deps, ask({ gracePeriodDays: 1 }))).toMatchObject({ kind: 'scheduled' })

    const eraseAt = request(w)?.schedule?.eraseAt
    expect(request(w)).toMatchObject({ state: 'scheduled', plan: 'soft' })
    expect(request(w)?.receipt).toBeUndefined()
    expect(request(w)?.steps.searchUser).toMatchObject({ status: 'pending', action: 'unreachable' })
    expect(request(w)?.steps.cacheUser).toMatchObject({ status: 'pending', action: 'unreachable' })
    expect(await w.requests.openEntry(request(w)?.id ?? '')).not.toHaveProperty('dueAt')
    expect(w.audit.eventsOf(request(w)?.id ?? '')).toEqual(['deletion.accepted', 'deletion.scheduled'])

    // Still down: retried, still scheduled, nothing audited again.
    w.clock.advance(60_000)
    await resumeOpenDeletions(w.deps)
    expect(request(w)).toMatchObject({ state: 'scheduled', plan: 'soft' })
    expect(w.audit.eventsOf(request(w)?.id ?? '')).toEqual(['deletion.accepted', 'deletion.scheduled'])

    // Back before eraseAt: the soft phase is finished, the erasure still waits.
    w.search.down = false
    w.cache.down = false
    w.clock.advance(60_000)
    await resumeOpenDeletions(w.deps)
    expect(request(w)).toMatchObject({ state: 'scheduled', plan: 'soft' })
    expect(request(w)?.steps.searchUser).toMatchObject({ status: 'done', action: 'flagged', restore: { status: 1, isDeleted: false } })
    expect(request(w)?.steps.cacheUser).toMatchObject({ status: 'done' })
    expect(w.search.users.get(TARGET)).toMatchObject({ isDeleted: true, firstName: 'Asha' })
    expect(w.cache.hashes.has(TARGET)).toBe(false)
    expect(await w.requests.openEntry(request(w)?.id ?? '')).toMatchObject({ dueAt: eraseAt })
    expect(w.audit.eventsOf(request(w)?.id ?? '')).toEqual(['deletion.accepted', 'deletion.scheduled'])
    expect(w.users.remainingLookups(TARGET)).toBe(3)
  })

  it('when they are still down at eraseAt, then the erasure runs all the same (Cassandra and Keycloak erased at once) and owes only their steps, finished once they are back', async () => {
    const w = worldWithPerson()
    w.search.down = true
    w.cache.down = true
    await deleteAccount(w.deps, ask({ mode: 'hard', gracePeriodDays: 1 }))

    w.clock.advance(DAY + 1000)
    await resumeOpenDeletions(w.deps)

    expect(request(w)).toMatchObject({ state: 'partial', plan: 'hard' })
    expect(w.users.remainingLookups(TARGET)).toBe(0)
    expect(w.identity.hasAccount(TARGET)).toBe(false)
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true, rootOrgId: null })
    const owed = Object.entries(request(w)?.steps ?? {}).filter(([, outcome]) => outcome?.status === 'pending')
    expect(owed.map(([step]) => step).sort()).toEqual(['cacheUser', 'searchAddedByName', 'searchNotes', 'searchUser'])
    expect(request(w)?.steps.searchUser).toMatchObject({ plan: 'hard' })
    expect(receiptActions(w)).toMatchObject({ 'cassandra.user_lookup': 'deleted', 'search.user_alias': 'pending', 'redis.user': 'pending' })
    expect(w.outbox.appends).toHaveLength(1)

    w.search.down = false
    w.cache.down = false
    w.clock.advance(60_000)
    await resumeOpenDeletions(w.deps)
    expect(request(w)?.state).toBe('completed')
    expect(w.search.users.has(TARGET)).toBe(false)
    expect(w.cache.hashes.has(TARGET)).toBe(false)
  })

  it('when the flag landed but its answer was lost and the engine is down (or not configured in the process that retries), then a cancel still owes the flags back: 503 naming the search engine, the user locked out, and a configured instance restores them', async () => {
    const w = worldWithPerson()
    w.cache.down = true
    const flag = w.search.flagUserDeleted.bind(w.search)
    w.search.flagUserDeleted = async (userId) => {
      await flag(userId)
      w.search.down = true
      throw new DependencyUnavailableError('search')
    }
    await deleteAccount(w.deps, ask({ gracePeriodDays: 1 }))
    expect(request(w)).toMatchObject({ state: 'scheduled' })
    expect(w.search.users.get(TARGET)).toMatchObject({ isDeleted: true })
    // A retry by a process without sunbird_es_host keeps the facts of the flag that may have landed.
    w.clock.advance(60_000)
    await resumeOpenDeletions(withoutSearchAndCache(w).deps)
    expect(request(w)?.steps.searchUser).toMatchObject({ status: 'pending', action: 'not configured here', restore: { status: 1, isDeleted: false } })

    const refused = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    expect(refused).toBeInstanceOf(DependencyUnavailableError)
    expect(refused).toMatchObject({ dependency: 'search' })
    expect(request(w)?.state).toBe('cancelling')
    expect(request(w)?.steps.cacheUser).toMatchObject({ status: 'skipped', action: 'left-as-it-was' })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })

    w.search.down = false
    w.clock.advance(60_000)
    await resumeOpenDeletions(w.deps)
    expect(request(w)?.state).toBe('cancelled')
    expect(w.search.users.get(TARGET)).toMatchObject({ status: 1, isDeleted: false, firstName: 'Asha' })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
  })

  it('when a soft deletion that could reach neither is cancelled, then nothing is owed any more: their steps read skipped, left as they were, and the sweeper does not take the request up again', async () => {
    const w = worldWithPerson()
    w.search.down = true
    w.cache.down = true
    await deleteAccount(w.deps, ask({ mode: 'soft' }))
    expect(request(w)?.state).toBe('partial')

    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    expect(request(w)?.state).toBe('cancelled')
    for (const step of ['searchUser', 'cacheUser'] as const) expect(request(w)?.steps[step]).toMatchObject({ status: 'skipped', action: 'left-as-it-was', plan: 'soft' })
    expect(Object.values(request(w)?.steps ?? {}).filter((outcome) => outcome?.status === 'pending')).toEqual([])
    w.search.down = false
    w.cache.down = false
    w.clock.advance(60_000)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 0 })
    expect(w.search.users.get(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(w.cache.hashes.has(TARGET)).toBe(true)
  })
})
