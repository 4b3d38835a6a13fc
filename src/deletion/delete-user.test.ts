import { describe, expect, it, vi } from 'vitest'
import { WORLD_LEASE_MS, WORLD_NOW, deletionWorld, type WorldOptions } from '../../test/support/fakes/deletion-world.js'
import type { SeedUser } from '../../test/support/fakes/in-memory-user-store.js'
import { itemAt } from '../../test/support/item-at.js'
import { encryptAsSunbird } from '../../test/support/sunbird-encryption.js'
import type { Caller } from './caller.js'
import { deleteUser } from './delete-user.js'
import { type DeletionRequest, STEPS } from './deletion-request.js'
import { resumeOpenDeletions } from './run-deletion.js'
import { DependencyUnavailableError, NotPermittedError, RoleRestrictedError, UserAlreadyDeletedError, UserNotFoundError } from './errors.js'

const TARGET = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const PARENT = '0b1c2d3e-4f50-4617-8899-aabbccddeeff'
const ADMIN = 'a0a0a0a0-1111-4222-8333-444455556666'
const OTHER_ADMIN = 'a1a1a1a1-1111-4222-8333-444455556666'
const STRANGER = 'c0c0c0c0-1111-4222-8333-444455556666'
const CHILD_1 = 'd1d1d1d1-1111-4222-8333-444455556666'
const CHILD_2 = 'd2d2d2d2-1111-4222-8333-444455556666'
const MSGID = 'msg-7f3c2b10-0000-4000-8000-000000000001'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const AT = WORLD_NOW.toISOString()
/** A deployment's sunbird_encryption_key. */
const KEY = 'a-deployment-encryption-key'

const self = (): Caller => ({ consumer: 'portal', userId: TARGET, roles: [] })
const stranger = (): Caller => ({ consumer: 'portal', userId: STRANGER, roles: [{ role: 'PUBLIC', organisationIds: ['org-1'] }] })
const orgAdminOf = (...organisationIds: string[]): Caller => ({ consumer: 'portal', userId: ADMIN, roles: [{ role: 'ORG_ADMIN', organisationIds }] })
const parentOf = (child: string): Caller => ({ consumer: 'portal', userId: PARENT, roles: [], managedUser: { userId: child, parentId: PARENT } })

const activeUser = (overrides: Partial<SeedUser> = {}): SeedUser => ({ id: TARGET, status: 1, isDeleted: false, roles: ['PUBLIC'], ...overrides })

function world(seed: SeedUser[], options: Omit<WorldOptions, 'seed'> = {}) {
  return deletionWorld({ seed, ...options })
}

const input = (caller: Caller, requestId = MSGID, userId = TARGET) => ({ requestId, userId, caller })

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  )
}

/** The one request recorded for TARGET. */
function onlyRequestOf(w: ReturnType<typeof world>, userId = TARGET): DeletionRequest {
  const mine = w.requests.all().filter((request) => request.userId === userId)
  expect(mine).toHaveLength(1)
  return itemAt(mine, 0, 'request')
}

/** One write per checkpoint: the lock; the outcomes before the profile is scrubbed; the rest with the finish (nobody managed, so no checkpoint after the managed users), audited before it. */
const SUCCESS_WRITES = [
  'requests.create',
  'audit.append(deletion.accepted)',
  'users.markDeleted',
  'listener.userDeleted',
  'requests.recordSteps(lock)',
  'identity.eraseAccount',
  'users.eraseLookups',
  'users.eraseExternalIdentities',
  'users.leaveOrganisations',
  'requests.recordSteps(keycloak,otp,rateLimit,lookups,externalIdentities,organisations,declarations,notes,searchNotes,shadowUser,userFeed,userCert,address,extraTargets)',
  'users.scrubProfile',
  'outbox.append',
  'requests.finish(completed)',
  'audit.append(deletion.completed)',
  'requests.unlist',
  'requests.releaseLease',
]

describe('deleteUser, order of checks', () => {
  it('when a stranger targets a nonexistent user, then NotPermitted comes before any read or write', async () => {
    // Arrange
    const w = world([])

    // Act
    const error = await failureOf(deleteUser(w.deps, input(stranger())))

    // Assert
    expect(error).toBeInstanceOf(NotPermittedError)
    expect(w.timeline.entries).toEqual([])
  })

  it('when a stranger targets an existing user, then NotPermitted is raised and nothing is read, recorded or changed', async () => {
    const w = world([activeUser()])

    const error = await failureOf(deleteUser(w.deps, input(stranger())))

    expect(error).toBeInstanceOf(NotPermittedError)
    expect(w.timeline.entries).toEqual([])
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
  })

  it('when the user holds a role outside the allowed list, then RoleRestricted is raised before any request is created', async () => {
    const w = world([activeUser({ roles: ['PUBLIC', 'BOOK_REVIEWER'] })])

    const error = await failureOf(deleteUser(w.deps, input(self())))

    expect(error).toBeInstanceOf(RoleRestrictedError)
    expect(w.timeline.writes()).toEqual([])
    expect(w.requests.all()).toEqual([])
    expect(w.audit.records).toEqual([])
  })

  it('when roles are restricted and the user row does not exist, then RoleRestricted comes before NotFound', async () => {
    const w = world([])
    w.users.setRoles(TARGET, ['CONTENT_CREATOR'])

    const error = await failureOf(deleteUser(w.deps, input(self())))

    expect(error).toBeInstanceOf(RoleRestrictedError)
  })

  it('when roles are restricted and the user is already deleted, then RoleRestricted comes before AlreadyDeleted', async () => {
    const w = world([activeUser({ status: 2, isDeleted: true, roles: ['BOOK_REVIEWER'] })])

    const error = await failureOf(deleteUser(w.deps, input(self())))

    expect(error).toBeInstanceOf(RoleRestrictedError)
  })

  it('when the user does not exist, then UserNotFound is raised and no request or audit record is written', async () => {
    const w = world([])

    const error = await failureOf(deleteUser(w.deps, input(self())))

    expect(error).toBeInstanceOf(UserNotFoundError)
    expect(w.timeline.writes()).toEqual([])
  })

  it('when the user is already deleted, then UserAlreadyDeleted is raised and nothing is locked or recorded', async () => {
    const w = world([activeUser({ status: 2, isDeleted: true })])

    const error = await failureOf(deleteUser(w.deps, input(self())))

    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
    expect(w.timeline.writes()).toEqual([])
    expect(w.identity.calls).toEqual([])
  })

  it('when the row has status 2 but isDeleted is not true, then it is not treated as already deleted', async () => {
    const w = world([activeUser({ status: 2, isDeleted: null })])

    const result = await deleteUser(w.deps, input(self()))

    expect(result).toEqual({ response: 'SUCCESS', state: 'completed' })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
  })

  it('when the allowed roles include every role of the user, whatever the case, then a multi-role user is deleted', async () => {
    const w = world([activeUser({ roles: ['PUBLIC', 'Teacher'] })], { allowedRoles: ['public', 'TEACHER'] })

    const result = await deleteUser(w.deps, input(self()))

    expect(result).toEqual({ response: 'SUCCESS', state: 'completed' })
  })

  it('when the same user is deleted twice, then the second call answers UserAlreadyDeleted and creates no request', async () => {
    const w = world([activeUser()])
    await deleteUser(w.deps, input(self(), 'first'))

    const error = await failureOf(deleteUser(w.deps, input(self(), 'second')))

    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
    expect(w.requests.all().map((request) => request.id)).toEqual(['first'])
  })
})

describe('deleteUser by an ORG_ADMIN', () => {
  it('when the user’s rootOrgId is one of the admin’s organisations, then the user is deleted', async () => {
    const w = world([activeUser({ rootOrgId: 'org-1', organisationIds: [] })])

    const result = await deleteUser(w.deps, input(orgAdminOf('org-1')))

    expect(result).toEqual({ response: 'SUCCESS', state: 'completed' })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
  })

  it('when the user belongs to the admin’s organisation through user_organisation only, then the user is deleted', async () => {
    const w = world([activeUser({ rootOrgId: 'org-root', organisationIds: ['org-7'] })])

    const result = await deleteUser(w.deps, input(orgAdminOf('org-7')))

    expect(result).toEqual({ response: 'SUCCESS', state: 'completed' })
  })

  it('when the user is outside every organisation of the admin, then NotPermitted is raised and nothing is written', async () => {
    const w = world([activeUser({ rootOrgId: 'org-2', organisationIds: ['org-3'] })])

    const error = await failureOf(deleteUser(w.deps, input(orgAdminOf('org-1'))))

    expect(error).toBeInstanceOf(NotPermittedError)
    expect(w.timeline.writes()).toEqual([])
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
  })

  it('when the user is outside the admin’s organisations and holds a restricted role, then NotPermitted comes first', async () => {
    const w = world([activeUser({ rootOrgId: 'org-2', roles: ['BOOK_REVIEWER'] })])

    const error = await failureOf(deleteUser(w.deps, input(orgAdminOf('org-1'))))

    expect(error).toBeInstanceOf(NotPermittedError)
  })

  it('when the scope is any, then an admin of another organisation may delete the user', async () => {
    const w = world([activeUser({ rootOrgId: 'org-2', organisationIds: ['org-3'] })], { orgAdminScope: 'any' })

    const result = await deleteUser(w.deps, input(orgAdminOf('org-1')))

    expect(result).toEqual({ response: 'SUCCESS', state: 'completed' })
    expect(onlyRequestOf(w).target.organisationIds).toEqual(['org-3'])
  })

  it('when the admin targets a nonexistent user, then UserNotFound is raised', async () => {
    const w = world([])

    const error = await failureOf(deleteUser(w.deps, input(orgAdminOf('org-1'))))

    expect(error).toBeInstanceOf(UserNotFoundError)
  })
})

describe('deleteUser by a managing parent', () => {
  it('when the row names the caller as manager, then the managed user is deleted', async () => {
    const w = world([activeUser({ managedBy: PARENT })])

    const result = await deleteUser(w.deps, input(parentOf(TARGET)))

    expect(result).toEqual({ response: 'SUCCESS', state: 'completed' })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
    expect(onlyRequestOf(w)).toMatchObject({ requestedBy: PARENT, target: { managedBy: PARENT } })
  })

  it('when the row names no manager, then the verified token pair is enough', async () => {
    const w = world([activeUser({ managedBy: null })])

    const result = await deleteUser(w.deps, input(parentOf(TARGET)))

    expect(result).toEqual({ response: 'SUCCESS', state: 'completed' })
  })

  it('when the row names another manager, then NotPermitted is raised and nothing is written', async () => {
    const w = world([activeUser({ managedBy: STRANGER })])

    const error = await failureOf(deleteUser(w.deps, input(parentOf(TARGET))))

    expect(error).toBeInstanceOf(NotPermittedError)
    expect(w.timeline.writes()).toEqual([])
  })

  it('when the managed token is for a different child than the target, then NotPermitted is raised without a read', async () => {
    const w = world([activeUser({ managedBy: PARENT })])

    const error = await failureOf(deleteUser(w.deps, input(parentOf(STRANGER))))

    expect(error).toBeInstanceOf(NotPermittedError)
    expect(w.timeline.entries).toEqual([])
  })

  it('when the managed user does not exist, then UserNotFound is raised', async () => {
    const w = world([])

    const error = await failureOf(deleteUser(w.deps, input(parentOf(TARGET))))

    expect(error).toBeInstanceOf(UserNotFoundError)
  })
})

describe('deleteUser, a successful deletion', () => {
  const seeded = () =>
    world([
      activeUser({ rootOrgId: 'org-1', organisationIds: ['org-1', 'org-7'], lookups: 3, externalIdentities: 2, profile: { username: 'asha.k', email: 'asha@example.org' } }),
      { id: ADMIN, adminOf: ['org-1'] },
    ])

  it('when a user deletes themselves, then the answer is SUCCESS and every store is cleaned', async () => {
    // Arrange
    const w = seeded()

    // Act
    const result = await deleteUser(w.deps, input(self()))

    // Assert
    expect(result).toEqual({ response: 'SUCCESS', state: 'completed' })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
    expect(w.users.remainingLookups(TARGET)).toBe(0)
    expect(w.users.remainingExternalIdentities(TARGET)).toBe(0)
    expect(w.users.activeMemberships(TARGET)).toEqual([])
    expect(w.users.profileOf(TARGET)).toEqual({ username: '', email: '' })
    expect(w.identity.hasAccount(TARGET)).toBe(false)
    expect(w.outbox.eventOf(MSGID)).toBeDefined()
  })

  it('when deletion succeeds, then the request is created and audited before the lock, and the steps follow in order', async () => {
    const w = seeded()

    await deleteUser(w.deps, input(self()))

    expect(w.timeline.writes()).toEqual(SUCCESS_WRITES)
  })

  it('when the request is created, then it carries the msgid, the caller, the ids kept for status reads, state accepted and a lease', async () => {
    const w = seeded()

    await deleteUser(w.deps, input(orgAdminOf('org-7')))

    expect(w.requests.created).toEqual([
      {
        applied: true,
        idChosenBy: 'caller',
        leaseUntil: new Date(WORLD_NOW.getTime() + WORLD_LEASE_MS),
        request: {
          id: MSGID,
          userId: TARGET,
          requestedBy: ADMIN,
          state: 'accepted',
          plan: 'sunbird',
          steps: {},
          target: { rootOrgId: 'org-1', managedBy: null, organisationIds: ['org-1', 'org-7'] },
          createdAt: WORLD_NOW,
          updatedAt: WORLD_NOW,
        },
      },
    ])
    expect(w.audit.records[0]).toEqual({ event: 'deletion.accepted', requestId: MSGID, userId: TARGET, requestedBy: ADMIN, at: AT })
  })

  it('when the service generated the msgid, then the request is created as an id no other call can name, and the deletion completes under it', async () => {
    const w = seeded()

    await deleteUser(w.deps, { ...input(self()), requestIdChosenBy: 'service' })

    expect(w.requests.created.map(({ request, idChosenBy }) => ({ id: request.id, idChosenBy }))).toEqual([{ id: MSGID, idChosenBy: 'service' }])
    expect(w.requests.peek(MSGID)?.state).toBe('completed')
    expect(w.timeline.writes()).toEqual(SUCCESS_WRITES)
  })

  it('when deletion succeeds, then every step is recorded with its outcome and the request is completed with a receipt', async () => {
    const w = seeded()

    await deleteUser(w.deps, input(self()))

    const request = w.requests.peek(MSGID)
    expect(request?.state).toBe('completed')
    expect(request?.steps).toEqual({
      lock: { status: 'done', action: 'locked', at: AT },
      keycloak: { status: 'done', action: 'deleted', at: AT },
      // Keyed hashes of the profile's contacts (for deletion:verify), never the contacts.
      otp: { status: 'done', action: 'deleted', count: 0, at: AT, hashes: [expect.stringMatching(/^[0-9a-f]{64}$/)], hashKeyId: expect.stringMatching(/^[0-9a-f]{16}$/) },
      rateLimit: { status: 'done', action: 'deleted', count: 0, at: AT, hashes: [expect.stringMatching(/^[0-9a-f]{64}$/)], hashKeyId: expect.stringMatching(/^[0-9a-f]{16}$/) },
      lookups: { status: 'done', action: 'deleted', count: 3, at: AT },
      externalIdentities: { status: 'done', action: 'deleted', count: 2, at: AT },
      organisations: { status: 'done', action: 'marked-left', count: 2, at: AT },
      declarations: { status: 'done', action: 'deleted', count: 0, at: AT },
      notes: { status: 'done', action: 'deleted', count: 0, at: AT },
      searchNotes: { status: 'done', action: 'deleted', count: 0, at: AT },
      shadowUser: { status: 'done', action: 'blanked', count: 0, at: AT },
      userFeed: { status: 'done', action: 'deleted', count: 0, at: AT },
      userCert: { status: 'done', action: 'deleted', count: 0, at: AT },
      address: { status: 'done', action: 'deleted', count: 0, at: AT },
      extraTargets: { status: 'skipped', action: 'none configured', at: AT, entries: [] },
      userRow: { status: 'done', action: 'scrubbed', at: AT },
      searchUser: { status: 'done', action: 'absent', count: 0, at: AT },
      searchAddedByName: {
        status: 'done',
        action: 'blanked',
        count: 0,
        at: AT,
        entries: [
          { store: 'search.user_alias (addedByName)', action: 'blanked', count: 0 },
          { store: 'cassandra.user_organisation (addedbyname)', action: 'blanked', count: 0 },
        ],
      },
      cacheUser: { status: 'done', action: 'deleted', count: 0, at: AT },
      managedUsers: { status: 'skipped', action: 'scrubbed', count: 0, at: AT, ids: [] },
      event: { status: 'done', action: 'queued', at: AT },
    })
    expect(request?.receipt).toMatchObject({ requestId: MSGID, state: 'completed', completedAt: AT })
    expect(w.requests.isOpen(MSGID)).toBe(false)
    expect(w.audit.records.map((record) => record.event)).toEqual(['deletion.accepted', 'deletion.completed'])
  })

  it('when Keycloak refuses removal, then the account is disabled and the step records disabled', async () => {
    const w = seeded()
    w.identity.refuseRemovalOf(TARGET)

    await deleteUser(w.deps, input(self()))

    expect(w.identity.isDisabled(TARGET)).toBe(true)
    expect(w.requests.peek(MSGID)?.steps.keycloak).toMatchObject({ status: 'done', action: 'disabled' })
  })

  it('when the lock is taken, then it records who asked and the clock time for the row that was read', async () => {
    const w = seeded()

    await deleteUser(w.deps, input(orgAdminOf('org-1')))

    const lock = w.users.calls.find((call) => call.method === 'markDeleted')
    expect(lock).toEqual({
      method: 'markDeleted',
      userId: TARGET,
      requestedBy: ADMIN,
      at: WORLD_NOW,
      user: { id: TARGET, status: 1, isDeleted: false, rootOrgId: 'org-1', managedBy: null },
    })
  })

  it('when the user is locked, then the listener is told at once, before Keycloak is even answered', async () => {
    // Arrange: Keycloak never answers, so the run stops inside the keycloak step.
    const w = seeded()
    w.identity.hang()

    // Act
    void deleteUser(w.deps, input(self()))
    await vi.waitFor(() => expect(w.identity.calls).toEqual([TARGET]))

    // Assert
    expect(w.listener.deleted).toEqual([TARGET])
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
    expect(Object.keys(w.requests.peek(MSGID)?.steps ?? {})).toEqual(['lock'])
    expect(w.users.remainingLookups(TARGET)).toBe(3)
  })
})

describe('deleteUser, managed users', () => {
  const family = () =>
    world([
      activeUser({ rootOrgId: 'org-1' }),
      { id: CHILD_1, managedBy: TARGET, lookups: 2, externalIdentities: 1, organisationIds: ['org-1'], profile: { firstName: 'Ravi' } },
      { id: CHILD_2, managedBy: TARGET, lookups: 1, organisationIds: ['org-1'], profile: { firstName: 'Mira' } },
    ])

  it('when the deleted user manages others, then each managed user is locked, scrubbed and erased', async () => {
    const w = family()

    await deleteUser(w.deps, input(self()))

    for (const child of [CHILD_1, CHILD_2]) {
      expect(w.users.snapshot(child)).toMatchObject({ status: 2, isDeleted: true })
      expect(w.users.profileOf(child)).toEqual({ firstName: '' })
      expect(w.users.remainingLookups(child)).toBe(0)
      expect(w.users.remainingExternalIdentities(child)).toBe(0)
      expect(w.users.activeMemberships(child)).toEqual([])
    }
    // Their other stores (one receipt line each) are in steps/managed-users.test.ts.
    expect(w.requests.peek(MSGID)?.steps.managedUsers).toMatchObject({ status: 'done', action: 'scrubbed', count: 2, at: AT, ids: [CHILD_1, CHILD_2] })
  })

  it('when the deleted user manages others, then the event names them from the managed-users step, without asking the index a second time', async () => {
    const w = family()

    await deleteUser(w.deps, input(self()))

    expect(w.users.callCount('findManagedUserIds')).toBe(1)
    expect(w.outbox.eventOf(MSGID)?.edata).toMatchObject({ managed_users: [CHILD_1, CHILD_2] })
  })

  it('when managed users are scrubbed, then the listener is told about each of them after the deleted user', async () => {
    const w = family()

    await deleteUser(w.deps, input(self()))

    expect(w.listener.deleted).toEqual([TARGET, CHILD_1, CHILD_2])
  })

  it('when the deleted user manages others, then the event lists them as managed_users', async () => {
    const w = family()

    await deleteUser(w.deps, input(self()))

    expect(w.outbox.eventOf(MSGID)?.edata).toMatchObject({ managed_users: [CHILD_1, CHILD_2] })
  })
})

describe('deleteUser, the delete-user event', () => {
  it('when deletion succeeds, then one event is queued for the request, naming the user, the request and the other org admins', async () => {
    const w = world([activeUser({ rootOrgId: 'org-1' }), { id: ADMIN, adminOf: ['org-1'] }, { id: OTHER_ADMIN, adminOf: ['org-1', 'org-2'] }])

    await deleteUser(w.deps, input(self()))

    const event = w.outbox.eventOf(MSGID)
    expect(w.outbox.size()).toBe(1)
    expect(event).toMatchObject({
      eid: 'BE_JOB_REQUEST',
      context: { cdata: { id: MSGID, type: 'Request' } },
      object: { id: TARGET, type: 'user' },
      edata: { action: 'delete-user', userId: TARGET, organisationId: 'org-1', suggested_users: [{ role: 'ORG_ADMIN', users: [ADMIN, OTHER_ADMIN] }], managed_users: [] },
    })
  })

  it('when the deleted user is an org admin of their own organisation, then they are not suggested as a new owner', async () => {
    const w = world([activeUser({ rootOrgId: 'org-1', adminOf: ['org-1'] }), { id: ADMIN, adminOf: ['org-1'] }], { allowedRoles: ['public', 'org_admin'] })

    await deleteUser(w.deps, input(self()))

    expect(w.outbox.eventOf(MSGID)?.edata).toMatchObject({ suggested_users: [{ role: 'ORG_ADMIN', users: [ADMIN] }] })
  })

  it('when the user has no root organisation, then no org admins are looked up and organisationId is null', async () => {
    const w = world([activeUser({ rootOrgId: null })])

    await deleteUser(w.deps, input(self()))

    expect(w.users.callCount('findOrgAdminIds')).toBe(0)
    expect(w.outbox.eventOf(MSGID)?.edata).toMatchObject({ organisationId: null, suggested_users: [] })
  })

  it('when eventIncludesUserName is false, then the event has no userName and the name is never read', async () => {
    const w = world([activeUser({ profile: { username: 'asha.k' } })], { eventIncludesUserName: false })

    await deleteUser(w.deps, input(self()))

    expect(w.outbox.eventOf(MSGID)?.edata).not.toHaveProperty('userName')
    expect(JSON.stringify(w.outbox.eventOf(MSGID))).not.toContain('asha.k')
    expect(w.users.callCount('findUserName')).toBe(0)
  })

  it('when eventIncludesUserName is true, then the event carries the username read before the profile was scrubbed', async () => {
    const w = world([activeUser({ profile: { username: 'asha.k' } })], { eventIncludesUserName: true })

    await deleteUser(w.deps, input(self()))

    expect(w.outbox.eventOf(MSGID)?.edata).toMatchObject({ userName: 'asha.k' })
    const order = w.timeline.entries
    expect(order.indexOf('users.findUserName')).toBeGreaterThan(-1)
    expect(order.indexOf('users.findUserName')).toBeLessThan(order.indexOf('users.markDeleted'))
  })

  it("when eventIncludesUserName is true and Sunbird stores the username encrypted (sunbird_encryption_key set), then the event carries it decrypted, as Sunbird's own event does", async () => {
    const w = world([activeUser({ profile: { username: encryptAsSunbird('asha.k', KEY) } })], { eventIncludesUserName: true, sunbirdEncryptionKey: KEY })

    await deleteUser(w.deps, input(self()))

    expect(w.outbox.eventOf(MSGID)?.edata).toMatchObject({ userName: 'asha.k' })
  })

  it('when eventIncludesUserName is true and the username does not decrypt with the key (stored before encryption was on), then the event carries it as stored', async () => {
    const w = world([activeUser({ profile: { username: 'asha.k' } })], { eventIncludesUserName: true, sunbirdEncryptionKey: KEY })

    await deleteUser(w.deps, input(self()))

    expect(w.outbox.eventOf(MSGID)?.edata).toMatchObject({ userName: 'asha.k' })
  })
})

describe('deleteUser, contacts sunbird_encryption_key does not decrypt', () => {
  /** What the deletion tells the log of contacts it could not decrypt: (requestId, notDecrypted, contacts). */
  function toldOf(w: ReturnType<typeof world>) {
    const told: [string, number, number][] = []
    w.deps.onContactsNotDecrypted = (requestId, notDecrypted, contacts) => told.push([requestId, notDecrypted, contacts])
    return told
  }

  it('when contacts of the person and of a user they manage do not decrypt (a wrong key, or stored plain), then the deletion tells it once, with counts only: how many did not decrypt of how many', async () => {
    const w = world(
      [
        activeUser({
          profile: {
            email: encryptAsSunbird('asha@example.org', KEY),
            phone: encryptAsSunbird('9876543210', 'another-deployments-key'),
            recoveryemail: 'parent@example.org',
          },
        }),
        { id: CHILD_1, managedBy: TARGET, profile: { email: encryptAsSunbird('ravi@example.org', 'another-deployments-key') } },
      ],
      { sunbirdEncryptionKey: KEY },
    )
    const told = toldOf(w)

    await deleteUser(w.deps, input(self()))

    expect(onlyRequestOf(w).state).toBe('completed')
    expect(told).toEqual([[MSGID, 3, 4]])
  })

  it('when every contact decrypts, then nothing is told', async () => {
    const w = world([activeUser({ profile: { email: encryptAsSunbird('asha@example.org', KEY), phone: encryptAsSunbird('9876543210', KEY) } })], { sunbirdEncryptionKey: KEY })
    const told = toldOf(w)

    await deleteUser(w.deps, input(self()))

    expect(told).toEqual([])
  })

  it('when no key is set, then contacts are used as stored and nothing is told, ciphertext included', async () => {
    const w = world([activeUser({ profile: { email: encryptAsSunbird('asha@example.org', KEY), phone: '9876543210' } })])
    const told = toldOf(w)

    await deleteUser(w.deps, input(self()))

    expect(told).toEqual([])
  })
})

describe('deleteUser, the msgid is reused', () => {
  it('when a request with the msgid exists already, then a fresh request id is used and the old request is untouched', async () => {
    // Arrange: the client reused the msgid of an earlier, finished deletion of someone else.
    const w = world([activeUser()])
    const earlier: DeletionRequest = {
      id: MSGID,
      userId: STRANGER,
      requestedBy: STRANGER,
      state: 'completed',
      plan: 'sunbird',
      steps: {},
      target: { rootOrgId: null, managedBy: null, organisationIds: [] },
      createdAt: new Date(0),
      updatedAt: new Date(0),
    }
    w.requests.seed(earlier)

    // Act
    const result = await deleteUser(w.deps, input(self()))

    // Assert
    expect(result).toEqual({ response: 'SUCCESS', state: 'completed' })
    expect(w.requests.created.map(({ applied, idChosenBy }) => ({ applied, idChosenBy }))).toEqual([
      { applied: false, idChosenBy: 'caller' },
      { applied: true, idChosenBy: 'service' },
    ])
    const fresh = onlyRequestOf(w)
    expect(fresh.id).not.toBe(MSGID)
    expect(fresh.id).toMatch(UUID)
    expect(fresh.state).toBe('completed')
    expect(w.requests.peek(MSGID)).toEqual(earlier)
    expect(w.audit.records.map((record) => record.requestId)).toEqual([fresh.id, fresh.id])
    expect(w.outbox.eventOf(fresh.id)).toMatchObject({ context: { cdata: { id: fresh.id } } })
    expect(w.outbox.eventOf(MSGID)).toBeUndefined()
  })
})

describe('deleteUser, losing the lock', () => {
  it('when a concurrent request locks the user first, then this request is finished failed/superseded and UserAlreadyDeleted is raised', async () => {
    // Arrange
    const w = world([activeUser()])
    w.users.beforeNextMarkDeleted(() => w.users.update(TARGET, { status: 2, isDeleted: true }))

    // Act
    const error = await failureOf(deleteUser(w.deps, input(self())))

    // Assert
    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
    expect(w.requests.peek(MSGID)).toMatchObject({ state: 'failed', reason: 'superseded', steps: {} })
    expect(w.requests.isOpen(MSGID)).toBe(false)
    expect(w.audit.records.map((record) => [record.event, record.detail])).toEqual([
      ['deletion.accepted', undefined],
      ['deletion.failed', { reason: 'superseded' }],
    ])
    expect(w.identity.calls).toEqual([])
    expect(w.listener.deleted).toEqual([])
    expect(w.outbox.size()).toBe(0)
  })

  it('when the store answers already-deleted, then the lock is not retried', async () => {
    const w = world([activeUser()])
    w.users.scriptMarkDeleted({ kind: 'already-deleted' })

    const error = await failureOf(deleteUser(w.deps, input(self())))

    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
    expect(w.users.callCount('markDeleted')).toBe(1)
    expect(w.requests.peek(MSGID)).toMatchObject({ state: 'failed', reason: 'superseded' })
  })

  it('when the row changes between read and write, then the lock is retried with the current record and succeeds', async () => {
    // Arrange: another writer blocks the user (status 0) just before our compare-and-set.
    const w = world([activeUser()])
    w.users.beforeNextMarkDeleted(() => w.users.update(TARGET, { status: 0 }))

    // Act
    const result = await deleteUser(w.deps, input(self()))

    // Assert
    expect(result).toEqual({ response: 'SUCCESS', state: 'completed' })
    const locks = w.users.calls.flatMap((call) => (call.method === 'markDeleted' ? [call.user.status] : []))
    expect(locks).toEqual([1, 0])
    expect(w.requests.peek(MSGID)?.state).toBe('completed')
  })

  it('when the row disappears between read and write, then the request is finished failed/not-found and UserNotFound is raised', async () => {
    const w = world([activeUser()])
    w.users.beforeNextMarkDeleted(() => w.users.removeRow(TARGET))

    const error = await failureOf(deleteUser(w.deps, input(self())))

    expect(error).toBeInstanceOf(UserNotFoundError)
    expect(w.requests.peek(MSGID)).toMatchObject({ state: 'failed', reason: 'not-found' })
    expect(w.audit.records.at(-1)).toMatchObject({ event: 'deletion.failed', detail: { reason: 'not-found' } })
  })

  it('when the row keeps changing, then the workflow gives up after three attempts without touching Keycloak', async () => {
    const changed = { kind: 'changed' as const, current: { id: TARGET, status: 1, isDeleted: false, rootOrgId: null, managedBy: null } }
    const w = world([activeUser()])
    w.users.scriptMarkDeleted(changed, changed, changed, changed)

    const error = await failureOf(deleteUser(w.deps, input(self())))

    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(UserAlreadyDeletedError)
    expect(error).not.toBeInstanceOf(UserNotFoundError)
    expect(w.users.callCount('markDeleted')).toBe(3)
    expect(w.identity.calls).toEqual([])
  })

  it('when Cassandra fails at the lock after the request is recorded, then the answer is success, nothing more is done now, and the sweeper carries it out', async () => {
    const w = world([activeUser()])
    w.users.failNext('markDeleted', new DependencyUnavailableError('cassandra'))

    const result = await deleteUser(w.deps, input(self()))

    expect(result).toEqual({ response: 'SUCCESS' })
    expect(w.identity.calls).toEqual([])
    expect(w.listener.deleted).toEqual([])
    expect(w.requests.peek(MSGID)).toMatchObject({ state: 'accepted', steps: {} })
    expect(w.requests.isOpen(MSGID)).toBe(true)
    expect(await resumeOpenDeletions(w.deps)).toEqual({ resumed: 1, completed: 1, partial: 0, unlisted: 0 })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
  })

  it("when the lock's answer is lost and cannot be read back, then the answer is success and the sweeper locks and finishes", async () => {
    const w = world([activeUser()])
    w.users.scriptMarkDeleted({ kind: 'unknown' })

    const result = await deleteUser(w.deps, input(self()))

    expect(result).toEqual({ response: 'SUCCESS' })
    expect(w.requests.peek(MSGID)?.state).toBe('accepted')
    expect(await resumeOpenDeletions(w.deps)).toEqual({ resumed: 1, completed: 1, partial: 0, unlisted: 0 })
    expect(w.requests.peek(MSGID)?.state).toBe('completed')
  })

  it('when Cassandra fails before the request is recorded, then the error propagates and nothing is written', async () => {
    const w = world([activeUser()])
    w.requests.failNext('create', new DependencyUnavailableError('cassandra'))

    const error = await failureOf(deleteUser(w.deps, input(self())))

    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect(w.requests.all()).toEqual([])
    expect(w.users.callCount('markDeleted')).toBe(0)
    expect(w.audit.records).toEqual([])
  })

  it('when the request is recorded but its acceptance cannot be audited, then the runner still takes the lock and finishes, and the answer is SUCCESS, not a 503', async () => {
    const w = world([activeUser()])
    w.audit.failNext(new DependencyUnavailableError('cassandra'))

    const result = await deleteUser(w.deps, input(self()))

    expect(result).toEqual({ response: 'SUCCESS', state: 'completed' })
    expect(w.users.callCount('markDeleted')).toBe(1)
    expect(w.requests.peek(MSGID)?.state).toBe('completed')
    expect(w.audit.eventsOf(MSGID)).toEqual(['deletion.completed'])
  })

  it('when the request is recorded but its acceptance cannot be audited and the user is meanwhile deleted by another request, then the answer is the loser’s UserAlreadyDeleted, not SUCCESS', async () => {
    const w = world([activeUser()])
    w.audit.failNext(new DependencyUnavailableError('cassandra'))
    w.users.beforeNextMarkDeleted(() => w.users.update(TARGET, { status: 2, isDeleted: true }))

    const error = await failureOf(deleteUser(w.deps, input(self())))

    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
  })

  it('when the loser of a race cannot record that it lost, then it still answers UserAlreadyDeleted and the sweeper ends it as superseded', async () => {
    const w = world([activeUser()])
    w.users.beforeNextMarkDeleted(() => w.users.update(TARGET, { status: 2, isDeleted: true }))
    w.requests.failNext('finish', new DependencyUnavailableError('cassandra'))

    const error = await failureOf(deleteUser(w.deps, input(self())))

    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
    expect(w.requests.isOpen(MSGID)).toBe(true)
  })
})

describe('deleteUser, Keycloak unreachable', () => {
  it('when Keycloak is down, then the call still succeeds, the request is partial with keycloak pending and the rest done', async () => {
    // Arrange
    const w = world([activeUser({ lookups: 2 })])
    w.identity.goDown()

    // Act
    const result = await deleteUser(w.deps, input(self()))

    // Assert
    expect(result).toEqual({ response: 'SUCCESS', state: 'partial' })
    const request = w.requests.peek(MSGID)
    expect(request?.state).toBe('partial')
    expect(request?.steps.keycloak).toEqual({ status: 'pending', action: 'unreachable', at: AT, owedRuns: 1 })
    expect(
      Object.entries(request?.steps ?? {})
        .filter(([step]) => step !== 'keycloak')
        .map(([, outcome]) => outcome.status),
    ).not.toContain('pending')
    expect(Object.keys(request?.steps ?? {})).toHaveLength(STEPS.filter((step) => step !== 'roles' && step !== 'consent').length)
    expect(w.users.remainingLookups(TARGET)).toBe(0)
    expect(w.identity.hasAccount(TARGET)).toBe(true)
    expect(w.outbox.eventOf(MSGID)).toBeDefined()
  })

  it('when Keycloak is down, then the partial request stays open with its lease given up, and the audit says partial', async () => {
    const w = world([activeUser()])
    w.identity.goDown()

    await deleteUser(w.deps, input(self()))

    expect(w.requests.isOpen(MSGID)).toBe(true)
    expect(await w.requests.acquireLease(MSGID, w.clock.now(), new Date(WORLD_NOW.getTime() + 1))).toBe(true)
    expect(w.audit.records.at(-1)).toMatchObject({ event: 'deletion.partial', requestId: MSGID, detail: { pending: 'keycloak' } })
    expect(w.requests.peek(MSGID)?.receipt?.stores.find((store) => store.store === 'keycloak')?.action).toBe('pending')
  })

  it('when a retry meets the deleted user after Keycloak came back, then the open request is finished first and UserAlreadyDeleted is raised', async () => {
    // Arrange: the first call completed everything but Keycloak.
    const w = world([activeUser()])
    w.identity.goDown()
    await deleteUser(w.deps, input(self(), 'first'))
    w.identity.comeBack()

    // Act
    const error = await failureOf(deleteUser(w.deps, input(self(), 'retry')))

    // Assert
    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
    expect(w.identity.hasAccount(TARGET)).toBe(false)
    expect(w.requests.peek('first')).toMatchObject({ state: 'completed', steps: { keycloak: { status: 'done', action: 'deleted' } } })
    expect(w.requests.isOpen('first')).toBe(false)
    expect(w.requests.peek('retry')).toBeUndefined()
    expect(w.users.callCount('eraseLookups', TARGET)).toBe(1)
    expect(w.audit.eventsOf('first')).toEqual(['deletion.accepted', 'deletion.partial', 'deletion.completed'])
    const writes = w.timeline.writes()
    expect(writes.lastIndexOf('requests.finish(completed)')).toBeGreaterThan(writes.lastIndexOf('identity.eraseAccount'))
  })

  it('when a retry meets the deleted user while Keycloak is still down, then the request stays partial and UserAlreadyDeleted is raised', async () => {
    const w = world([activeUser()])
    w.identity.goDown()
    await deleteUser(w.deps, input(self(), 'first'))

    const error = await failureOf(deleteUser(w.deps, input(self(), 'retry')))

    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
    expect(w.identity.calls).toEqual([TARGET, TARGET])
    expect(w.requests.peek('first')?.state).toBe('partial')
  })

  it('when a retry meets a deleted user whose requests are all finished, then nothing is resumed', async () => {
    const w = world([activeUser()])
    await deleteUser(w.deps, input(self(), 'first'))
    w.timeline.clear()

    const error = await failureOf(deleteUser(w.deps, input(self(), 'retry')))

    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
    expect(w.timeline.writes()).toEqual([])
  })
})

describe('deleteUser, Cassandra failing half-way', () => {
  it('when a step fails on Cassandra after the lock, then the answer is success, the request stays open and its lease is released at once', async () => {
    // Arrange
    const w = world([activeUser({ organisationIds: ['org-1'] })])
    w.users.failNext('leaveOrganisations', new DependencyUnavailableError('cassandra'))

    // Act
    const result = await deleteUser(w.deps, input(self()))

    // Assert
    expect(result).toEqual({ response: 'SUCCESS' })
    const request = w.requests.peek(MSGID)
    expect(request?.state).toBe('in_progress')
    expect(Object.keys(request?.steps ?? {})).toEqual(['lock', 'keycloak', 'otp', 'rateLimit', 'lookups', 'externalIdentities'])
    expect(w.requests.isOpen(MSGID)).toBe(true)
    // What ran before the failing step is recorded as it stops, so the retry starts at that step.
    expect(w.timeline.writes().slice(-3)).toEqual(['users.leaveOrganisations', 'requests.recordSteps(keycloak,otp,rateLimit,lookups,externalIdentities)', 'requests.releaseLease'])
    expect(await w.requests.acquireLease(MSGID, w.clock.now(), new Date(WORLD_NOW.getTime() + 1))).toBe(true)
    expect(w.audit.eventsOf(MSGID)).toEqual(['deletion.accepted'])
  })

  it('when releasing the lease fails too, then the answer is still success', async () => {
    const w = world([activeUser()])
    w.users.failNext('eraseLookups', new DependencyUnavailableError('cassandra'))
    w.requests.failNext('releaseLease', new Error('release failed'))

    expect(await deleteUser(w.deps, input(self()))).toEqual({ response: 'SUCCESS' })
  })

  it('when a step fails with a bug after the lock, then the error propagates (a 500, never "retry")', async () => {
    const w = world([activeUser()])
    w.users.failNext('eraseLookups', new Error('bug'))

    const error = await failureOf(deleteUser(w.deps, input(self())))

    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(DependencyUnavailableError)
  })

  it('when the same deletion is retried after a half-way failure, then it resumes from the failed step and answers UserAlreadyDeleted', async () => {
    // Arrange
    const w = world([activeUser({ organisationIds: ['org-1'] })])
    w.users.failNext('leaveOrganisations', new DependencyUnavailableError('cassandra'))
    await failureOf(deleteUser(w.deps, input(self(), 'first')))

    // Act
    const error = await failureOf(deleteUser(w.deps, input(self(), 'retry')))

    // Assert
    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
    expect(w.requests.peek('first')?.state).toBe('completed')
    expect(w.users.activeMemberships(TARGET)).toEqual([])
    expect(w.identity.calls).toEqual([TARGET])
    expect(w.users.callCount('eraseLookups', TARGET)).toBe(1)
    expect(w.users.callCount('leaveOrganisations', TARGET)).toBe(2)
    expect(w.requests.all().map((request) => request.id)).toEqual(['first'])
  })
})
