import { describe, expect, it } from 'vitest'
import { InMemoryIdentityProvider, InMemoryPendingErasures, RecordingDeletionListener } from '../../test/support/fakes/in-memory-identity.js'
import { InMemoryUserStore, type SeedUser } from '../../test/support/fakes/in-memory-user-store.js'
import type { Caller } from '../auth/caller.js'
import type { OrgAdminScope } from '../auth/deletion-policy.js'
import { deleteUser, type DeleteUserDeps } from './delete-user.js'
import { DependencyUnavailableError, NotPermittedError, RoleRestrictedError, UserAlreadyDeletedError, UserNotFoundError } from './errors.js'

const TARGET = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const PARENT = '0b1c2d3e-4f50-4617-8899-aabbccddeeff'
const ADMIN = 'a0a0a0a0-1111-4222-8333-444455556666'
const STRANGER = 'c0c0c0c0-1111-4222-8333-444455556666'
const NOW = new Date(Date.UTC(2024, 4, 20, 10, 8, 56, 812))

interface Collaborators {
  identity?: InMemoryIdentityProvider
  pendingErasures?: InMemoryPendingErasures
  listener?: RecordingDeletionListener
  identityWaitMs?: number
}

function depsFor(
  users: InMemoryUserStore,
  policy: { orgAdminScope?: OrgAdminScope; allowedRoles?: string[] } = {},
  collaborators: Collaborators = {},
): DeleteUserDeps {
  return {
    users,
    identity: collaborators.identity ?? new InMemoryIdentityProvider([TARGET]),
    pendingErasures: collaborators.pendingErasures ?? new InMemoryPendingErasures(),
    listener: collaborators.listener ?? new RecordingDeletionListener(),
    clock: { now: () => NOW },
    policy: { orgAdminScope: policy.orgAdminScope ?? 'organisation', allowedRoles: policy.allowedRoles ?? ['public'] },
    identityWaitMs: collaborators.identityWaitMs ?? 200,
  }
}

/** Every fake writing to one journal, for assertions about the order of steps across ports. */
function journaledWorld(seed: SeedUser[]) {
  const journal: string[] = []
  const users = new InMemoryUserStore(seed, journal)
  const identity = new InMemoryIdentityProvider([TARGET], journal)
  const pendingErasures = new InMemoryPendingErasures(journal)
  const listener = new RecordingDeletionListener(journal)
  return { journal, users, identity, pendingErasures, listener, deps: depsFor(users, {}, { identity, pendingErasures, listener }) }
}

const self = (): Caller => ({ consumer: 'portal', userId: TARGET, roles: [] })
const stranger = (): Caller => ({ consumer: 'portal', userId: STRANGER, roles: [{ role: 'PUBLIC', organisationIds: ['org-1'] }] })
const orgAdminOf = (...organisationIds: string[]): Caller => ({ consumer: 'portal', userId: ADMIN, roles: [{ role: 'ORG_ADMIN', organisationIds }] })
const parentOf = (child: string): Caller => ({ consumer: 'portal', userId: PARENT, roles: [], managedUser: { userId: child, parentId: PARENT } })

const activeUser = (overrides: Partial<SeedUser> = {}): SeedUser => ({ id: TARGET, status: 1, isDeleted: false, roles: ['PUBLIC'], ...overrides })

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  )
}

describe('deleteUser, successful deletion', () => {
  it('when a user deletes themselves, then the row is marked deleted and the answer is SUCCESS', async () => {
    // Arrange
    const users = new InMemoryUserStore([activeUser()])

    // Act
    const result = await deleteUser(depsFor(users), { userId: TARGET, caller: self() })

    // Assert
    expect(result).toEqual({ response: 'SUCCESS' })
    expect(users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
    expect(users.remainingLookups(TARGET)).toBe(0)
  })

  it('when deletion succeeds, then lookups are erased before the row is marked deleted', async () => {
    const users = new InMemoryUserStore([activeUser()])

    await deleteUser(depsFor(users), { userId: TARGET, caller: self() })

    const methods = users.methodsCalled()
    expect(methods).toContain('eraseLookups')
    expect(methods).toContain('markDeleted')
    expect(methods.indexOf('eraseLookups')).toBeLessThan(methods.indexOf('markDeleted'))
    expect(methods.filter((m) => m === 'markDeleted')).toHaveLength(1)
  })

  it('when deletion succeeds, then markDeleted records who asked and the clock time, for the row read', async () => {
    const users = new InMemoryUserStore([activeUser({ rootOrgId: 'org-1' })])

    await deleteUser(depsFor(users), { userId: TARGET, caller: orgAdminOf('org-1') })

    const mark = users.calls.find((call) => call.method === 'markDeleted')
    expect(mark).toMatchObject({ userId: TARGET, requestedBy: ADMIN, at: NOW, user: { id: TARGET, status: 1, isDeleted: false, rootOrgId: 'org-1' } })
  })

  it('when the row has status 2 but isDeleted is not true, then it is not treated as already deleted', async () => {
    const users = new InMemoryUserStore([activeUser({ status: 2, isDeleted: null })])

    const result = await deleteUser(depsFor(users), { userId: TARGET, caller: self() })

    expect(result.response).toBe('SUCCESS')
    expect(users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
  })

  it('when the allowed roles include every role of the user, then a multi-role user is deleted', async () => {
    const users = new InMemoryUserStore([activeUser({ roles: ['PUBLIC', 'Teacher'] })])

    const result = await deleteUser(depsFor(users, { allowedRoles: ['public', 'teacher'] }), { userId: TARGET, caller: self() })

    expect(result.response).toBe('SUCCESS')
  })
})

describe('deleteUser, order of checks', () => {
  it('when the caller is neither the user, the parent nor an org admin, then NotPermitted comes before any read, even for a nonexistent user', async () => {
    // Arrange
    const users = new InMemoryUserStore()

    // Act
    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: stranger() }))

    // Assert
    expect(error).toBeInstanceOf(NotPermittedError)
    expect(users.calls).toEqual([])
  })

  it('when a non-permitted caller targets an existing user, then nothing is erased or marked', async () => {
    const users = new InMemoryUserStore([activeUser()])

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: stranger() }))

    expect(error).toBeInstanceOf(NotPermittedError)
    expect(users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(users.remainingLookups(TARGET)).toBe(1)
  })

  it('when the user holds a role outside the allowed list, then RoleRestricted is raised and nothing is erased', async () => {
    const users = new InMemoryUserStore([activeUser({ roles: ['PUBLIC', 'ORG_ADMIN'] })])

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: self() }))

    expect(error).toBeInstanceOf(RoleRestrictedError)
    expect(users.methodsCalled()).not.toContain('eraseLookups')
    expect(users.methodsCalled()).not.toContain('markDeleted')
  })

  it('when roles are restricted and the user row does not exist, then RoleRestricted comes before NotFound', async () => {
    const users = new InMemoryUserStore().setRoles(TARGET, ['CONTENT_CREATOR'])

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: self() }))

    expect(error).toBeInstanceOf(RoleRestrictedError)
  })

  it('when roles are restricted and the user is already deleted, then RoleRestricted comes before AlreadyDeleted', async () => {
    const users = new InMemoryUserStore([activeUser({ status: 2, isDeleted: true, roles: ['BOOK_REVIEWER'] })])

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: self() }))

    expect(error).toBeInstanceOf(RoleRestrictedError)
  })

  it('when the user does not exist, then UserNotFound is raised and nothing is erased', async () => {
    const users = new InMemoryUserStore()

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: self() }))

    expect(error).toBeInstanceOf(UserNotFoundError)
    expect(users.methodsCalled()).not.toContain('eraseLookups')
  })

  it('when the user is already deleted, then UserAlreadyDeleted is raised and nothing is erased or marked', async () => {
    const users = new InMemoryUserStore([activeUser({ status: 2, isDeleted: true })])

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: self() }))

    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
    expect(users.methodsCalled()).not.toContain('eraseLookups')
    expect(users.methodsCalled()).not.toContain('markDeleted')
  })

  it('when the same user is deleted twice, then the second call answers UserAlreadyDeleted', async () => {
    const users = new InMemoryUserStore([activeUser()])
    await deleteUser(depsFor(users), { userId: TARGET, caller: self() })

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: self() }))

    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
  })
})

describe('deleteUser by an ORG_ADMIN', () => {
  it('when the user’s rootOrgId is one of the admin’s organisations, then the user is deleted', async () => {
    const users = new InMemoryUserStore([activeUser({ rootOrgId: 'org-1', organisationIds: [] })])

    const result = await deleteUser(depsFor(users), { userId: TARGET, caller: orgAdminOf('org-1') })

    expect(result.response).toBe('SUCCESS')
  })

  it('when the user belongs to the admin’s organisation through user_organisation only, then the user is deleted', async () => {
    const users = new InMemoryUserStore([activeUser({ rootOrgId: 'org-root', organisationIds: ['org-7'] })])

    const result = await deleteUser(depsFor(users), { userId: TARGET, caller: orgAdminOf('org-7') })

    expect(result.response).toBe('SUCCESS')
  })

  it('when the user is outside every organisation of the admin, then NotPermitted is raised and nothing is erased', async () => {
    const users = new InMemoryUserStore([activeUser({ rootOrgId: 'org-2', organisationIds: ['org-3'] })])

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: orgAdminOf('org-1') }))

    expect(error).toBeInstanceOf(NotPermittedError)
    expect(users.methodsCalled()).not.toContain('eraseLookups')
    expect(users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
  })

  it('when the user is outside the admin’s organisations and holds a restricted role, then NotPermitted comes first', async () => {
    const users = new InMemoryUserStore([activeUser({ rootOrgId: 'org-2', roles: ['ORG_ADMIN'] })])

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: orgAdminOf('org-1') }))

    expect(error).toBeInstanceOf(NotPermittedError)
  })

  it('when the scope is any, then an admin of another organisation may delete the user without reading organisations', async () => {
    const users = new InMemoryUserStore([activeUser({ rootOrgId: 'org-2', organisationIds: ['org-3'] })])

    const result = await deleteUser(depsFor(users, { orgAdminScope: 'any' }), { userId: TARGET, caller: orgAdminOf('org-1') })

    expect(result.response).toBe('SUCCESS')
    expect(users.methodsCalled()).not.toContain('findOrganisationIds')
  })

  it('when the admin targets a nonexistent user, then UserNotFound is raised', async () => {
    const users = new InMemoryUserStore()

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: orgAdminOf('org-1') }))

    expect(error).toBeInstanceOf(UserNotFoundError)
  })
})

describe('deleteUser by a managing parent', () => {
  it('when the row names the caller as manager, then the managed user is deleted', async () => {
    const users = new InMemoryUserStore([activeUser({ managedBy: PARENT })])

    const result = await deleteUser(depsFor(users), { userId: TARGET, caller: parentOf(TARGET) })

    expect(result.response).toBe('SUCCESS')
    expect(users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
  })

  it('when the row names no manager, then the verified token pair is enough', async () => {
    const users = new InMemoryUserStore([activeUser({ managedBy: null })])

    const result = await deleteUser(depsFor(users), { userId: TARGET, caller: parentOf(TARGET) })

    expect(result.response).toBe('SUCCESS')
  })

  it('when the row names another manager, then NotPermitted is raised and nothing is erased', async () => {
    const users = new InMemoryUserStore([activeUser({ managedBy: STRANGER })])

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: parentOf(TARGET) }))

    expect(error).toBeInstanceOf(NotPermittedError)
    expect(users.methodsCalled()).not.toContain('eraseLookups')
  })

  it('when the managed token is for a different child than the target, then NotPermitted is raised', async () => {
    const users = new InMemoryUserStore([activeUser({ managedBy: PARENT })])

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: parentOf(STRANGER) }))

    expect(error).toBeInstanceOf(NotPermittedError)
  })
})

describe('deleteUser commit races', () => {
  it('when the row changes between read and write, then the commit is retried with the current record', async () => {
    // Arrange: another writer blocks the user (status 0) just before our compare-and-set.
    const users = new InMemoryUserStore([activeUser()])
    users.beforeNextMarkDeleted(() => users.update(TARGET, { status: 0 }))

    // Act
    const result = await deleteUser(depsFor(users), { userId: TARGET, caller: self() })

    // Assert
    expect(result.response).toBe('SUCCESS')
    const marks = users.calls.filter((call) => call.method === 'markDeleted')
    expect(marks).toHaveLength(2)
    expect(marks.map((call) => call.user.status)).toEqual([1, 0])
    expect(users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
  })

  it('when a concurrent request deletes the user first, then this one answers UserAlreadyDeleted', async () => {
    const users = new InMemoryUserStore([activeUser()])
    users.beforeNextMarkDeleted(() => users.update(TARGET, { status: 2, isDeleted: true }))

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: self() }))

    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
  })

  it('when the store answers already-deleted, then UserAlreadyDeleted is raised without retrying', async () => {
    const users = new InMemoryUserStore([activeUser()]).scriptMarkDeleted({ kind: 'already-deleted' })

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: self() }))

    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
    expect(users.methodsCalled().filter((m) => m === 'markDeleted')).toHaveLength(1)
  })

  it('when the store answers changed with a deleted current record, then UserAlreadyDeleted is raised', async () => {
    const users = new InMemoryUserStore([activeUser()]).scriptMarkDeleted({
      kind: 'changed',
      current: { id: TARGET, status: 2, isDeleted: true, rootOrgId: null, managedBy: null },
    })

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: self() }))

    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
    expect(users.methodsCalled().filter((m) => m === 'markDeleted')).toHaveLength(1)
  })

  it('when the row disappears between read and write, then UserNotFound is raised', async () => {
    const users = new InMemoryUserStore([activeUser()]).scriptMarkDeleted({ kind: 'changed', current: undefined })

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: self() }))

    expect(error).toBeInstanceOf(UserNotFoundError)
  })

  it('when the row keeps changing, then the workflow gives up after three attempts with an unexpected error', async () => {
    const changed = { kind: 'changed' as const, current: { id: TARGET, status: 1, isDeleted: false, rootOrgId: null, managedBy: null } }
    const users = new InMemoryUserStore([activeUser()]).scriptMarkDeleted(changed, changed, changed, changed)

    const error = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: self() }))

    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(UserAlreadyDeletedError)
    expect(error).not.toBeInstanceOf(UserNotFoundError)
    expect(users.methodsCalled().filter((m) => m === 'markDeleted')).toHaveLength(3)
  })

  it('when erasing lookups fails, then the user is not marked deleted and the same request later finishes the job', async () => {
    // Arrange
    const users = new InMemoryUserStore([activeUser()]).failNext('eraseLookups', new DependencyUnavailableError('cassandra'))

    // Act
    const first = await failureOf(deleteUser(depsFor(users), { userId: TARGET, caller: self() }))
    const afterFailure = users.snapshot(TARGET)
    const second = await deleteUser(depsFor(users), { userId: TARGET, caller: self() })

    // Assert
    expect(first).toBeInstanceOf(DependencyUnavailableError)
    expect(afterFailure).toMatchObject({ status: 1, isDeleted: false })
    expect(second.response).toBe('SUCCESS')
    expect(users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
  })
})

describe('deleteUser, identity erasure around the commit', () => {
  it('when deletion succeeds, then the erasure is recorded first, the row commits, then listener, Keycloak and debt clearing follow', async () => {
    // Arrange
    const world = journaledWorld([activeUser()])

    // Act
    await deleteUser(world.deps, { userId: TARGET, caller: self() })

    // Assert
    const steps = world.journal.filter((step) => !step.startsWith('users.find'))
    expect(steps).toEqual(['pending.record', 'users.eraseLookups', 'users.markDeleted', 'listener.userDeleted', 'identity.eraseAccount', 'pending.clear'])
    expect(world.identity.hasAccount(TARGET)).toBe(false)
    expect(await world.pendingErasures.find(TARGET)).toBeUndefined()
    expect(world.listener.deleted).toEqual([TARGET])
  })

  it.each([
    ['a non-permitted caller', (): SeedUser[] => [activeUser()], stranger],
    ['a role-restricted user', (): SeedUser[] => [activeUser({ roles: ['ORG_ADMIN'] })], self],
    ['a nonexistent user', (): SeedUser[] => [], self],
  ])('when the request is refused for %s, then no erasure is recorded and Keycloak is not called', async (_label, seed, who) => {
    const world = journaledWorld(seed())

    await expect(deleteUser(world.deps, { userId: TARGET, caller: who() })).rejects.toBeInstanceOf(Error)

    expect(world.journal).not.toContain('pending.record')
    expect(world.journal).not.toContain('identity.eraseAccount')
    expect(world.identity.hasAccount(TARGET)).toBe(true)
  })

  it('when the commit never happens, then Keycloak is not called and the listener is not told', async () => {
    const world = journaledWorld([activeUser()])
    world.users.failNext('markDeleted', new DependencyUnavailableError('cassandra'))

    const error = await failureOf(deleteUser(world.deps, { userId: TARGET, caller: self() }))

    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect(world.journal).not.toContain('identity.eraseAccount')
    expect(world.listener.deleted).toEqual([])
    expect(world.identity.hasAccount(TARGET)).toBe(true)
  })

  it('when Keycloak is down, then the deletion still succeeds and the erasure stays owed with one failed attempt', async () => {
    const world = journaledWorld([activeUser()])
    world.identity.goDown()

    const result = await deleteUser(world.deps, { userId: TARGET, caller: self() })

    expect(result.response).toBe('SUCCESS')
    expect(world.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
    expect(await world.pendingErasures.find(TARGET)).toMatchObject({ userId: TARGET, attempts: 1 })
    expect(world.identity.hasAccount(TARGET)).toBe(true)
  })

  it('when Keycloak never answers, then the answer comes after identityWaitMs and the erasure stays owed', async () => {
    const users = new InMemoryUserStore([activeUser()])
    const identity = new InMemoryIdentityProvider([TARGET]).hang()
    const pendingErasures = new InMemoryPendingErasures()
    const started = performance.now()

    const result = await deleteUser(depsFor(users, {}, { identity, pendingErasures, identityWaitMs: 50 }), { userId: TARGET, caller: self() })

    expect(result.response).toBe('SUCCESS')
    expect(performance.now() - started).toBeLessThan(1_000)
    expect(await pendingErasures.find(TARGET)).toBeDefined()
  })

  it('when a deleted user still owes a Keycloak erasure, then the repeated request pays it and answers UserAlreadyDeleted', async () => {
    // Arrange: the first request committed while Keycloak was down.
    const world = journaledWorld([activeUser()])
    world.identity.goDown()
    await deleteUser(world.deps, { userId: TARGET, caller: self() })
    world.identity.comeBack()

    // Act
    const error = await failureOf(deleteUser(world.deps, { userId: TARGET, caller: self() }))

    // Assert
    expect(error).toBeInstanceOf(UserAlreadyDeletedError)
    expect(world.identity.hasAccount(TARGET)).toBe(false)
    expect(await world.pendingErasures.find(TARGET)).toBeUndefined()
  })
})
