import { describe, expect, it } from 'vitest'
import { WORLD_NOW, deletionWorld } from '../../test/support/fakes/deletion-world.js'
import type { SeedUser } from '../../test/support/fakes/in-memory-user-store.js'
import type { Caller } from './caller.js'
import { type DeletionInput, deleteAccount } from './delete-account.js'
import { deleteUser } from './delete-user.js'
import type { DeletionRequest } from './deletion-request.js'
import { CallerLockedOutError, UserAlreadyDeletedError } from './errors.js'
import { resumeDeletion } from './run-deletion.js'

const TARGET = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const ADMIN = 'a0a0a0a0-1111-4222-8333-444455556666'
const PARENT = 'b0b0b0b0-1111-4222-8333-444455556666'
const ORG = 'org-1'

const self = (fields: Partial<Caller> = {}): Caller => ({ consumer: 'portal', userId: TARGET, roles: [], ...fields })
const orgAdmin = (): Caller => ({ consumer: 'portal', userId: ADMIN, roles: [{ role: 'ORG_ADMIN', organisationIds: [ORG] }] })
const parent = (): Caller => ({ consumer: 'portal', userId: PARENT, roles: [], managedUser: { userId: TARGET, parentId: PARENT } })
const person = (overrides: Partial<SeedUser> = {}): SeedUser => ({ id: TARGET, rootOrgId: ORG, organisationIds: [ORG], lookups: 3, ...overrides })

let counter = 0
const ask = (caller: Caller, fields: Partial<DeletionInput> = {}): DeletionInput => ({ requestId: `req-${++counter}`, userId: TARGET, caller, ...fields })
const failureOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => undefined,
    (err: unknown) => err,
  )

type World = ReturnType<typeof deletionWorld>
const ENDS = ['deletion.completed', 'deletion.failed']
const endsOf = (w: World) => w.audit.records.filter((record) => ENDS.includes(record.event)).map((record) => record.event)
/** Sunbird's lock as it lands on the row: status 2 and isdeleted, no deletion state. */
const sunbirdLockLands = (w: World) => () => void w.users.update(TARGET, { status: 2, isDeleted: true })

describe('lockedOutBy: a deletion of the caller’s own account that lands while the call runs', () => {
  it('when the person’s own Sunbird deletion locks the row right before their hard deletion’s lock, then the hard one is refused as locked out, ends superseded and erases nothing', async () => {
    // Arrange: the lock-out and the checks saw an active user; Sunbird's lock lands right before the hard lock's compare-and-set.
    const w = deletionWorld({ seed: [person({ roles: ['PUBLIC'] })] })
    w.users.beforeNextMarkDeleted(sunbirdLockLands(w))

    // Act
    const outcome = await failureOf(deleteAccount(w.deps, ask(self(), { mode: 'hard' })))

    // Assert: refused (401 in every dialect), the hold given back, nothing of the user erased, no event.
    expect(outcome).toBeInstanceOf(CallerLockedOutError)
    const [hard] = w.requests.all()
    expect(hard).toMatchObject({ plan: 'hard', state: 'failed', reason: 'superseded' })
    expect(w.states.peek(TARGET)).toBeUndefined()
    expect(w.users.remainingRoles(TARGET)).toEqual(['PUBLIC'])
    expect(w.users.remainingLookups(TARGET)).toBe(3)
    expect(w.outbox.size()).toBe(0)
    expect(endsOf(w)).toEqual(['deletion.failed'])
  })

  it('when an ORG_ADMIN’s hard deletion meets the same Sunbird lock, then it goes on over it, as when sent after it', async () => {
    const w = deletionWorld({ seed: [person({ roles: ['PUBLIC'] })] })
    w.users.beforeNextMarkDeleted(sunbirdLockLands(w))

    const outcome = await deleteAccount(w.deps, ask(orgAdmin(), { mode: 'hard' }))

    expect(outcome).toMatchObject({ kind: 'deleted', mode: 'hard', state: 'completed' })
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'hard' })
    expect(w.users.remainingRoles(TARGET)).toEqual([])
  })

  it('when the person’s Sunbird and hard deletions are sent at once, then exactly one deletes: the other is refused, one event, one deletion.completed', async () => {
    const w = deletionWorld({ seed: [person()] })

    const outcomes = await Promise.all([failureOf(deleteUser(w.deps, ask(self()))), failureOf(deleteAccount(w.deps, ask(self(), { mode: 'hard' })))])

    const refusals = outcomes.filter((outcome) => outcome instanceof CallerLockedOutError || outcome instanceof UserAlreadyDeletedError)
    expect(refusals).toHaveLength(1)
    expect(outcomes.filter((outcome) => outcome === undefined)).toHaveLength(1)
    expect(w.outbox.size()).toBe(1)
    expect(endsOf(w).sort()).toEqual(['deletion.completed', 'deletion.failed'])
  })

  it('when the person’s user is already Sunbird-deleted as their hard deletion reads it, then it is refused before anything is written', async () => {
    const w = deletionWorld({ seed: [person({ status: 2, isDeleted: true })] })

    expect(await failureOf(deleteAccount(w.deps, ask(self(), { mode: 'hard' })))).toBeInstanceOf(CallerLockedOutError)

    expect(w.timeline.writes()).toEqual([])
  })

  it('when the person’s own hard deletion holds the user, then their second hard deletion is refused as locked out (not 404: their token would be refused first)', async () => {
    const w = deletionWorld({ seed: [person()] })
    await deleteAccount(w.deps, ask(orgAdmin(), { mode: 'hard' }))

    expect(await failureOf(deleteAccount(w.deps, ask(self(), { mode: 'hard' })))).toBeInstanceOf(CallerLockedOutError)
  })

  it('when a managing parent’s hard deletion (through the managed user’s token) meets that user’s Sunbird lock, then it is refused: the managed user’s token is locked out too', async () => {
    const w = deletionWorld({ seed: [person({ managedBy: PARENT }), { id: PARENT, rootOrgId: ORG, organisationIds: [ORG] }] })
    w.users.beforeNextMarkDeleted(sunbirdLockLands(w))

    expect(await failureOf(deleteAccount(w.deps, ask(parent(), { mode: 'hard' })))).toBeInstanceOf(CallerLockedOutError)
    expect(w.outbox.size()).toBe(0)
  })

  it('when a soft-deleted person finishes their own deletion hard where the call admits them, then it goes on over their soft deletion', async () => {
    const w = deletionWorld({ seed: [person()] })
    await deleteAccount(w.deps, ask(self(), { mode: 'soft' }))

    expect(await deleteAccount(w.deps, ask(self({ softDeleted: true }), { mode: 'hard' }))).toMatchObject({ kind: 'deleted', mode: 'hard' })
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'hard' })
  })

  it('when the person’s own soft deletion locks first and their hard deletion comes by a call that refuses a soft-deleted person (Sunbird’s route), then it is refused', async () => {
    const w = deletionWorld({ seed: [person()] })
    await deleteAccount(w.deps, ask(self(), { mode: 'soft' }))

    expect(await failureOf(deleteAccount(w.deps, ask(self({ softDeletedRefused: true }), { mode: 'hard' })))).toBeInstanceOf(CallerLockedOutError)
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'soft' })
  })

  it('when the sweeper takes up the person’s hard deletion, accepted before their Sunbird deletion locked the user, then it ends failed and erases nothing', async () => {
    const w = deletionWorld({ seed: [person({ status: 2, isDeleted: true, roles: ['PUBLIC'] })] })
    const accepted: DeletionRequest = {
      id: 'hard-1',
      userId: TARGET,
      requestedBy: TARGET,
      state: 'accepted',
      plan: 'hard',
      steps: {},
      target: { rootOrgId: ORG, managedBy: null, organisationIds: [ORG] },
      createdAt: new Date(WORLD_NOW.getTime() - 60_000),
      updatedAt: new Date(WORLD_NOW.getTime() - 60_000),
    }
    w.requests.seed(accepted)

    expect(await resumeDeletion(w.deps, 'hard-1')).toBe('failed')

    expect(w.users.remainingRoles(TARGET)).toEqual(['PUBLIC'])
    expect(w.outbox.size()).toBe(0)
  })
})
