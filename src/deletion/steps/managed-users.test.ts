import { describe, expect, it } from 'vitest'
import { WORLD_LEASE_MS, WORLD_RECEIPT_KEY, type WorldOptions, deletionWorld } from '../../../test/support/fakes/deletion-world.js'
import type { SeedUser } from '../../../test/support/fakes/in-memory-user-store.js'
import { cancelDeletion } from '../cancel-deletion.js'
import type { Caller } from '../caller.js'
import { type DeletionInput, deleteAccount } from '../delete-account.js'
import { DependencyUnavailableError, UserErasedError } from '../errors.js'
import { keyId, keyedHash } from '../keyed-hash.js'
import { resumeOpenDeletions } from '../run-deletion.js'
import { lockOutStanding } from '../user-condition.js'

const PARENT = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const CHILD = '6a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d42'
const BYSTANDER = '7c7e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d43'
const ORG = 'org-1'
const ENROLMENTS = { keyspace: 'sunbird_courses', table: 'user_enrolments', userColumn: 'userid', action: 'delete' } as const
const TABLES = ['user_declarations', 'user_consent', 'user_notes', 'shadow_user', 'user_feed', 'user_cert', 'address'] as const

const contactsOf = (id: string) => ({ email: `${id.slice(0, 4)}@example.org`, phone: `98${id.slice(0, 8).replace(/\D/g, '0')}` })
const person = (id: string, fields: Partial<SeedUser> = {}): SeedUser => ({
  id,
  rootOrgId: ORG,
  organisationIds: [ORG],
  lookups: 2,
  externalIdentities: 1,
  profile: { firstname: 'Asha', dob: '2012-04-12', ...contactsOf(id) },
  ...fields,
})
const selfOf = (userId: string): Caller => ({ consumer: 'portal', userId, roles: [] })

let counter = 0
const ask = (fields: Partial<DeletionInput> = {}): DeletionInput => ({ requestId: `req-${++counter}`, userId: PARENT, caller: selfOf(PARENT), ...fields })

/** A parent, the child they manage and a bystander, each in every store a deletion reaches. */
function family(options: WorldOptions = {}) {
  const w = deletionWorld({ seed: [person(PARENT), person(CHILD, { managedBy: PARENT }), person(BYSTANDER)], extraTargets: [ENROLMENTS], ...options })
  for (const userId of [PARENT, CHILD, BYSTANDER]) {
    const { email, phone } = contactsOf(userId)
    w.tables.addRow('user_declarations', { userid: userId, orgid: ORG, persona: 'teacher', userinfo: { 'declared-school-name': 'Springfield High' } })
    w.tables.addRow('user_consent', { user_id: userId, consumer_id: ORG, object_id: ORG, status: 'ACTIVE' })
    w.tables.addRow('user_notes', { id: `note-${userId}`, userid: userId, note: 'call me back' })
    w.tables.addRow('shadow_user', { channel: 'demo', userextid: `ext-${userId}`, userid: userId, name: 'Asha Verma', email, phone })
    w.tables.addRow('user_feed', { id: `feed-${userId}`, userid: userId, data: 'welcome Asha' })
    w.tables.addRow('user_cert', { id: `cert-${userId}`, userid: userId, accesscode: 'X1Y2' })
    w.tables.addRow('address', { id: `addr-${userId}`, userid: userId, city: 'Pune' })
    w.tables.addRow('sunbird_courses.user_enrolments', { userid: userId, courseid: 'c-1', progress: 3 })
    w.tables.addCode('otp', 'email', email)
    w.tables.addCode('rate_limit', phone, 'HOUR')
    w.search.users.set(userId, { id: userId, userId, firstName: 'Asha', dob: '2012-04-12', status: 1, isDeleted: false, rootOrgId: ORG, organisations: [{ organisationId: ORG }] })
    w.search.notes.set(`note-${userId}`, { id: `note-${userId}`, userId, note: 'call me back' })
    w.cache.hashes.set(userId, { firstname: 'Asha', email })
  }
  return w
}

type World = ReturnType<typeof family>

/** What every store holds of one person, in words and counts. */
async function footprint(w: World, userId: string) {
  const { email, phone } = contactsOf(userId)
  const document = w.search.users.get(userId)
  const rows = Object.fromEntries(await Promise.all(TABLES.map(async (table) => [table, (await w.tables.readRows(table, userId)).length] as const)))
  const shadow = await w.tables.readRows('shadow_user', userId)
  return {
    account: !w.identity.hasAccount(userId) ? 'none' : w.identity.isDisabled(userId) ? 'disabled' : 'enabled',
    codes: (await w.tables.countCodes('otp', [email, phone])) + (await w.tables.countCodes('rate_limit', [email, phone])),
    lookups: w.users.remainingLookups(userId),
    externalIdentities: w.users.remainingExternalIdentities(userId),
    activeMemberships: w.users.activeMemberships(userId).length,
    roles: w.users.remainingRoles(userId).length,
    rows,
    shadowNamed: shadow.filter((row) => row.name !== null).length,
    extraTarget: await w.tables.countExtra(ENROLMENTS, userId),
    profile: Object.values(w.users.profileOf(userId)).filter((value) => value !== '').length,
    searchDocument: document === undefined ? 'none' : 'firstName' in document ? (document.isDeleted ? 'flagged' : 'whole') : 'tombstone',
    searchNotes: (await w.search.readNotes(userId)).length,
    cache: w.cache.hashes.has(userId),
  }
}

/** What Sunbird's deletion leaves of a person: nothing personal; consent, roles and the shadow row's ids kept, as Sunbird keeps them. */
const AFTER_SUNBIRD = {
  account: 'none',
  codes: 0,
  lookups: 0,
  externalIdentities: 0,
  activeMemberships: 0,
  roles: 1,
  rows: { user_declarations: 0, user_consent: 1, user_notes: 0, shadow_user: 1, user_feed: 0, user_cert: 0, address: 0 },
  shadowNamed: 0,
  extraTarget: 0,
  profile: 0,
  searchDocument: 'tombstone',
  searchNotes: 0,
  cache: false,
}

const AFTER_HARD = {
  ...AFTER_SUNBIRD,
  roles: 0,
  rows: { user_declarations: 0, user_consent: 0, user_notes: 0, shadow_user: 0, user_feed: 0, user_cert: 0, address: 0 },
  searchDocument: 'none',
}

const receiptLines = (w: World) =>
  Object.fromEntries(
    (w.requests.all().find((request) => request.userId === PARENT)?.receipt?.stores ?? []).map((entry) => [entry.store, `${entry.action}${entry.count === undefined ? '' : ` ${entry.count}`}`]),
  )

describe('managed users, erased in every store the deletion erases for the user who manages them', () => {
  it('when Sunbird’s deletion runs, then the managed user is erased in every store as the user is, the row scrubbed as Sunbird scrubs it (managedby kept), and the bystander keeps everything', async () => {
    const w = family()
    const bystander = await footprint(w, BYSTANDER)

    await deleteAccount(w.deps, ask())

    expect(await footprint(w, PARENT)).toEqual(AFTER_SUNBIRD)
    expect(await footprint(w, CHILD)).toEqual(AFTER_SUNBIRD)
    expect(w.users.snapshot(CHILD)).toEqual({ id: CHILD, status: 2, isDeleted: true, rootOrgId: ORG, managedBy: PARENT })
    expect(await footprint(w, BYSTANDER)).toEqual(bystander)
    expect(w.requests.all()[0]?.state).toBe('completed')
  })

  it('when a hard deletion runs, then the managed user is hard-deleted in every store as the user is: a tombstone row, marked hard-deleted', async () => {
    const w = family()

    await deleteAccount(w.deps, ask({ mode: 'hard' }))

    expect(await footprint(w, PARENT)).toEqual(AFTER_HARD)
    expect(await footprint(w, CHILD)).toEqual(AFTER_HARD)
    expect(w.users.snapshot(CHILD)).toEqual({ id: CHILD, status: 2, isDeleted: true, rootOrgId: null, managedBy: null })
    expect(w.states.peek(CHILD)).toMatchObject({ mode: 'hard' })
  })

  it('when a soft deletion runs, then the managed user is left alone in every store', async () => {
    const w = family()
    const before = await footprint(w, CHILD)

    await deleteAccount(w.deps, ask({ mode: 'soft' }))

    expect(await footprint(w, CHILD)).toEqual(before)
    expect(receiptLines(w)['cassandra.user (managed users)']).toBe('kept')
  })

  it('when a grace period runs, then the managed user is left alone until it ends, and erased with the user then', async () => {
    const w = family()
    const before = await footprint(w, CHILD)

    await deleteAccount(w.deps, ask({ gracePeriodDays: 1 }))
    expect(await footprint(w, CHILD)).toEqual(before)

    w.clock.advance(60 * 60 * 1000)
    await resumeOpenDeletions(w.deps)

    expect(await footprint(w, CHILD)).toEqual(AFTER_SUNBIRD)
    expect(w.requests.all()[0]?.state).toBe('completed')
  })

  it('when the deletion is receipted, then each store of the managed users has one line with what was done and how much, and no id of theirs', async () => {
    const w = family()

    await deleteAccount(w.deps, ask())

    expect(receiptLines(w)).toMatchObject({
      'cassandra.user (managed users)': 'scrubbed 1',
      'keycloak (managed users)': 'deleted',
      'cassandra.otp (managed users)': 'deleted 1',
      'cassandra.rate_limit (managed users)': 'deleted 1',
      'cassandra.user_lookup (managed users)': 'deleted 2',
      'cassandra.usr_external_identity (managed users)': 'deleted 1',
      'cassandra.user_organisation (managed users)': 'marked-left 1',
      'cassandra.user_declarations (managed users)': 'deleted 1',
      'cassandra.user_notes (managed users)': 'deleted 1',
      'search.usernotes (managed users)': 'deleted 1',
      'cassandra.shadow_user (managed users)': 'blanked 1',
      'cassandra.user_feed (managed users)': 'deleted 1',
      'cassandra.user_cert (managed users)': 'deleted 1',
      'cassandra.address (managed users)': 'deleted 1',
      'cassandra.sunbird_courses.user_enrolments (managed users)': 'deleted 1',
      'search.user_alias (managed users)': 'tombstoned 1',
      'redis.user (managed users)': 'deleted 1',
    })
    // Sunbird keeps consent and roles: no line claims the managed users' went.
    expect(receiptLines(w)).not.toHaveProperty('cassandra.user_consent (managed users)')
    expect(receiptLines(w)).not.toHaveProperty('cassandra.user_roles (managed users)')
    const request = w.requests.all()[0]
    expect(JSON.stringify(request?.receipt)).not.toContain(CHILD)
    // The child's contacts were looked up by value: their keyed hashes are kept, never the values.
    expect(request?.steps.managedUsers?.hashes).toEqual(expect.arrayContaining([keyedHash(WORLD_RECEIPT_KEY, contactsOf(CHILD).email), keyedHash(WORLD_RECEIPT_KEY, contactsOf(CHILD).phone)]))
    expect(JSON.stringify(request)).not.toContain(contactsOf(CHILD).email)
  })

  it('when a hard deletion is asked as a dry run, then the plan lists the managed users’ stores too; a soft one only says they are kept', async () => {
    const w = family()

    const hard = await deleteAccount(w.deps, ask({ mode: 'hard', dryRun: true }))
    const soft = await deleteAccount(w.deps, ask({ mode: 'soft', dryRun: true }))

    const plan = hard.kind === 'dry-run' ? hard.plan : []
    expect(plan).toEqual(
      expect.arrayContaining([
        { store: 'cassandra.user (managed users)', action: 'hard-delete', count: 1 },
        { store: 'keycloak (managed users)', action: 'delete', count: 1 },
        { store: 'cassandra.user_roles (managed users)', action: 'delete', count: 1 },
        { store: 'cassandra.user_consent (managed users)', action: 'delete', count: 1 },
        { store: 'search.user_alias (managed users)', action: 'delete', count: 1 },
        { store: 'search.usernotes (managed users)', action: 'delete', count: 1 },
        { store: 'redis.user (managed users)', action: 'delete', count: 1 },
        { store: 'cassandra.sunbird_courses.user_enrolments (managed users)', action: 'delete', count: 1 },
      ]),
    )
    expect((soft.kind === 'dry-run' ? soft.plan : []).filter((entry) => entry.store.endsWith('(managed users)'))).toEqual([{ store: 'cassandra.user (managed users)', action: 'keep', count: 1 }])
    expect(await footprint(w, CHILD)).toMatchObject({ searchDocument: 'whole', cache: true, extraTarget: 1 })
  })

  it('when the search engine and the cache are down, then the managed users’ step is owed, and the sweeper finishes it later, keeping what the first run reported', async () => {
    const w = family()
    w.search.down = true
    w.cache.down = true

    await deleteAccount(w.deps, ask())

    const request = () => w.requests.all()[0]
    expect(request()?.state).toBe('partial')
    expect(request()?.steps.managedUsers).toMatchObject({ status: 'pending', ids: [CHILD] })
    expect(receiptLines(w)).toMatchObject({ 'search.user_alias (managed users)': 'pending', 'redis.user (managed users)': 'pending', 'cassandra.user_lookup (managed users)': 'deleted 2' })
    expect(w.users.remainingLookups(CHILD)).toBe(0)
    expect(w.search.users.get(CHILD)).toMatchObject({ firstName: 'Asha' })
    expect(w.cache.hashes.has(CHILD)).toBe(true)

    w.search.down = false
    w.cache.down = false
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)

    expect(request()?.state).toBe('completed')
    expect(await footprint(w, CHILD)).toEqual(AFTER_SUNBIRD)
    // The stores done by the first run keep its counts; the child's contacts, blanked since, keep their hashes.
    expect(receiptLines(w)).toMatchObject({
      'search.user_alias (managed users)': 'tombstoned 1',
      'redis.user (managed users)': 'deleted 1',
      'cassandra.user_lookup (managed users)': 'deleted 2',
      'cassandra.otp (managed users)': 'deleted 1',
    })
    expect(request()?.steps.managedUsers?.hashes).toContain(keyedHash(WORLD_RECEIPT_KEY, contactsOf(CHILD).email))
  })

  it('when DELETION_RECEIPT_HASH_KEY changes while the managed users’ step is owed, then the run again keeps the first run’s contact hashes with the id of the key that made them, never under the new key’s id', async () => {
    const w = family()
    w.search.down = true
    w.cache.down = true
    await deleteAccount(w.deps, ask())
    const request = () => w.requests.all()[0]
    const first = request()?.steps.managedUsers
    expect(first).toMatchObject({ status: 'pending', hashKeyId: keyId(WORLD_RECEIPT_KEY) })
    expect(first?.hashes).toContain(keyedHash(WORLD_RECEIPT_KEY, contactsOf(CHILD).email))

    w.search.down = false
    w.cache.down = false
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions({ ...w.deps, receiptKey: 'rotated-receipt-key-after-a-leak' })

    expect(request()?.state).toBe('completed')
    expect(request()?.steps.managedUsers?.hashes?.sort()).toEqual([...(first?.hashes ?? [])].sort())
    expect(request()?.steps.managedUsers?.hashKeyId).toBe(keyId(WORLD_RECEIPT_KEY))
    expect(request()?.steps.otp?.hashKeyId).toBe(keyId(WORLD_RECEIPT_KEY))
    // The receipt is made when the request settles: under the key of that time, and says so.
    expect(request()?.receipt?.subjectKeyId).toBe(keyId('rotated-receipt-key-after-a-leak'))
  })

  it('when a hard deletion dies while erasing a managed user, then the managed user is still found (their row goes last), and resuming erases them everywhere and names them in the event', async () => {
    // Arrange: the run dies at the managed user's search document, which the user's own plan erases after the row.
    const w = family()
    const deleteDocument = w.search.deleteUser.bind(w.search)
    let died = false
    w.search.deleteUser = async (userId) => {
      if (userId === CHILD && !died) {
        died = true
        throw new Error('killed')
      }
      return deleteDocument(userId)
    }
    await deleteAccount(w.deps, ask({ mode: 'hard' })).catch(() => undefined)
    const request = w.requests.all()[0]
    expect(died).toBe(true)
    expect(request?.state).toBe('in_progress')
    expect(w.users.snapshot(CHILD)).toMatchObject({ managedBy: PARENT })

    // Act
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)

    // Assert
    expect(w.requests.all()[0]?.state).toBe('completed')
    expect(await footprint(w, CHILD)).toEqual(AFTER_HARD)
    expect(w.outbox.eventOf(request?.id ?? '')?.edata).toMatchObject({ managed_users: [CHILD] })
  })

  it('when Sunbird’s deletion (no mode) erases a managed user, then their ids cost no write of their own before it: the scrub keeps managedby, so a run again finds them', async () => {
    const w = family()

    await deleteAccount(w.deps, ask())

    const writes = w.timeline.entries.filter((entry) => entry.startsWith('requests.') && entry.includes('managedUsers'))
    expect(writes).toHaveLength(1)
    expect(w.requests.all()[0]?.steps.managedUsers).toMatchObject({ status: 'done', ids: [CHILD] })
  })

  it('when a hard deletion dies at its second managed user, then the first, already cut loose by its tombstone, is still named: resuming reports both and the event names both', async () => {
    // Arrange: two children; the run dies at the search document of whichever it erases second.
    const SECOND_CHILD = '8b5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d44'
    const w = family({ seed: [person(PARENT), person(CHILD, { managedBy: PARENT }), person(SECOND_CHILD, { managedBy: PARENT }), person(BYSTANDER)] })
    const deleteDocument = w.search.deleteUser.bind(w.search)
    const erased: string[] = []
    let died = false
    w.search.deleteUser = async (userId) => {
      if (userId !== PARENT && !erased.includes(userId)) erased.push(userId)
      if (erased.length === 2 && !died) {
        died = true
        throw new Error('killed')
      }
      return deleteDocument(userId)
    }
    await deleteAccount(w.deps, ask({ mode: 'hard' })).catch(() => undefined)
    const request = w.requests.all()[0]
    const [first] = erased
    expect(died).toBe(true)
    expect(w.users.snapshot(first ?? '')).not.toMatchObject({ managedBy: PARENT })

    // Act
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)

    // Assert
    const resumed = w.requests.all()[0]
    expect(resumed?.state).toBe('completed')
    expect(resumed?.steps.managedUsers?.ids?.sort()).toEqual([CHILD, SECOND_CHILD].sort())
    const edata = w.outbox.eventOf(request?.id ?? '')?.edata as { managed_users?: string[] } | undefined
    expect(edata?.managed_users?.sort()).toEqual([CHILD, SECOND_CHILD].sort())
    expect(await footprint(w, SECOND_CHILD)).toEqual(AFTER_HARD)
  })

  it('when the managed user is soft-deleted of their own and Sunbird’s deletion of the user who manages them erases them, then that soft deletion can no longer be cancelled', async () => {
    const w = family()
    await deleteAccount(w.deps, { requestId: 'child-soft', userId: CHILD, caller: selfOf(CHILD), mode: 'soft' })

    await deleteAccount(w.deps, ask())

    expect(w.states.peek(CHILD)).toMatchObject({ mode: 'sunbird' })
    await expect(cancelDeletion(w.deps, { userId: CHILD, caller: selfOf(CHILD) })).rejects.toBeInstanceOf(UserErasedError)
    expect(await footprint(w, CHILD)).toEqual(AFTER_SUNBIRD)
    expect(w.users.snapshot(CHILD)).toMatchObject({ status: 2, isDeleted: true })
  })

  it.each([
    ['a hard deletion', { mode: 'hard' } as const, 'hard'],
    ['Sunbird’s deletion', {}, 'sunbird'],
  ] as const)(
    'when a cancel of the managed user’s own soft deletion takes their hold between %s’s read and its compare-and-set, then the deletion reads again and takes the hold from the cancel before erasing them',
    async (_name, fields, mode) => {
      // Arrange: the child's cancel swaps soft → restoring right before the parent's deletion swaps the child's hold.
      const w = family()
      await deleteAccount(w.deps, { requestId: 'child-soft', userId: CHILD, caller: selfOf(CHILD), mode: 'soft' })
      const swap = w.states.swap.bind(w.states)
      let raced = false
      w.states.swap = async (userId, expected, next) => {
        if (!raced && userId === CHILD && next?.mode === mode) {
          raced = true
          await swap(CHILD, { mode: 'soft', requestId: 'child-soft' }, { mode: 'restoring', requestId: 'child-soft' })
        }
        return swap(userId, expected, next)
      }

      // Act
      const outcome = await deleteAccount(w.deps, ask(fields))

      // Assert: the erasure holds the child (a cancel finding this restores nothing more), and erased them.
      expect(raced).toBe(true)
      expect(outcome).toMatchObject({ kind: 'deleted' })
      expect(w.states.peek(CHILD)).toEqual({ mode, requestId: outcome.kind === 'deleted' ? outcome.requestId : '' })
      expect(await footprint(w, CHILD)).toEqual(mode === 'hard' ? AFTER_HARD : AFTER_SUNBIRD)
    },
  )

  it('when the managed user’s search document and cache are owed and a process without sunbird_es_host and sunbird_redis_host runs the step again, then they stay owed (the user’s own were done there), and a configured instance erases them', async () => {
    // Arrange: the engine and the cache fail for the child only: the user's own steps are done, the managed users' step is owed.
    const w = family()
    let childStoresDown = true
    const unavailableForChild =
      <T extends unknown[], R>(of: string, real: (...args: T) => Promise<R>) =>
      (...args: T): Promise<R> =>
        childStoresDown && args[0] === CHILD ? Promise.reject(new DependencyUnavailableError(of === 'cache' ? 'redis' : 'search')) : real(...args)
    w.search.readUser = unavailableForChild('search', w.search.readUser.bind(w.search))
    w.search.deleteNotes = unavailableForChild('search', w.search.deleteNotes.bind(w.search))
    w.cache.deleteUser = unavailableForChild('cache', w.cache.deleteUser.bind(w.cache))
    await deleteAccount(w.deps, ask())
    const request = () => w.requests.all()[0]
    expect(request()?.state).toBe('partial')
    expect(request()?.steps).toMatchObject({ searchUser: { status: 'done' }, cacheUser: { status: 'done' }, managedUsers: { status: 'pending' } })
    childStoresDown = false

    // Act
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions({ ...w.deps, search: undefined, cache: undefined })

    // Assert
    expect(request()?.state).toBe('partial')
    expect(request()?.steps.managedUsers).toMatchObject({ status: 'pending', ids: [CHILD] })
    expect(receiptLines(w)).toMatchObject({ 'search.user_alias (managed users)': 'pending', 'search.usernotes (managed users)': 'pending', 'redis.user (managed users)': 'pending' })
    expect(await footprint(w, CHILD)).toMatchObject({ searchDocument: 'whole', searchNotes: 1, cache: true })

    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)

    expect(request()?.state).toBe('completed')
    expect(await footprint(w, CHILD)).toEqual(AFTER_SUNBIRD)
  })

  it('when a grace period that kept an ERASURE_EXTRA_TARGETS table ends under a process whose ERASURE_EXTRA_TARGETS does not name it, then the table is owed for the user and the managed user, and an instance that names it erases it', async () => {
    const w = family()
    await deleteAccount(w.deps, ask({ gracePeriodDays: 1 }))
    const request = () => w.requests.all()[0]
    expect(request()?.steps.extraTargets).toMatchObject({ entries: [{ store: 'cassandra.sunbird_courses.user_enrolments', action: 'kept' }] })
    const warnings: { step: string; err: unknown }[] = []
    w.clock.advance(60 * 60 * 1000)

    await resumeOpenDeletions({ ...w.deps, extraTargets: [], onStepError: (step, err) => void warnings.push({ step, err }) })

    expect(request()?.state).toBe('partial')
    expect(request()?.steps.extraTargets).toMatchObject({ status: 'pending', action: 'not configured here', entries: [{ store: 'cassandra.sunbird_courses.user_enrolments', action: 'pending' }] })
    expect(receiptLines(w)).toMatchObject({ 'cassandra.sunbird_courses.user_enrolments': 'pending', 'cassandra.sunbird_courses.user_enrolments (managed users)': 'pending' })
    expect(await footprint(w, PARENT)).toMatchObject({ extraTarget: 1, profile: 0 })
    expect(await footprint(w, CHILD)).toMatchObject({ extraTarget: 1, profile: 0 })
    expect(warnings.map((warning) => warning.step)).toEqual(['extraTargets', 'managedUsers'])
    const err = warnings[0]?.err
    const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : ''
    expect(why).toContain('ERASURE_EXTRA_TARGETS of this process does not name cassandra.sunbird_courses.user_enrolments')
    expect(why).not.toContain(PARENT)

    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)

    expect(request()?.state).toBe('completed')
    expect(await footprint(w, PARENT)).toEqual(AFTER_SUNBIRD)
    expect(await footprint(w, CHILD)).toEqual(AFTER_SUNBIRD)
    expect(receiptLines(w)).toMatchObject({ 'cassandra.sunbird_courses.user_enrolments': 'deleted 1', 'cassandra.sunbird_courses.user_enrolments (managed users)': 'deleted 1' })
  })
})

/** Where a user stands for the lock-out gate of another instance: read from the stores, told nothing by this one. */
const standingElsewhere = (w: World, userId: string) => lockOutStanding(w, userId)

/** Makes the run of the user who manages the child die right after `step` (a crash); the request stays open for the sweeper. */
function dieAfter(w: World, step: Parameters<NonNullable<World['deps']['afterStep']>>[0]) {
  w.deps.afterStep = (reached) => {
    if (reached === step) throw new Error('killed')
  }
}

describe('managed users, locked out from the lock of the user who manages them', () => {
  it.each([
    ['Sunbird’s deletion', {}],
    ['a hard deletion', { mode: 'hard' }],
  ] as const)('when %s dies right after the lock, then every instance locks the managed user out at once, for good, and resuming erases them', async (_, fields) => {
    // Arrange
    const w = family()
    expect(await standingElsewhere(w, CHILD)).toBe('active')
    dieAfter(w, 'lock')

    // Act
    await expect(deleteAccount(w.deps, ask(fields))).rejects.toThrow('killed')

    // Assert: nothing of the child erased yet, their row still active, and already locked out.
    expect(w.requests.all()[0]?.state).toBe('in_progress')
    expect(w.users.snapshot(CHILD)).toMatchObject({ status: 1, managedBy: PARENT })
    expect(await standingElsewhere(w, CHILD)).toBe('deleted')
    expect(await standingElsewhere(w, BYSTANDER)).toBe('active')
    w.deps.afterStep = undefined
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)
    expect(w.requests.all()[0]?.state).toBe('completed')
    expect(await footprint(w, CHILD)).toEqual('mode' in fields ? AFTER_HARD : AFTER_SUNBIRD)
    expect(await standingElsewhere(w, CHILD)).toBe('deleted')
  })

  it('when a soft deletion locks the user who manages them, then the managed user stays active, and so after its cancel', async () => {
    const w = family()

    await deleteAccount(w.deps, ask({ mode: 'soft' }))
    const whileSoft = await standingElsewhere(w, CHILD)
    await cancelDeletion(w.deps, { userId: PARENT, caller: selfOf(PARENT) })

    expect([await standingElsewhere(w, PARENT), whileSoft, await standingElsewhere(w, CHILD)]).toEqual(['active', 'active', 'active'])
  })

  it('when a grace period locks the user who manages them, then the managed user is locked out as restorable by their manager (their data kept), and the cancel lets them in again', async () => {
    const w = family()
    const before = await footprint(w, CHILD)

    await deleteAccount(w.deps, ask({ gracePeriodDays: 1 }))
    const duringGrace = await standingElsewhere(w, CHILD)
    await cancelDeletion(w.deps, { userId: PARENT, caller: selfOf(PARENT) })

    expect(duringGrace).toBe('restorable by manager')
    expect(await footprint(w, CHILD)).toEqual(before)
    expect(w.users.snapshot(CHILD)).toMatchObject({ status: 1 })
    expect(await standingElsewhere(w, CHILD)).toBe('active')
  })

  it('when a grace period ends and its erasure dies as it begins, then the managed user is locked out for good before any of their stores is erased', async () => {
    const w = family()
    await deleteAccount(w.deps, ask({ gracePeriodDays: 1 }))
    w.clock.advance(60 * 60 * 1000)
    dieAfter(w, 'erasure')

    await resumeOpenDeletions(w.deps)

    expect(w.users.snapshot(CHILD)).toMatchObject({ status: 1, managedBy: PARENT })
    expect(await standingElsewhere(w, CHILD)).toBe('deleted')
  })

  it('when the managed user is soft-deleted of their own and Sunbird’s deletion of the user who manages them dies right after its lock, then the managed user is locked out for good, no longer restorable', async () => {
    const w = family()
    await deleteAccount(w.deps, { requestId: 'child-soft', userId: CHILD, caller: selfOf(CHILD), mode: 'soft' })
    expect(await standingElsewhere(w, CHILD)).toBe('restorable')
    dieAfter(w, 'lock')

    await expect(deleteAccount(w.deps, ask())).rejects.toThrow('killed')

    expect(w.states.peek(CHILD)).toMatchObject({ mode: 'soft', requestId: 'child-soft' })
    expect(await standingElsewhere(w, CHILD)).toBe('deleted')
  })

  it('when the managed user soft-deletes themself while the user who manages them is soft-deleted, then they are restorable by their own deletion, as anyone is', async () => {
    const w = family()
    await deleteAccount(w.deps, ask({ mode: 'soft' }))

    await deleteAccount(w.deps, { requestId: 'child-soft', userId: CHILD, caller: selfOf(CHILD), mode: 'soft' })

    expect(await standingElsewhere(w, CHILD)).toBe('restorable')
  })
})
