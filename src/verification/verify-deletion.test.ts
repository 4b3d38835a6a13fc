import { describe, expect, it } from 'vitest'
import { WORLD_RECEIPT_KEY, deletionWorld } from '../../test/support/fakes/deletion-world.js'
import type { SeedUser } from '../../test/support/fakes/in-memory-user-store.js'
import type { Caller } from '../deletion/caller.js'
import { type DeletionInput, deleteAccount } from '../deletion/delete-account.js'
import type { DeletionRequest } from '../deletion/deletion-request.js'
import { keyId } from '../deletion/keyed-hash.js'
import { formatDeletionVerification } from './format-verification.js'
import type { ByValueDeps } from './verify-by-value.js'
import { type DeletionVerification, type VerifyDeps, hasResidue, hasUnchecked, verificationExitCode, verifyDeletion } from './verify-deletion.js'

const PARENT = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const CHILD = '6a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d42'
const BYSTANDER = '7c7e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d43'
const LATE_CHILD = '8d8e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d44'
const ORG = 'org-1'
const ENROLMENTS = { keyspace: 'sunbird_courses', table: 'user_enrolments', userColumn: 'userid', action: 'delete' } as const
/** Personal values each user is seeded with: none may ever be printed. */
const PERSONAL = ['Asha', '2012-04-12', 'Springfield High', 'call me back', 'Pune', 'X1Y2']

// No email or phone in the profiles: the deletion keeps no contact hashes, so the by-value scan
// (raw CQL, covered by test/integration/erasure-everywhere.test.ts) never runs here.
const person = (id: string, fields: Partial<SeedUser> = {}): SeedUser => ({
  id,
  rootOrgId: ORG,
  organisationIds: [ORG],
  lookups: 2,
  externalIdentities: 1,
  profile: { firstname: 'Asha', dob: '2012-04-12' },
  ...fields,
})
const NO_SCAN_EXPECTED: ByValueDeps['cassandra'] = {
  execute: () => {
    throw new Error('by-value scan run although no contact hashes were kept')
  },
}

/** Every store the deletion reaches, filled for one user. */
function seedStores(w: ReturnType<typeof deletionWorld>, userId: string): void {
  w.tables.addRow('user_declarations', { userid: userId, orgid: ORG, persona: 'teacher', userinfo: { 'declared-school-name': 'Springfield High' } })
  w.tables.addRow('user_consent', { user_id: userId, consumer_id: ORG, object_id: ORG, status: 'ACTIVE' })
  w.tables.addRow('user_notes', { id: `note-${userId}`, userid: userId, note: 'call me back' })
  w.tables.addRow('shadow_user', { channel: 'demo', userextid: `ext-${userId}`, userid: userId, name: 'Asha Verma' })
  w.tables.addRow('user_feed', { id: `feed-${userId}`, userid: userId, data: 'welcome Asha' })
  w.tables.addRow('user_cert', { id: `cert-${userId}`, userid: userId, accesscode: 'X1Y2' })
  w.tables.addRow('address', { id: `addr-${userId}`, userid: userId, city: 'Pune' })
  w.tables.addRow('sunbird_courses.user_enrolments', { userid: userId, courseid: 'c-1', progress: 3 })
  w.search.users.set(userId, { id: userId, userId, firstName: 'Asha', dob: '2012-04-12', status: 1, isDeleted: false, rootOrgId: ORG, organisations: [{ organisationId: ORG }] })
  w.search.notes.set(`note-${userId}`, { id: `note-${userId}`, userId, note: 'call me back' })
  w.cache.hashes.set(userId, { firstname: 'Asha' })
}

/** A parent, the child they manage and a bystander, each in every store a deletion reaches. */
function family() {
  const w = deletionWorld({ seed: [person(PARENT), person(CHILD, { managedBy: PARENT }), person(BYSTANDER)], extraTargets: [ENROLMENTS] })
  for (const userId of [PARENT, CHILD, BYSTANDER]) seedStores(w, userId)
  return w
}

type World = ReturnType<typeof family>

const verifyDeps = (w: World): VerifyDeps => ({
  requests: w.requests,
  users: w.users,
  tables: w.tables,
  search: w.deps.search,
  cache: w.deps.cache,
  extraTargets: [ENROLMENTS],
  cassandra: NO_SCAN_EXPECTED,
  keyspace: 'sunbird',
  receiptKey: WORLD_RECEIPT_KEY,
})

let counter = 0
const parentSelf: Caller = { consumer: 'portal', userId: PARENT, roles: [] }

/** The parent deletes themselves in `mode`; the verification of that request. */
async function deleteParentAndVerify(w: World, mode?: DeletionInput['mode']): Promise<{ requestId: string; verify: () => Promise<DeletionVerification> }> {
  const requestId = `req-${++counter}`
  await deleteAccount(w.deps, { requestId, userId: PARENT, caller: parentSelf, ...(mode && { mode }) })
  return {
    requestId,
    verify: async () => {
      const verification = await verifyDeletion(verifyDeps(w), requestId)
      if (!verification) throw new Error(`no request ${requestId}`)
      return verification
    },
  }
}

const residueOf = (rows: readonly { store: string; residue: boolean }[]) => rows.filter((row) => row.residue).map((row) => row.store)
const managedUser = (verification: DeletionVerification, userId: string) => verification.managedUsers?.users.find((user) => user.userId === userId)

describe('deletion:verify checks the managed users the deletion erased', () => {
  it('when a hard deletion erased the person and their managed user, then the managed user, found by the id the request recorded (the tombstone cut the managedby link), is checked in every store the person is, and nothing is residue', async () => {
    const w = family()
    const { verify } = await deleteParentAndVerify(w, 'hard')
    expect(w.users.snapshot(CHILD)?.managedBy).toBeNull()

    const verification = await verify()

    expect(verification.managedUsers).toMatchObject({ recorded: 1, linkedOnly: 0 })
    expect(verification.managedUsers?.users.map((user) => user.userId)).toEqual([CHILD])
    const personByIdStores = verification.rows.map((row) => row.store).filter((store) => !store.endsWith('(by value)'))
    expect(managedUser(verification, CHILD)?.rows.map((row) => row.store)).toEqual(personByIdStores)
    expect(managedUser(verification, CHILD)?.rows.map((row) => row.store)).toEqual(
      expect.arrayContaining(['cassandra.user (profile)', 'cassandra.user_consent', 'search.user_alias', 'search.usernotes', 'redis.user', 'cassandra.sunbird_courses.user_enrolments']),
    )
    expect(hasResidue(verification)).toBe(false)
  })

  it('when the deletion reached the search engine and the cache but this process is not configured with them, then those lines say so and cannot pass: INCOMPLETE, exit 3, never ok', async () => {
    const w = family()
    const { requestId } = await deleteParentAndVerify(w, 'hard')

    const verification = await verifyDeletion({ ...verifyDeps(w), search: undefined, cache: undefined }, requestId)
    if (!verification) throw new Error('no request')

    const unchecked = verification.rows.filter((row) => row.unchecked).map((row) => row.store)
    expect(unchecked).toEqual(['search.user_alias', 'search.usernotes', 'search.user_alias (addedByName)', 'redis.user'])
    expect(
      managedUser(verification, CHILD)
        ?.rows.filter((row) => row.unchecked)
        .map((row) => row.store),
    ).toEqual(['search.user_alias', 'search.usernotes', 'search.user_alias (addedByName)', 'redis.user'])
    expect(verificationExitCode(verification)).toBe(3)
    expect(formatDeletionVerification(verification)).toContain(`person ${PARENT}: INCOMPLETE`)
  })

  it('when a soft deletion reached the search engine but this process is not configured with it, then the notes it keeps are shown kept, and only the flagged document cannot be checked', async () => {
    const w = family()
    const { requestId } = await deleteParentAndVerify(w, 'soft')

    const verification = await verifyDeletion({ ...verifyDeps(w), search: undefined }, requestId)
    if (!verification) throw new Error('no request')

    expect(verification.rows.filter((row) => row.store.startsWith('search.'))).toEqual([
      { store: 'search.user_alias', expected: 'checked', found: 'not configured here, though the deletion reached it', residue: false, unchecked: 'search not configured' },
      { store: 'search.usernotes', expected: 'kept', found: 'not configured here', residue: false },
      { store: 'search.user_alias (addedByName)', expected: 'kept', found: 'not configured here', residue: false },
    ])
  })

  it('when a soft deletion reached the cache but this process is not configured with it, then the key it does not judge is shown kept, not a check that could not be made', async () => {
    const w = family()
    const { requestId } = await deleteParentAndVerify(w, 'soft')

    const verification = await verifyDeletion({ ...verifyDeps(w), cache: undefined }, requestId)
    if (!verification) throw new Error('no request')

    expect(verification.rows.find((row) => row.store === 'redis.user')).toEqual({ store: 'redis.user', expected: 'kept', found: 'not configured here', residue: false })
    expect(hasUnchecked(verification)).toBe(false)
  })

  it('when the deletion ran without the search engine and the cache, and this process has neither, then those lines are "not configured" and pass', async () => {
    const w = deletionWorld({ seed: [person(PARENT)], withoutSearch: true, withoutCache: true })
    const { requestId } = await deleteParentAndVerify(w as World, 'hard')

    // No extra target: this world has none of its tables, and a missing one cannot pass.
    const verification = await verifyDeletion({ ...verifyDeps(w as World), extraTargets: [], search: undefined, cache: undefined }, requestId)
    if (!verification) throw new Error('no request')

    expect(verification.rows.filter((row) => row.store.startsWith('search.') || row.store.startsWith('redis.'))).toEqual([
      { store: 'search.user_alias', expected: 'not configured', found: 'not configured', residue: false },
      { store: 'search.usernotes', expected: 'not configured', found: 'not configured', residue: false },
      { store: 'search.user_alias (addedByName)', expected: 'not configured', found: 'not configured', residue: false },
      { store: 'redis.user', expected: 'not configured', found: 'not configured', residue: false },
    ])
    expect(verificationExitCode(verification)).toBe(0)
  })

  /**
   * A deletion run without the search engine and the cache, its request then rewritten as `reshape`
   * says (still open), verified by a process that has neither either.
   */
  async function verifyUnfinishedWithoutStores(mode: 'hard' | 'soft', reshape: (stored: DeletionRequest) => DeletionRequest) {
    const w = deletionWorld({ seed: [person(PARENT)], withoutSearch: true, withoutCache: true })
    const { requestId } = await deleteParentAndVerify(w as World, mode)
    const stored = w.requests.peek(requestId)
    if (!stored) throw new Error('no request')
    w.requests.seed(reshape(stored), { open: true })
    const verification = await verifyDeletion({ ...verifyDeps(w as World), extraTargets: [], search: undefined, cache: undefined }, requestId)
    if (!verification) throw new Error('no request')
    return verification
  }
  /** Keycloak still owed: the request stays partial, its other steps settled. */
  const keycloakOwed = (stored: DeletionRequest): DeletionRequest => ({
    ...stored,
    state: 'partial',
    steps: { ...stored.steps, keycloak: { status: 'pending', action: 'owed', at: stored.updatedAt.toISOString() } },
  })

  it('when a deletion still partial (a step owed elsewhere) ran without the search engine and the cache, then a later run cannot reach them either: "not configured", not a check this process lacks', async () => {
    const verification = await verifyUnfinishedWithoutStores('hard', keycloakOwed)

    expect(verification.rows.filter((row) => row.store.startsWith('search.') || row.store.startsWith('redis.')).map((row) => [row.store, row.found, row.unchecked])).toEqual([
      ['search.user_alias', 'not configured', undefined],
      ['search.usernotes', 'not configured', undefined],
      ['search.user_alias (addedByName)', 'not configured', undefined],
      ['redis.user', 'not configured', undefined],
    ])
    expect(hasUnchecked(verification)).toBe(false)
  })

  it('when a soft deletion still partial ran without the search engine and the cache, then those are not said to be reached either (its plan has no notes or managed users step to come back to)', async () => {
    expect(hasUnchecked(await verifyUnfinishedWithoutStores('soft', keycloakOwed))).toBe(false)
  })

  it('when a deletion still partial has not reached its search steps yet, then this process without the search engine cannot say they are clean', async () => {
    const verification = await verifyUnfinishedWithoutStores('hard', (stored) => {
      const { searchUser: _user, searchNotes: _notes, searchAddedByName: _named, ...before } = stored.steps
      return { ...stored, state: 'in_progress', steps: before }
    })

    expect(verification.rows.filter((row) => row.unchecked).map((row) => row.store)).toEqual(['search.user_alias', 'search.usernotes', 'search.user_alias (addedByName)'])
  })

  it('when a managed user’s cache key, search note and user_notes row come back after the deletion, then exactly those stores are residue for that managed user, the person stays clean, and the verification has residue', async () => {
    const w = family()
    const { verify } = await deleteParentAndVerify(w, 'hard')
    expect(hasResidue(await verify())).toBe(false)

    w.cache.hashes.set(CHILD, { firstname: 'Asha' })
    w.search.notes.set(`note2-${CHILD}`, { id: `note2-${CHILD}`, userId: CHILD, note: 'again' })
    w.tables.addRow('user_notes', { id: `note2-${CHILD}`, userid: CHILD, note: 'again' })
    const verification = await verify()

    expect(residueOf(verification.rows)).toEqual([])
    expect(residueOf(managedUser(verification, CHILD)?.rows ?? [])).toEqual(['cassandra.user_notes', 'search.usernotes', 'redis.user'])
    expect(hasResidue(verification)).toBe(true)
  })

  it("when another user's membership the person added them to carries the person's name again after the deletion, then that line is residue for the person", async () => {
    const w = family()
    const { verify } = await deleteParentAndVerify(w, 'hard')
    expect(hasResidue(await verify())).toBe(false)

    w.search.users.set('added-1', { id: 'added-1', userId: 'added-1', organisations: [{ organisationId: ORG, addedBy: PARENT, addedByName: 'Asha' }] })
    const verification = await verify()

    expect(residueOf(verification.rows)).toEqual(['search.user_alias (addedByName)'])
    expect(verification.rows.find((row) => row.store === 'search.user_alias (addedByName)')).toMatchObject({ expected: '0 documents', found: '1 document(s)' })
  })

  it("when a deletion completed before the step existed (no searchAddedByName outcome recorded) and another user's membership still carries the person's name, then that line is counted and shown, not judged: no residue, exit 0", async () => {
    const w = family()
    const { requestId, verify } = await deleteParentAndVerify(w, 'hard')
    const stored = w.requests.peek(requestId)
    if (!stored) throw new Error('no request')
    const { searchAddedByName: _named, ...before } = stored.steps
    w.requests.seed({ ...stored, steps: before })
    w.search.users.set('added-1', { id: 'added-1', userId: 'added-1', organisations: [{ organisationId: ORG, addedBy: PARENT, addedByName: 'Asha' }] })
    const verification = await verify()

    expect(verification.request.state).toBe('completed')
    expect(verification.rows.find((row) => row.store === 'search.user_alias (addedByName)')).toEqual({
      store: 'search.user_alias (addedByName)',
      expected: 'not checked (deletion did not run this step)',
      found: '1 document(s)',
      residue: false,
    })
    expect(verificationExitCode(verification)).toBe(0)
  })

  it('when Sunbird’s deletion kept the managedby link, then the managed user is checked once (recorded, and linked), against the tombstone of Sunbird’s deletion: its whole search document back is residue', async () => {
    const w = family()
    const { verify } = await deleteParentAndVerify(w)
    expect(w.users.snapshot(CHILD)?.managedBy).toBe(PARENT)
    expect(hasResidue(await verify())).toBe(false)

    w.search.users.set(CHILD, { id: CHILD, userId: CHILD, firstName: 'Asha', status: 1, isDeleted: false, rootOrgId: ORG })
    const verification = await verify()

    expect(verification.managedUsers).toMatchObject({ recorded: 1, linkedOnly: 0 })
    expect(verification.managedUsers?.users.map((user) => user.userId)).toEqual([CHILD])
    expect(residueOf(managedUser(verification, CHILD)?.rows ?? [])).toEqual(['search.user_alias'])
    expect(hasResidue(verification)).toBe(true)
  })

  it('when a user is linked to the person by managedby that the deletion did not record, then it is checked too, counted as linked only, and what it holds is residue', async () => {
    const w = family()
    const { verify } = await deleteParentAndVerify(w)

    w.users.add(person(LATE_CHILD, { managedBy: PARENT }))
    w.cache.hashes.set(LATE_CHILD, { firstname: 'Asha' })
    const verification = await verify()

    expect(verification.managedUsers).toMatchObject({ recorded: 1, linkedOnly: 1 })
    expect(verification.managedUsers?.users.map((user) => user.userId)).toEqual([CHILD, LATE_CHILD])
    expect(residueOf(managedUser(verification, CHILD)?.rows ?? [])).toEqual([])
    expect(residueOf(managedUser(verification, LATE_CHILD)?.rows ?? [])).toEqual(expect.arrayContaining(['cassandra.user (profile)', 'cassandra.user_lookup', 'redis.user']))
    expect(hasResidue(verification)).toBe(true)
  })

  it('when a soft deletion left the managed user alone, then the managed user is not judged and nothing is residue', async () => {
    const w = family()
    const { verify } = await deleteParentAndVerify(w, 'soft')

    const verification = await verify()

    expect(verification.managedUsers).toBeUndefined()
    expect(w.cache.hashes.has(CHILD)).toBe(true)
    expect(hasResidue(verification)).toBe(false)
  })

  it('when the proof is printed, then each managed user is named by id with a verdict and a line per store, and no personal value appears', async () => {
    const w = family()
    const { requestId, verify } = await deleteParentAndVerify(w, 'hard')
    w.cache.hashes.set(CHILD, { firstname: 'Asha' })

    const printed = formatDeletionVerification(await verify())

    expect(printed).toContain(`request ${requestId}: plan hard, state completed`)
    expect(printed).toContain(`person ${PARENT}: ok`)
    expect(printed).toContain('managed users: 1 (1 recorded by the deletion; 0 found linked by managedby only)')
    expect(printed).toContain(`managed user ${CHILD}: RESIDUE`)
    expect(printed).toMatch(/redis\.user\s+no key\s+key\s+RESIDUE/)
    expect(printed).not.toContain(BYSTANDER)
    for (const value of PERSONAL) expect(printed).not.toContain(value)
  })

  it('when the request holds no outcome of the managed-users step yet, then the proof says so rather than claiming there were none', () => {
    const verification: DeletionVerification = {
      request: {
        id: 'req-x',
        userId: PARENT,
        requestedBy: PARENT,
        state: 'partial',
        plan: 'sunbird',
        steps: {},
        target: { rootOrgId: ORG, managedBy: null, organisationIds: [] },
        createdAt: new Date(0),
        updatedAt: new Date(0),
      },
      receiptKeyId: keyId(WORLD_RECEIPT_KEY),
      rows: [],
      managedUsers: { recorded: undefined, linkedOnly: 1, users: [{ userId: CHILD, rows: [{ store: 'redis.user', expected: 'no key', found: 'no key', residue: false }] }], byValue: [] },
    }

    expect(formatDeletionVerification(verification)).toContain('managed users: 1 (the deletion recorded no ids; 1 found linked by managedby only)')
  })
})

describe('deletion:verify judges memberships, roles and the cache key as the plan leaves them', () => {
  const line = (verification: DeletionVerification, store: string) => verification.rows.find((row) => row.store === store)

  it('when a hard deletion removed them, then both read 0 rows; a membership or a role written again after it is residue', async () => {
    const w = family()
    const { verify } = await deleteParentAndVerify(w, 'hard')
    const clean = await verify()
    expect(line(clean, 'cassandra.user_organisation')).toEqual({ store: 'cassandra.user_organisation', expected: '0 rows', found: '0 rows', residue: false })
    expect(line(clean, 'cassandra.user_roles')).toEqual({ store: 'cassandra.user_roles', expected: '0 rows', found: '0 rows', residue: false })

    w.users.addMembership(PARENT, ORG).setRoles(PARENT, ['PUBLIC'])
    const verification = await verify()

    expect(residueOf(verification.rows)).toEqual(['cassandra.user_organisation', 'cassandra.user_roles'])
    expect(verificationExitCode(verification)).toBe(1)
  })

  it('when Sunbird’s deletion marked the memberships left, then that passes and the roles it keeps are shown, not judged; a membership not marked left is residue', async () => {
    const w = family()
    const { verify } = await deleteParentAndVerify(w)
    const clean = await verify()
    expect(line(clean, 'cassandra.user_organisation')).toEqual({ store: 'cassandra.user_organisation', expected: 'every row marked left', found: '0 of 1 row not marked left', residue: false })
    expect(line(clean, 'cassandra.user_roles')).toEqual({ store: 'cassandra.user_roles', expected: 'kept', found: '1 row', residue: false })

    w.users.addMembership(PARENT, 'org-2')
    const verification = await verify()

    expect(residueOf(verification.rows)).toEqual(['cassandra.user_organisation'])
    expect(line(verification, 'cassandra.user_organisation')?.found).toBe('1 of 2 rows not marked left')
  })

  it('when the cache key of a soft deletion’s person is filled again from the profile it keeps, then that is shown, not residue', async () => {
    const w = family()
    const { verify } = await deleteParentAndVerify(w, 'soft')
    expect(w.cache.hashes.has(PARENT)).toBe(false)

    w.cache.hashes.set(PARENT, { firstname: 'Asha' })
    const verification = await verify()

    expect(line(verification, 'redis.user')).toEqual({ store: 'redis.user', expected: 'removed (refills from the kept profile)', found: 'key', residue: false })
    expect(hasResidue(verification)).toBe(false)
  })

  it('when a soft deletion kept them, then both are shown kept and not judged', async () => {
    const w = family()
    const { verify } = await deleteParentAndVerify(w, 'soft')

    const verification = await verify()

    expect(line(verification, 'cassandra.user_organisation')).toEqual({ store: 'cassandra.user_organisation', expected: 'kept', found: '1 of 1 row not marked left', residue: false })
    expect(line(verification, 'cassandra.user_roles')).toEqual({ store: 'cassandra.user_roles', expected: 'kept', found: '1 row', residue: false })
  })
})

describe('deletion:verify judges the columns older Sunbird tables still have', () => {
  it('when a column of the person an older Sunbird release added (an Aadhaar number, a login time) holds a value after Sunbird’s deletion, then the profile line is residue', async () => {
    const w = family()
    const { verify } = await deleteParentAndVerify(w)
    expect(residueOf((await verify()).rows)).toEqual([])

    w.users.editProfile(PARENT, { aadhaarno: '123456789012', lastlogintime: '2026-01-05 10:00:00:000+0000', provider: 'state-board' })
    const verification = await verify()

    expect(verification.rows.find((row) => row.store === 'cassandra.user (profile)')).toEqual({
      store: 'cassandra.user (profile)',
      expected: 'no personal column',
      found: '2 personal column(s) set',
      residue: true,
    })
  })
})

describe('deletion:verify compares the contact hashes only under the key that made them', () => {
  const ROTATED_KEY = 'rotated-receipt-key-after-a-leak'
  const PARENT_EMAIL = 'asha.verma@example.org'
  const PARENT_PHONE = '9876543210'
  const CHILD_EMAIL = 'ravi.verma@example.org'
  const withContacts = (id: string, email: string, phone: string, fields: Partial<SeedUser> = {}) => person(id, { profile: { firstname: 'Asha', dob: '2012-04-12', email, phone }, ...fields })
  const CONTACTS = [PARENT_EMAIL, PARENT_PHONE, CHILD_EMAIL]

  /** The by-value scan's one statement answered with rows holding `stored` (a stub of the driver's execute, as NO_SCAN_EXPECTED is). */
  const scanFinding = (stored: readonly string[]): ByValueDeps['cassandra'] => ({
    execute: (async () => stored.map((value) => ({ get: () => value }))) as unknown as ByValueDeps['cassandra']['execute'],
  })

  /** A parent with contacts and their managed child, the parent deleted hard with the world's receipt key. */
  async function hardDeletedFamily() {
    const w = deletionWorld({ seed: [withContacts(PARENT, PARENT_EMAIL, PARENT_PHONE), withContacts(CHILD, CHILD_EMAIL, '9000000002', { managedBy: PARENT })] })
    const requestId = `req-${++counter}`
    await deleteAccount(w.deps, { requestId, userId: PARENT, caller: parentSelf, mode: 'hard' })
    const deps = (receiptKey: string, cassandra: ByValueDeps['cassandra']): VerifyDeps => ({ ...verifyDeps(w), extraTargets: [], cassandra, receiptKey })
    return { w, requestId, deps }
  }
  const byValue = (verification: DeletionVerification) => [...verification.rows.filter((row) => row.store.endsWith('(by value)')), ...(verification.managedUsers?.byValue ?? [])]

  it('when DELETION_RECEIPT_HASH_KEY changed since the deletion, then every by-value line says "cannot check: made with another key" with that key’s id, no scan runs (it could match nothing), nothing is called residue or ok, and the exit code is 3', async () => {
    const { requestId, deps } = await hardDeletedFamily()

    const verification = await verifyDeletion(deps(ROTATED_KEY, NO_SCAN_EXPECTED), requestId)
    if (!verification) throw new Error('no request')

    const lines = byValue(verification)
    expect(lines.map((row) => row.store)).toEqual([
      'cassandra.otp (by value)',
      'cassandra.rate_limit (by value)',
      'cassandra.user_lookup (by value)',
      'cassandra.otp (by value)',
      'cassandra.rate_limit (by value)',
      'cassandra.user_lookup (by value)',
    ])
    for (const row of lines)
      expect(row).toEqual({ store: row.store, expected: '0 rows', found: `cannot check: made with another key (key id ${keyId(WORLD_RECEIPT_KEY)})`, residue: false, unchecked: 'other key' })
    expect(hasResidue(verification)).toBe(false)
    expect(hasUnchecked(verification)).toBe(true)
    expect(verificationExitCode(verification)).toBe(3)

    const printed = formatDeletionVerification(verification)
    expect(printed).toContain(`person ${PARENT}: INCOMPLETE`)
    expect(printed).toContain('managed users by value (their contacts together): INCOMPLETE')
    expect(printed).toMatch(/cassandra\.otp \(by value\)\s+0 rows\s+cannot check: made with another key \(key id [0-9a-f]{16}\)\s+CANNOT CHECK/)
    expect(printed).toContain(`configured DELETION_RECEIPT_HASH_KEY (key id ${keyId(ROTATED_KEY)})`)
    for (const value of [...CONTACTS, ...PERSONAL, ROTATED_KEY, WORLD_RECEIPT_KEY]) expect(printed).not.toContain(value)
  })

  it('when the key is the one that made them, then they are scanned for: nothing found is "0 rows" and exit 0; a code back under the plain email is residue and exit 1', async () => {
    const { requestId, deps } = await hardDeletedFamily()

    const clean = await verifyDeletion(deps(WORLD_RECEIPT_KEY, scanFinding(['someone.else@example.org'])), requestId)
    const dirty = await verifyDeletion(deps(WORLD_RECEIPT_KEY, scanFinding([PARENT_EMAIL])), requestId)
    if (!clean || !dirty) throw new Error('no request')

    expect(byValue(clean).map((row) => [row.found, row.residue, row.unchecked])).toEqual(Array(6).fill(['0 rows', false, undefined]))
    expect(verificationExitCode(clean)).toBe(0)
    expect(residueOf(dirty.rows)).toEqual(['cassandra.otp (by value)', 'cassandra.rate_limit (by value)', 'cassandra.user_lookup (by value)'])
    expect(residueOf(dirty.managedUsers?.byValue ?? [])).toEqual([])
    expect(verificationExitCode(dirty)).toBe(1)
  })

  it('when residue is found and another store could not be checked, then the exit code is residue’s (1)', () => {
    const verification: DeletionVerification = {
      request: {
        id: 'req-y',
        userId: PARENT,
        requestedBy: PARENT,
        state: 'completed',
        plan: 'hard',
        steps: {},
        target: { rootOrgId: ORG, managedBy: null, organisationIds: [] },
        createdAt: new Date(0),
        updatedAt: new Date(0),
      },
      receiptKeyId: keyId(WORLD_RECEIPT_KEY),
      rows: [
        { store: 'redis.user', expected: 'no key', found: 'key', residue: true },
        { store: 'cassandra.otp (by value)', expected: '0 rows', found: 'cannot check: made with another key (key id 0123456789abcdef)', residue: false, unchecked: 'other key' },
      ],
      managedUsers: undefined,
    }

    expect(verificationExitCode(verification)).toBe(1)
    expect(formatDeletionVerification(verification)).toContain(`person ${PARENT}: RESIDUE`)
  })

  it('when the request was recorded before the key id was kept, then the receipt its run made tells the key: under that key the hashes are scanned as before; under another, the lines say "cannot check: key not recorded" (exit 3), never "0 rows"', async () => {
    const { w, requestId, deps } = await hardDeletedFamily()
    const stored = await w.requests.get(requestId)
    if (!stored?.receipt) throw new Error('no receipt')
    // As recorded before this change: no key id with the hashes, none in the receipt.
    const { subjectKeyId: _receiptKeyId, ...oldReceipt } = stored.receipt
    const steps = Object.fromEntries(Object.entries(stored.steps).map(([name, { hashKeyId: _hashKeyId, ...outcome }]) => [name, outcome]))
    const old: DeletionRequest = { ...stored, steps, receipt: oldReceipt }
    const oldDeps = (key: string, cassandra: ByValueDeps['cassandra']): VerifyDeps => ({ ...deps(key, cassandra), requests: { get: async () => old } })

    const sameKey = await verifyDeletion(oldDeps(WORLD_RECEIPT_KEY, scanFinding([])), requestId)
    const sameKeyDirty = await verifyDeletion(oldDeps(WORLD_RECEIPT_KEY, scanFinding([CHILD_EMAIL])), requestId)
    const otherKey = await verifyDeletion(oldDeps(ROTATED_KEY, scanFinding([])), requestId)
    if (!sameKey || !sameKeyDirty || !otherKey) throw new Error('no request')

    expect(byValue(sameKey).map((row) => row.found)).toEqual(Array(6).fill('0 rows'))
    expect(verificationExitCode(sameKey)).toBe(0)
    expect(residueOf(sameKeyDirty.managedUsers?.byValue ?? [])).toEqual(['cassandra.otp (by value)', 'cassandra.rate_limit (by value)', 'cassandra.user_lookup (by value)'])
    expect(byValue(otherKey).map((row) => [row.found, row.unchecked])).toEqual(Array(6).fill(['cannot check: key not recorded', 'key not recorded']))
    expect(verificationExitCode(otherKey)).toBe(3)
  })
})
