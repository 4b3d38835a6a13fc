import { describe, expect, it, vi } from 'vitest'
import { deletionWorld, type DeletionWorld } from '../../test/support/fakes/deletion-world.js'
import { cancelDeletion } from './cancel-deletion.js'
import type { Caller } from './caller.js'
import { deleteAccount } from './delete-account.js'
import type { UserDeletionState, UserRecord } from './ports.js'
import { lockOutStanding, readCondition } from './user-condition.js'

const TARGET = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const self = (): Caller => ({ consumer: 'portal', userId: TARGET, roles: [] })

async function softDeleted(): Promise<DeletionWorld> {
  const w = deletionWorld({ seed: [{ id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'] }] })
  await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
  return w
}

/**
 * The stores as another instance reads them while a cancel commits: its first read of the row
 * answers the row as it was (still deleted), the cancel then runs to its end (row put back, state
 * cleared), and only then is the deletion state read. Later reads pass straight through.
 */
function readsStraddlingACancel(w: DeletionWorld) {
  let cancelled!: () => void
  const cancelDone = new Promise<void>((resolve) => {
    cancelled = resolve
  })
  let first = true
  const rowReads = vi.fn(async (userId: string): Promise<UserRecord | undefined> => {
    const row = await w.users.findUser(userId)
    if (first) {
      first = false
      await cancelDeletion(w.deps, { userId: TARGET, caller: self() })
      cancelled()
    }
    return row
  })
  const stateReads = vi.fn(async (userId: string): Promise<UserDeletionState | undefined> => {
    await cancelDone
    return w.states.get(userId)
  })
  return { users: { findUser: rowReads }, states: { get: stateReads }, requests: w.requests, rowReads, stateReads }
}

describe('lockOutStanding', () => {
  it('when a cancel finishes between the read of the row (still deleted) and the read of the state (cleared), then the user is active, not deleted for good', async () => {
    const w = await softDeleted()
    const reads = readsStraddlingACancel(w)

    const standing = await lockOutStanding(reads, TARGET)

    expect(w.requests.all()[0]?.state).toBe('cancelled')
    expect(standing).toBe('active')
    expect(await lockOutStanding(w, TARGET)).toBe('active')
  })

  it('when the user is active, soft-deleted or held by a final deletion, then no second read of the row is made; only a deleted row with no state is read again', async () => {
    const w = deletionWorld({ seed: [{ id: TARGET }, { id: 'sunbird-deleted' }, { id: 'hard-deleted' }] })
    w.users.update('sunbird-deleted', { status: 2, isDeleted: true })
    const soft = await softDeleted()
    const findUser = vi.spyOn(w.users, 'findUser')
    const get = vi.spyOn(w.states, 'get')

    expect(await lockOutStanding(w, TARGET)).toBe('active')
    expect([findUser.mock.calls.length, get.mock.calls.length]).toEqual([1, 0])

    expect(await lockOutStanding(w, 'sunbird-deleted')).toBe('deleted')
    expect([findUser.mock.calls.length, get.mock.calls.length]).toEqual([3, 1])

    await deleteAccount(w.deps, { requestId: 'hard-1', userId: 'hard-deleted', caller: { consumer: 'portal', userId: 'hard-deleted', roles: [] }, mode: 'hard' })
    findUser.mockClear()
    get.mockClear()
    expect(await lockOutStanding(w, 'hard-deleted')).toBe('deleted')
    expect([findUser.mock.calls.length, get.mock.calls.length]).toEqual([1, 1])

    const softFindUser = vi.spyOn(soft.users, 'findUser')
    expect(await lockOutStanding(soft, TARGET)).toBe('restorable')
    expect(softFindUser).toHaveBeenCalledTimes(1)
  })
})

describe('readCondition', () => {
  it('when a cancel finishes between the read of the row (still deleted) and the read of the state (cleared), then the user is active, not erased by Sunbird', async () => {
    const w = await softDeleted()
    const reads = readsStraddlingACancel(w)

    const condition = await readCondition(reads, TARGET)

    expect(condition.kind).toBe('active')
  })

  it('when Sunbird’s deletion erased the user, then the condition is still sunbird after the second read', async () => {
    const w = deletionWorld({ seed: [{ id: TARGET }] })
    w.users.update(TARGET, { status: 2, isDeleted: true })

    expect((await readCondition(w, TARGET)).kind).toBe('sunbird')
  })
})

describe('lockOutStanding, for a managed user', () => {
  const MANAGER = '7b5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d43'
  const managed = () => deletionWorld({ seed: [{ id: MANAGER }, { id: TARGET, managedBy: MANAGER }, { id: 'unmanaged' }] })

  it("when neither the user nor their manager is deleted, then the manager's row is read too, and no deletion state or request", async () => {
    const w = managed()
    const findUser = vi.spyOn(w.users, 'findUser')
    const get = vi.spyOn(w.states, 'get')
    const getRequest = vi.spyOn(w.requests, 'get')
    const follows = vi.fn()

    expect(await lockOutStanding(w, TARGET, follows)).toBe('active')

    expect(findUser.mock.calls.map(([id]) => id)).toEqual([TARGET, MANAGER])
    expect([get.mock.calls.length, getRequest.mock.calls.length]).toEqual([0, 0])
    expect(follows).toHaveBeenCalledWith(MANAGER)
  })

  it('when a user is managed by nobody, then their own row is the one read and nothing is followed', async () => {
    const w = managed()
    const findUser = vi.spyOn(w.users, 'findUser')
    const follows = vi.fn()

    expect(await lockOutStanding(w, 'unmanaged', follows)).toBe('active')

    expect(findUser).toHaveBeenCalledTimes(1)
    expect(follows).not.toHaveBeenCalled()
  })

  it('when the manager is soft-deleted without a grace period, then the managed user is active; with one, restorable by their manager', async () => {
    const soft = managed()
    await deleteAccount(soft.deps, { requestId: 'soft-1', userId: MANAGER, caller: { consumer: 'portal', userId: MANAGER, roles: [] }, mode: 'soft' })
    const grace = managed()
    await deleteAccount(grace.deps, { requestId: 'grace-1', userId: MANAGER, caller: { consumer: 'portal', userId: MANAGER, roles: [] }, gracePeriodDays: 1 })

    expect([await lockOutStanding(soft, TARGET), await lockOutStanding(grace, TARGET)]).toEqual(['active', 'restorable by manager'])
  })

  it('when the managed user soft-deleted themself and their manager is in a grace period, then their own soft deletion counts: they may still act on it', async () => {
    const w = managed()
    await deleteAccount(w.deps, { requestId: 'grace-1', userId: MANAGER, caller: { consumer: 'portal', userId: MANAGER, roles: [] }, gracePeriodDays: 1 })
    await deleteAccount(w.deps, { requestId: 'soft-own', userId: TARGET, caller: { consumer: 'portal', userId: TARGET, roles: [] }, mode: 'soft' })

    expect(await lockOutStanding(w, TARGET)).toBe('restorable')
  })

  it("when the user's own row already says deleted for good, then the manager is not read", async () => {
    const w = managed()
    w.users.update(TARGET, { status: 2, isDeleted: true })
    const findUser = vi.spyOn(w.users, 'findUser')

    expect(await lockOutStanding(w, TARGET)).toBe('deleted')

    expect(findUser.mock.calls.map(([id]) => id)).toEqual([TARGET, TARGET])
  })
})
