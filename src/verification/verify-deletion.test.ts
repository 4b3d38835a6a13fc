import { describe, expect, it } from 'vitest'
import { WORLD_RECEIPT_KEY, deletionWorld } from '../../test/support/fakes/deletion-world.js'
import type { SeedUser } from '../../test/support/fakes/in-memory-user-store.js'
import type { Caller } from '../deletion/caller.js'
import { type DeletionInput, deleteAccount } from '../deletion/delete-account.js'
import { formatDeletionVerification } from './format-verification.js'
import type { ByValueDeps } from './verify-by-value.js'
import { type DeletionVerification, type VerifyDeps, hasResidue, verifyDeletion } from './verify-deletion.js'

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
      rows: [],
      managedUsers: { recorded: undefined, linkedOnly: 1, users: [{ userId: CHILD, rows: [{ store: 'redis.user', expected: 'no key', found: 'no key', residue: false }] }], byValue: [] },
    }

    expect(formatDeletionVerification(verification)).toContain('managed users: 1 (the deletion recorded no ids; 1 found linked by managedby only)')
  })
})
