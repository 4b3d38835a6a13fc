import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { DependencyUnavailableError, WordedCause } from '../../../src/deletion/errors.js'
import type { UserRecord, UserStore } from '../../../src/deletion/ports.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'

/** A user as Sunbird stores it, across the tables the UserStore reads and erases. */
export interface UserFixture {
  id: string
  /** Default 1 (active). */
  status?: number
  /** Default false. */
  isDeleted?: boolean
  rootOrgId?: string
  managedBy?: string
  username?: string
  /** user_roles rows; default one PUBLIC role. */
  roles?: { role: string; organisationIds?: string[] }[]
  /** user_organisation memberships, all active; default the root organisation, if any. */
  organisations?: string[]
  /** usr_external_identity rows (each also has a user_lookup row, as Sunbird writes them). */
  externalIds?: { provider: string; idType: string; externalId: string }[]
}

/** A UserStore with the means to arrange its tables and to look at what is left in them. */
export interface UserStoreSubject extends ContractSubject {
  store: UserStore
  /** Writes the user with personal values in every column and side table. */
  seed(user: UserFixture): Promise<void>
  /** Another writer changes the row behind the store's back (an admin blocks the user, another deletion). */
  update(userId: string, change: Partial<Omit<UserRecord, 'id'>>): Promise<void>
  /** Someone removes the user row outright (and nothing else). */
  removeRow(userId: string): Promise<void>
  /** Another writer that erases nothing (Sunbird's services, an admin script) sets `updatedby` and `updateddate` on the row, and nothing else; throws when the row is gone (never creates it). */
  restamp(userId: string, change: { updatedBy: string | null; at: Date | null }): Promise<void>
  /** Another writer sets profile columns (null: none) and nothing else, its stamp left as it was; throws when the row is gone. */
  editProfile(userId: string, values: Partial<Record<'firstname' | 'lastname' | 'email' | 'phone', string | null>>): Promise<void>
  /** user_lookup rows still pointing at the user. */
  lookupCount(userId: string): Promise<number>
  /** usr_external_identity rows still pointing at the user. */
  externalIdentityCount(userId: string): Promise<number>
  /** Personal values still held in the user row (blank values do not count). */
  personalValues(userId: string): Promise<string[]>
}

const CHANGE = { requestedBy: 'contract-admin', at: new Date('2024-05-20T10:08:56.812Z') }
/** The mark CHANGE's lock leaves on the row, as a cancel's restore names it. */
const LOCK = { requestedBy: CHANGE.requestedBy, at: CHANGE.at }
/** A cancel of that lock, later. */
const CANCEL = { requestedBy: 'contract-user', at: new Date('2024-05-20T10:09:30.000Z') }
/** Another deletion's erasure of the locked row (a manager's), later still. */
const ERASURE = { requestedBy: 'contract-manager', at: new Date('2024-05-20T10:09:10.000Z') }
/** Sunbird's own services writing the soft-deleted row (its `updateddate`, or who updated it), later than the lock. */
const OUTSIDE_WRITE = { updatedBy: 'sunbird-sync', at: new Date('2024-05-20T10:09:05.000Z') }
const sorted = (ids: string[]) => [...ids].sort()
const newId = () => randomUUID()
const newOrg = () => `org-${randomUUID()}`

/**
 * What the deletion workflow relies on from a UserStore, run against the in-memory fake (unit
 * tier) and the Cassandra adapter (integration tier) alike.
 */
export function describeUserStoreContract(implementation: string, factory: SubjectFactory<UserStoreSubject>): void {
  const test = contractCase(factory)

  async function seeded(s: UserStoreSubject, user: Partial<UserFixture> = {}): Promise<UserRecord> {
    const fixture = { id: newId(), ...user }
    await s.seed(fixture)
    const record = await s.store.findUser(fixture.id)
    if (!record) throw new Error('seeded user not found')
    return record
  }

  describe(`UserStore contract: ${implementation}`, () => {
    describe('reading a user', () => {
      test('when the user exists, then findUser answers its ids and flags, nulls for what is not set', async (s) => {
        const root = newOrg()
        const parent = newId()
        const managed = newId()
        const plain = newId()
        await s.seed({ id: managed, rootOrgId: root, managedBy: parent })
        await s.seed({ id: plain })

        expect(await s.store.findUser(managed)).toEqual({ id: managed, status: 1, isDeleted: false, rootOrgId: root, managedBy: parent })
        expect(await s.store.findUser(plain)).toEqual({ id: plain, status: 1, isDeleted: false, rootOrgId: null, managedBy: null })
      })

      test('when there is no such user, then findUser answers undefined and findUserName null', async (s) => {
        const id = newId()

        expect(await s.store.findUser(id)).toBeUndefined()
        expect(await s.store.findUserName(id)).toBeNull()
      })

      test('when the user has roles, then findRoles answers each role name as stored', async (s) => {
        const user = await seeded(s, { roles: [{ role: 'PUBLIC' }, { role: 'ORG_ADMIN', organisationIds: [newOrg()] }, { role: 'CONTENT_CREATOR' }] })

        expect(sorted(await s.store.findRoles(user.id))).toEqual(['CONTENT_CREATOR', 'ORG_ADMIN', 'PUBLIC'])
        expect(await s.store.findRoles(newId())).toEqual([])
      })

      test('when the user belongs to organisations, then findOrganisationIds answers each of them', async (s) => {
        const [a, b] = [newOrg(), newOrg()]
        const user = await seeded(s, { rootOrgId: a, organisations: [a, b] })

        expect(sorted(await s.store.findOrganisationIds(user.id))).toEqual(sorted([a, b]))
      })

      test('when the user has a username, then findUserName answers it', async (s) => {
        const user = await seeded(s, { username: `asha_${randomUUID().slice(0, 8)}` })

        expect(await s.store.findUserName(user.id)).toMatch(/^asha_/)
      })

      test('when users are managed by a user, then findManagedUserIds answers exactly those', async (s) => {
        const parent = await seeded(s)
        const [first, second] = [newId(), newId()]
        await s.seed({ id: first, managedBy: parent.id })
        await s.seed({ id: second, managedBy: parent.id })
        await s.seed({ id: newId(), managedBy: newId() })

        expect(sorted(await s.store.findManagedUserIds(parent.id))).toEqual(sorted([first, second]))
        expect(await s.store.findManagedUserIds(first)).toEqual([])
      })

      test('when org admins are scoped to an organisation, then findOrgAdminIds answers them, up to the limit', async (s) => {
        const [org, elsewhere] = [newOrg(), newOrg()]
        const admins = [newId(), newId(), newId()]
        for (const id of admins) await s.seed({ id, roles: [{ role: 'PUBLIC' }, { role: 'ORG_ADMIN', organisationIds: [elsewhere, org] }] })
        await s.seed({ id: newId(), roles: [{ role: 'ORG_ADMIN', organisationIds: [elsewhere] }] })
        await s.seed({ id: newId(), roles: [{ role: 'CONTENT_CREATOR', organisationIds: [org] }] })

        expect(sorted(await s.store.findOrgAdminIds(org, 10))).toEqual(sorted(admins))
        const limited = await s.store.findOrgAdminIds(org, 2)
        expect(limited).toHaveLength(2)
        expect(admins).toEqual(expect.arrayContaining(limited))
        expect(await s.store.findOrgAdminIds(newOrg(), 10)).toEqual([])
      })
    })

    describe('markDeleted (the lock)', () => {
      test('when the row still holds what was read, then it is deleted: status 2 and isDeleted for every reader', async (s) => {
        const root = newOrg()
        const user = await seeded(s, { rootOrgId: root })

        expect(await s.store.markDeleted(user, CHANGE)).toEqual({ kind: 'deleted' })
        expect(await s.store.findUser(user.id)).toEqual({ ...user, status: 2, isDeleted: true })
      })

      test('when the row has no isDeleted flag (older Sunbird rows), then the lock still applies', async (s) => {
        const seededUser = await seeded(s)
        await s.update(seededUser.id, { isDeleted: null })
        const user = await s.store.findUser(seededUser.id)
        expect(user).toMatchObject({ status: 1, isDeleted: null })

        expect(await s.store.markDeleted(user as UserRecord, CHANGE)).toEqual({ kind: 'deleted' })
        expect(await s.store.findUser(seededUser.id)).toMatchObject({ status: 2, isDeleted: true })
      })

      test('when the same lock is retried after it won, then already-deleted is answered', async (s) => {
        const user = await seeded(s)
        await s.store.markDeleted(user, CHANGE)

        expect(await s.store.markDeleted(user, CHANGE)).toEqual({ kind: 'already-deleted' })
      })

      test('when another writer deleted the row after it was read, then already-deleted is answered', async (s) => {
        const user = await seeded(s)
        await s.update(user.id, { status: 2, isDeleted: true })

        expect(await s.store.markDeleted(user, CHANGE)).toEqual({ kind: 'already-deleted' })
      })

      test('when another writer changed the row after it was read, then changed is answered with its status and flag, and nothing is written', async (s) => {
        const user = await seeded(s, { rootOrgId: newOrg() })
        const movedTo = newOrg()
        await s.update(user.id, { status: 0, rootOrgId: movedTo })

        const outcome = await s.store.markDeleted(user, CHANGE)

        // The transaction answers only the columns it compared: status and isDeleted are the row's,
        // the other facts are the ones read, so the workflow must not decide on them.
        expect(outcome).toEqual({ kind: 'changed', current: { ...user, status: 0, isDeleted: false } })
        expect(await s.store.findUser(user.id)).toEqual({ ...user, status: 0, isDeleted: false, rootOrgId: movedTo })
      })

      test('when the row read as deleted stands deleted, then already-deleted is answered; when it was restored since, then changed', async (s) => {
        const user = await seeded(s, { status: 2, isDeleted: true })
        const restored = await seeded(s, { status: 2, isDeleted: true })
        await s.update(restored.id, { status: 1, isDeleted: false })

        expect(await s.store.markDeleted(user, CHANGE)).toEqual({ kind: 'already-deleted' })
        expect(await s.store.markDeleted(restored, CHANGE)).toMatchObject({ kind: 'changed', current: { id: restored.id, status: 1, isDeleted: false } })
        expect(await s.store.findUser(restored.id)).toMatchObject({ status: 1, isDeleted: false })
      })

      test('when the changed row is locked again with what changed answered, then it is deleted', async (s) => {
        const user = await seeded(s)
        await s.update(user.id, { status: 0 })
        const outcome = await s.store.markDeleted(user, CHANGE)
        if (outcome.kind !== 'changed' || !outcome.current) throw new Error(`expected changed, got ${JSON.stringify(outcome)}`)

        expect(await s.store.markDeleted(outcome.current, CHANGE)).toEqual({ kind: 'deleted' })
      })

      test('when the row is gone, then changed is answered with no current row, and no row is written', async (s) => {
        const user = await seeded(s)
        await s.removeRow(user.id)

        expect(await s.store.markDeleted(user, CHANGE)).toEqual({ kind: 'changed', current: undefined })
        expect(await s.store.findUser(user.id)).toBeUndefined()
      })

      test('when several locks race on the same row, then exactly one wins and the others answer already-deleted', async (s) => {
        const user = await seeded(s)

        const outcomes = await Promise.all(Array.from({ length: 4 }, () => s.store.markDeleted(user, CHANGE)))

        expect(outcomes.map((outcome) => outcome.kind).sort()).toEqual(['already-deleted', 'already-deleted', 'already-deleted', 'deleted'])
      })
    })

    describe('erasing', () => {
      test('when lookups are erased, then every lookup of the user is gone, the count is answered, and a second call finds none', async (s) => {
        const user = await seeded(s, { externalIds: [{ provider: 'sb-state', idType: 'sb-state', externalId: `ext-${randomUUID()}` }] })
        const other = await seeded(s)
        const before = await s.lookupCount(user.id)
        const othersBefore = await s.lookupCount(other.id)
        expect(before).toBeGreaterThan(0)

        expect(await s.store.eraseLookups(user.id)).toBe(before)
        expect(await s.lookupCount(user.id)).toBe(0)
        expect(await s.store.eraseLookups(user.id)).toBe(0)
        expect(await s.lookupCount(other.id)).toBe(othersBefore)
      })

      test('when external identities are erased, then each is gone, the count is answered, and a second call finds none', async (s) => {
        const externalIds = [
          { provider: 'sb-state', idType: 'sb-state', externalId: `ext-${randomUUID()}` },
          { provider: 'sb-district', idType: 'sb-district', externalId: `ext-${randomUUID()}` },
        ]
        const user = await seeded(s, { externalIds })
        const other = await seeded(s, { externalIds: [{ provider: 'sb-state', idType: 'sb-state', externalId: `ext-${randomUUID()}` }] })

        expect(await s.externalIdentityCount(user.id)).toBe(2)
        expect(await s.store.eraseExternalIdentities(user.id)).toBe(2)
        expect(await s.externalIdentityCount(user.id)).toBe(0)
        expect(await s.store.eraseExternalIdentities(user.id)).toBe(0)
        expect(await s.externalIdentityCount(other.id)).toBe(1)
      })

      test('when organisations are left, then no membership is active, and a second call answers the same count', async (s) => {
        const [a, b] = [newOrg(), newOrg()]
        const user = await seeded(s, { rootOrgId: a, organisations: [a, b] })

        expect(await s.store.leaveOrganisations(user.id, CHANGE.at)).toBe(2)
        expect(await s.store.findOrganisationIds(user.id)).toEqual([])
        // Every membership row is counted, left or not: a resumed step reports what the first run did.
        expect(await s.store.leaveOrganisations(user.id, CHANGE.at)).toBe(2)
      })

      test('when the profile is scrubbed, then no personal value is left, the username is gone and the user reads as deleted', async (s) => {
        const root = newOrg()
        const user = await seeded(s, { rootOrgId: root, username: `asha_${randomUUID().slice(0, 8)}` })
        expect((await s.personalValues(user.id)).length).toBeGreaterThan(0)

        await s.store.scrubProfile(user.id, CHANGE)

        expect(await s.personalValues(user.id)).toEqual([])
        expect(await s.store.findUserName(user.id)).toBeNull()
        expect(await s.store.findUser(user.id)).toEqual({ ...user, status: 2, isDeleted: true })
      })

      test('when the profile is scrubbed twice, then the second call changes nothing', async (s) => {
        const user = await seeded(s)
        await s.store.scrubProfile(user.id, CHANGE)
        const after = await s.store.findUser(user.id)

        await s.store.scrubProfile(user.id, CHANGE)

        expect(await s.store.findUser(user.id)).toEqual(after)
        expect(await s.personalValues(user.id)).toEqual([])
      })

      test('when the user row is gone, then scrubbing leaves a deleted row with nothing personal in it', async (s) => {
        // An UPDATE writes the row it names: the user never reads as active (or absent) again.
        const user = await seeded(s)
        await s.removeRow(user.id)

        await s.store.scrubProfile(user.id, CHANGE)

        expect(await s.store.findUser(user.id)).toEqual({ id: user.id, status: 2, isDeleted: true, rootOrgId: null, managedBy: null })
        expect(await s.personalValues(user.id)).toEqual([])
      })

      test('when one user is erased, then another user keeps every row', async (s) => {
        const [org] = [newOrg()]
        const user = await seeded(s, { rootOrgId: org })
        const other = await seeded(s, { rootOrgId: org, externalIds: [{ provider: 'sb-state', idType: 'sb-state', externalId: `ext-${randomUUID()}` }] })
        const otherBefore = { lookups: await s.lookupCount(other.id), values: await s.personalValues(other.id) }

        await s.store.markDeleted(user, CHANGE)
        await s.store.eraseLookups(user.id)
        await s.store.eraseExternalIdentities(user.id)
        await s.store.leaveOrganisations(user.id, CHANGE.at)
        await s.store.scrubProfile(user.id, CHANGE)

        expect(await s.store.findUser(other.id)).toEqual(other)
        expect(await s.store.findOrganisationIds(other.id)).toEqual([org])
        expect(await s.lookupCount(other.id)).toBe(otherBefore.lookups)
        expect(await s.externalIdentityCount(other.id)).toBe(1)
        expect(sorted(await s.personalValues(other.id))).toEqual(sorted(otherBefore.values))
      })
    })

    describe('reading everything (export, dry run)', () => {
      test('when the user is read whole, then the row, lookups, identities, memberships and roles come back as stored', async (s) => {
        const org = newOrg()
        const ext = { provider: 'sb-state', idType: 'sb-state', externalId: `ext-${randomUUID()}` }
        const user = await seeded(s, { rootOrgId: org, username: `asha_${randomUUID().slice(0, 8)}`, roles: [{ role: 'PUBLIC' }], externalIds: [ext] })

        const row = await s.store.readUserRow(user.id)
        expect(row).toMatchObject({ id: user.id, status: 1, isdeleted: false, rootorgid: org })
        expect(String(row?.username)).toMatch(/^asha_/)
        const lookups = await s.store.readLookups(user.id)
        expect(lookups).toHaveLength(4)
        expect(new Set(lookups.map((lookup) => lookup.type))).toEqual(new Set(['email', 'phone', 'username', 'externalid']))
        expect(await s.store.readExternalIdentities(user.id)).toEqual([expect.objectContaining({ userid: user.id })])
        expect(await s.store.readOrganisations(user.id)).toEqual([expect.objectContaining({ userid: user.id, organisationid: org, isdeleted: false })])
        expect(await s.store.readRoles(user.id)).toEqual([expect.objectContaining({ userid: user.id, role: 'PUBLIC' })])
      })

      test('when there is no such user, then the row is undefined and every list empty', async (s) => {
        const id = newId()

        expect(await s.store.readUserRow(id)).toBeUndefined()
        expect(await s.store.readLookups(id)).toEqual([])
        expect(await s.store.readExternalIdentities(id)).toEqual([])
        expect(await s.store.readOrganisations(id)).toEqual([])
        expect(await s.store.readRoles(id)).toEqual([])
      })

      test('when memberships were left, then they are still read (the export shows them)', async (s) => {
        const org = newOrg()
        const user = await seeded(s, { rootOrgId: org })
        await s.store.leaveOrganisations(user.id, CHANGE.at)

        expect(await s.store.readOrganisations(user.id)).toEqual([expect.objectContaining({ organisationid: org, isdeleted: true })])
      })
    })

    describe('a hard deletion and a restore', () => {
      test('when memberships and roles are removed, then the rows are gone, the counts answered, and a second call finds none', async (s) => {
        const [a, b] = [newOrg(), newOrg()]
        const user = await seeded(s, { rootOrgId: a, organisations: [a, b], roles: [{ role: 'PUBLIC' }, { role: 'CONTENT_CREATOR' }] })
        const other = await seeded(s, { rootOrgId: a })

        expect(await s.store.removeOrganisations(user.id)).toBe(2)
        expect(await s.store.eraseRoles(user.id)).toBe(2)

        expect(await s.store.readOrganisations(user.id)).toEqual([])
        expect(await s.store.findRoles(user.id)).toEqual([])
        expect(await s.store.removeOrganisations(user.id)).toBe(0)
        expect(await s.store.eraseRoles(user.id)).toBe(0)
        expect(await s.store.findOrganisationIds(other.id)).toEqual([a])
        expect(await s.store.findRoles(other.id)).toEqual(['PUBLIC'])
      })

      test('when the row is reduced to a tombstone, then it reads as deleted with no organisation, no manager and no personal value left', async (s) => {
        const user = await seeded(s, { rootOrgId: newOrg(), managedBy: newId(), username: `asha_${randomUUID().slice(0, 8)}` })

        await s.store.reduceToTombstone(user.id, CHANGE)
        await s.store.reduceToTombstone(user.id, CHANGE)

        expect(await s.store.findUser(user.id)).toEqual({ id: user.id, status: 2, isDeleted: true, rootOrgId: null, managedBy: null })
        expect(await s.personalValues(user.id)).toEqual([])
        expect(await s.store.findUserName(user.id)).toBeNull()
      })

      test('when a locked row has its status restored, then it reads as it was before the lock, other facts untouched', async (s) => {
        const root = newOrg()
        const user = await seeded(s, { rootOrgId: root, status: 0 })
        await s.store.markDeleted(user, CHANGE)

        expect(await s.store.restoreStatus(user.id, { status: 0, isDeleted: false }, LOCK, CANCEL)).toBe('restored')

        expect(await s.store.findUser(user.id)).toEqual({ id: user.id, status: 0, isDeleted: false, rootOrgId: root, managedBy: null })
      })

      test('when the restore is repeated after it applied (a lost answer, a crash), then restored is answered again and the row stays as restored', async (s) => {
        const user = await seeded(s)
        await s.store.markDeleted(user, CHANGE)
        await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, LOCK, CANCEL)

        expect(await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, LOCK, { ...CANCEL, at: new Date(CANCEL.at.getTime() + 1_000) })).toBe('restored')
        expect(await s.store.findUser(user.id)).toMatchObject({ status: 1, isDeleted: false })
      })

      test('when the locked row was reduced to a tombstone since (a hard deletion), then the restore is refused (changed) and the tombstone stays deleted', async (s) => {
        const user = await seeded(s, { managedBy: newId() })
        await s.store.markDeleted(user, CHANGE)
        await s.store.reduceToTombstone(user.id, ERASURE)

        expect(await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, LOCK, CANCEL)).toBe('changed')

        expect(await s.store.findUser(user.id)).toEqual({ id: user.id, status: 2, isDeleted: true, rootOrgId: null, managedBy: null })
      })

      test('when the locked row was scrubbed since (Sunbird’s deletion), then the restore is refused (changed) and the row stays deleted', async (s) => {
        const user = await seeded(s)
        await s.store.markDeleted(user, CHANGE)
        await s.store.scrubProfile(user.id, ERASURE)

        expect(await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, LOCK, CANCEL)).toBe('changed')

        expect(await s.store.findUser(user.id)).toMatchObject({ status: 2, isDeleted: true })
        expect(await s.personalValues(user.id)).toEqual([])
      })

      test('when the locked row is gone, then the restore is refused (changed) and no row is written (an UPDATE would recreate it)', async (s) => {
        const user = await seeded(s)
        await s.store.markDeleted(user, CHANGE)
        await s.removeRow(user.id)

        expect(await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, LOCK, CANCEL)).toBe('changed')
        expect(await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, { requestedBy: LOCK.requestedBy }, CANCEL)).toBe('changed')

        expect(await s.store.findUser(user.id)).toBeUndefined()
        expect(await s.store.readUserRow(user.id)).toBeUndefined()
      })

      test('when the row was locked by another deletion (another requester or another time), then the restore is refused (changed) and the row stays deleted', async (s) => {
        const user = await seeded(s)
        await s.store.markDeleted(user, CHANGE)

        expect(await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, { ...LOCK, at: new Date(LOCK.at.getTime() + 1) }, CANCEL)).toBe('changed')
        expect(await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, { ...LOCK, requestedBy: ERASURE.requestedBy }, CANCEL)).toBe('changed')

        expect(await s.store.findUser(user.id)).toMatchObject({ status: 2, isDeleted: true })
      })

      test('when the lock’s time was not kept (a lock recorded before it was), then the restore is matched on the requester: it applies over that lock, not over a tombstone another requester wrote', async (s) => {
        const locked = await seeded(s)
        const erased = await seeded(s)
        for (const user of [locked, erased]) await s.store.markDeleted(user, CHANGE)
        await s.store.reduceToTombstone(erased.id, ERASURE)
        const untimed = { requestedBy: LOCK.requestedBy }

        expect(await s.store.restoreStatus(locked.id, { status: 1, isDeleted: false }, untimed, CANCEL)).toBe('restored')
        expect(await s.store.restoreStatus(erased.id, { status: 1, isDeleted: false }, untimed, CANCEL)).toBe('changed')

        expect(await s.store.findUser(locked.id)).toMatchObject({ status: 1, isDeleted: false })
        expect(await s.store.findUser(erased.id)).toMatchObject({ status: 2, isDeleted: true })
      })
    })

    describe('a restore over a row another writer stamped since the lock', () => {
      /** A `stillHolds` answer (one per ask, the last one repeated), counting how often it was asked; `meanwhile` runs on each ask (its number, from 1). */
      function holds(answer: boolean | boolean[], meanwhile?: (ask: number) => Promise<void>) {
        const answers = Array.isArray(answer) ? answer : [answer]
        const asked = { count: 0 }
        const stillHolds = async () => {
          asked.count++
          await meanwhile?.(asked.count)
          return answers[Math.min(asked.count, answers.length) - 1] ?? false
        }
        return { asked, stillHolds }
      }

      test('when another writer set updateddate and the caller still holds the user, then the row is restored (restored), other facts untouched', async (s) => {
        const root = newOrg()
        const user = await seeded(s, { rootOrgId: root, status: 0 })
        await s.store.markDeleted(user, CHANGE)
        await s.restamp(user.id, { updatedBy: LOCK.requestedBy, at: OUTSIDE_WRITE.at })
        const { asked, stillHolds } = holds(true)

        expect(await s.store.restoreStatus(user.id, { status: 0, isDeleted: false }, LOCK, CANCEL, stillHolds)).toBe('restored')

        expect(asked.count).toBe(1)
        expect(await s.store.findUser(user.id)).toEqual({ id: user.id, status: 0, isDeleted: false, rootOrgId: root, managedBy: null })
        // A repeat finds the row put back, and asks nothing.
        expect(await s.store.restoreStatus(user.id, { status: 0, isDeleted: false }, LOCK, CANCEL, stillHolds)).toBe('restored')
        expect(asked.count).toBe(1)
      })

      test('when another writer set updatedby and updateddate (or cleared them), then the restore applies over that mark, for a timed and an untimed lock alike', async (s) => {
        const timed = await seeded(s)
        const untimed = await seeded(s)
        const cleared = await seeded(s)
        for (const user of [timed, untimed, cleared]) await s.store.markDeleted(user, CHANGE)
        await s.restamp(timed.id, OUTSIDE_WRITE)
        await s.restamp(untimed.id, OUTSIDE_WRITE)
        await s.restamp(cleared.id, { updatedBy: null, at: null })

        expect(await s.store.restoreStatus(timed.id, { status: 1, isDeleted: false }, LOCK, CANCEL, holds(true).stillHolds)).toBe('restored')
        expect(await s.store.restoreStatus(untimed.id, { status: 1, isDeleted: false }, { requestedBy: LOCK.requestedBy }, CANCEL, holds(true).stillHolds)).toBe('restored')
        expect(await s.store.restoreStatus(cleared.id, { status: 1, isDeleted: false }, LOCK, CANCEL, holds(true).stillHolds)).toBe('restored')

        for (const user of [timed, untimed, cleared]) expect(await s.store.findUser(user.id)).toMatchObject({ status: 1, isDeleted: false })
      })

      test('when another writer stamped the row but the caller no longer holds the user (or is not asked), then the restore is refused (changed) and the row stays deleted', async (s) => {
        const user = await seeded(s)
        await s.store.markDeleted(user, CHANGE)
        await s.restamp(user.id, OUTSIDE_WRITE)
        const { asked, stillHolds } = holds(false)

        expect(await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, LOCK, CANCEL)).toBe('changed')
        expect(await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, LOCK, CANCEL, stillHolds)).toBe('changed')
        expect(await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, { requestedBy: LOCK.requestedBy }, CANCEL, stillHolds)).toBe('changed')

        expect(asked.count).toBe(2)
        expect(await s.store.findUser(user.id)).toMatchObject({ status: 2, isDeleted: true })
      })

      test('when the row was erased since (a tombstone, a scrub), then it is never put back, whatever the caller holds: changed, and the caller is not asked', async (s) => {
        const tombstoned = await seeded(s, { managedBy: newId() })
        const scrubbed = await seeded(s)
        for (const user of [tombstoned, scrubbed]) await s.store.markDeleted(user, CHANGE)
        await s.store.reduceToTombstone(tombstoned.id, ERASURE)
        await s.store.scrubProfile(scrubbed.id, ERASURE)
        const { asked, stillHolds } = holds(true)

        expect(await s.store.restoreStatus(tombstoned.id, { status: 1, isDeleted: false }, LOCK, CANCEL, stillHolds)).toBe('changed')
        expect(await s.store.restoreStatus(scrubbed.id, { status: 1, isDeleted: false }, LOCK, CANCEL, stillHolds)).toBe('changed')
        expect(await s.store.restoreStatus(scrubbed.id, { status: 1, isDeleted: false }, { requestedBy: LOCK.requestedBy }, CANCEL, stillHolds)).toBe('changed')

        expect(asked.count).toBe(0)
        expect(await s.store.findUser(tombstoned.id)).toEqual({ id: tombstoned.id, status: 2, isDeleted: true, rootOrgId: null, managedBy: null })
        expect(await s.store.findUser(scrubbed.id)).toMatchObject({ status: 2, isDeleted: true })
        expect(await s.personalValues(scrubbed.id)).toEqual([])
      })

      test('when the row is gone, then the caller is not asked and no row is written', async (s) => {
        const user = await seeded(s)
        await s.store.markDeleted(user, CHANGE)
        await s.removeRow(user.id)
        const { asked, stillHolds } = holds(true)

        expect(await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, LOCK, CANCEL, stillHolds)).toBe('changed')

        expect(asked.count).toBe(0)
        expect(await s.store.readUserRow(user.id)).toBeUndefined()
      })

      test('when a deletion writes the row while the caller is asked (after the row was read), then that write is not undone: changed, and the row stays as that deletion left it', async (s) => {
        const tombstoned = await seeded(s, { managedBy: newId() })
        const relocked = await seeded(s)
        for (const user of [tombstoned, relocked]) await s.store.markDeleted(user, CHANGE)
        for (const user of [tombstoned, relocked]) await s.restamp(user.id, OUTSIDE_WRITE)

        const tombstone = holds(true, () => s.store.reduceToTombstone(tombstoned.id, ERASURE))
        // The deletion took the user right after the first answer: the next ask says so.
        const restamp = holds([true, false], async (ask) => {
          if (ask === 1) await s.restamp(relocked.id, { updatedBy: ERASURE.requestedBy, at: ERASURE.at })
        })
        expect(await s.store.restoreStatus(tombstoned.id, { status: 1, isDeleted: false }, LOCK, CANCEL, tombstone.stillHolds)).toBe('changed')
        expect(await s.store.restoreStatus(relocked.id, { status: 1, isDeleted: false }, LOCK, CANCEL, restamp.stillHolds)).toBe('changed')

        expect(tombstone.asked.count).toBe(1)
        expect(restamp.asked.count).toBe(2)
        expect(await s.store.findUser(tombstoned.id)).toEqual({ id: tombstoned.id, status: 2, isDeleted: true, rootOrgId: null, managedBy: null })
        expect(await s.store.findUser(relocked.id)).toMatchObject({ status: 2, isDeleted: true })
      })

      test('when another writer stamps the row again while the caller is asked, once, then the restore reads it again, asks again and applies over the new stamp', async (s) => {
        const user = await seeded(s)
        await s.store.markDeleted(user, CHANGE)
        await s.restamp(user.id, OUTSIDE_WRITE)
        const { asked, stillHolds } = holds(true, async (ask) => {
          if (ask === 1) await s.restamp(user.id, { ...OUTSIDE_WRITE, at: new Date(OUTSIDE_WRITE.at.getTime() + 1_000) })
        })

        expect(await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, LOCK, CANCEL, stillHolds)).toBe('restored')

        expect(asked.count).toBe(2)
        expect(await s.store.findUser(user.id)).toMatchObject({ status: 1, isDeleted: false })
      })

      test('when another writer stamps the row again on every ask, then after 3 tries the restore fails as contention (DependencyUnavailableError, worded), the row left deleted, for a later retry', async (s) => {
        const user = await seeded(s)
        await s.store.markDeleted(user, CHANGE)
        await s.restamp(user.id, OUTSIDE_WRITE)
        const { asked, stillHolds } = holds(true, (ask) => s.restamp(user.id, { ...OUTSIDE_WRITE, at: new Date(OUTSIDE_WRITE.at.getTime() + ask * 1_000) }))

        const err = await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, LOCK, CANCEL, stillHolds).catch((e: unknown) => e)

        expect(err).toBeInstanceOf(DependencyUnavailableError)
        expect((err as DependencyUnavailableError).cause).toBeInstanceOf(WordedCause)
        expect(((err as DependencyUnavailableError).cause as Error).message).toBe('the user row kept changing during the restore')
        expect(asked.count).toBe(3)
        expect(await s.store.findUser(user.id)).toMatchObject({ status: 2, isDeleted: true })
        // Once the stamping stops, the same restore applies.
        expect(await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, LOCK, CANCEL, holds(true).stillHolds)).toBe('restored')
      })

      test('when another writer erases the profile without stamping the row while the caller is asked, then the restore is refused (changed): the row is put back only as it was read', async (s) => {
        const blanked = await seeded(s)
        const nulled = await seeded(s)
        for (const user of [blanked, nulled]) await s.store.markDeleted(user, CHANGE)
        for (const user of [blanked, nulled]) await s.restamp(user.id, OUTSIDE_WRITE)
        const blank = holds(true, () => s.editProfile(blanked.id, { firstname: '', lastname: '', email: '', phone: '' }))
        const nulls = holds(true, () => s.editProfile(nulled.id, { firstname: null, lastname: null, email: null, phone: null }))

        expect(await s.store.restoreStatus(blanked.id, { status: 1, isDeleted: false }, LOCK, CANCEL, blank.stillHolds)).toBe('changed')
        expect(await s.store.restoreStatus(nulled.id, { status: 1, isDeleted: false }, LOCK, CANCEL, nulls.stillHolds)).toBe('changed')

        expect(blank.asked.count).toBe(1)
        expect(nulls.asked.count).toBe(1)
        for (const user of [blanked, nulled]) expect(await s.store.findUser(user.id)).toMatchObject({ status: 2, isDeleted: true })
      })

      test('when the row holds nulls among the name, email and phone (a user with no email or phone), then the restore over the row as read matches them and applies', async (s) => {
        const user = await seeded(s)
        await s.editProfile(user.id, { email: null, phone: null })
        await s.store.markDeleted(user, CHANGE)
        await s.restamp(user.id, OUTSIDE_WRITE)
        // The first try is refused by a last name another writer clears meanwhile; the second is conditioned on three nulls.
        const { asked, stillHolds } = holds(true, async (ask) => {
          if (ask === 1) await s.editProfile(user.id, { lastname: null })
        })

        expect(await s.store.restoreStatus(user.id, { status: 1, isDeleted: false }, LOCK, CANCEL, stillHolds)).toBe('restored')

        expect(asked.count).toBe(2)
        expect(await s.store.findUser(user.id)).toMatchObject({ status: 1, isDeleted: false })
      })

      test('when another writer stamps a row that is gone, then it throws and creates no row (restamp never writes a row anew)', async (s) => {
        const user = await seeded(s)
        await s.removeRow(user.id)

        await expect(s.restamp(user.id, OUTSIDE_WRITE)).rejects.toThrow()
        await expect(s.editProfile(user.id, { email: null })).rejects.toThrow()

        expect(await s.store.readUserRow(user.id)).toBeUndefined()
      })
    })
  })
}
