import { describe, expect, it } from 'vitest'
import { WORLD_GRACE_DAY_MS, WORLD_LEASE_MS, WORLD_NOW, deletionWorld } from '../../test/support/fakes/deletion-world.js'
import type { SeedUser } from '../../test/support/fakes/in-memory-user-store.js'
import type { Caller } from './caller.js'
import { type DeletionInput, deleteAccount } from './delete-account.js'
import { deleteUser } from './delete-user.js'
import type { DeletionRequest, RequestState } from './deletion-request.js'
import { DependencyUnavailableError, UnreadableDeletionStateError, WordedCause } from './errors.js'
import { LeaseLostError } from './lease.js'
import { type RunDeps, resumeDeletion, resumeOpenDeletions, runRemainingSteps } from './run-deletion.js'

const TARGET = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const CHILD = '6a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d42'
const ORG = 'org-1'
const SOFT_ID = 'soft-1'

const self = (userId = TARGET): Caller => ({ consumer: 'portal', userId, roles: [] })
let counter = 0
const ask = (fields: Partial<DeletionInput> = {}): DeletionInput => ({ requestId: `req-${++counter}`, userId: TARGET, caller: self(), ...fields })
const person = (id = TARGET, overrides: Partial<SeedUser> = {}): SeedUser => ({ id, rootOrgId: ORG, organisationIds: [ORG], lookups: 2, ...overrides })
/** The user as a soft deletion's lock left them. */
const softDeleted = (): SeedUser => person(TARGET, { status: 2, isDeleted: true })

/** A soft deletion of TARGET as its runner left it, in `state`, its lock taken (and so the user soft-deleted). */
function softRequest(state: RequestState, overrides: Partial<DeletionRequest> = {}): DeletionRequest {
  const lockedAt = new Date(WORLD_NOW.getTime() - 5_000)
  return {
    id: SOFT_ID,
    userId: TARGET,
    requestedBy: TARGET,
    state,
    plan: 'soft',
    steps: { lock: { status: 'done', action: 'locked', at: lockedAt.toISOString(), plan: 'soft', restore: { status: 1, isDeleted: false, lockedAt: lockedAt.toISOString() } } },
    target: { rootOrgId: ORG, managedBy: null, organisationIds: [ORG] },
    createdAt: new Date(WORLD_NOW.getTime() - 10_000),
    updatedAt: lockedAt,
    ...overrides,
  }
}

/** A world whose user a soft deletion (SOFT_ID, in `state`) holds; `leaseUntil` is that request's lease as stored. */
function softlyHeld(state: RequestState, leaseUntil?: Date, overrides: Partial<DeletionRequest> = {}) {
  const w = deletionWorld({ seed: [softDeleted()] })
  w.states.set(TARGET, { mode: 'soft', requestId: SOFT_ID })
  w.requests.seed(softRequest(state, overrides), leaseUntil ? { leaseUntil } : {})
  return w
}

type World = ReturnType<typeof softlyHeld>

const ENDS = ['deletion.completed', 'deletion.failed', 'deletion.cancelled'] as const
const endsOf = (w: World, requestId: string) => w.audit.eventsOf(requestId).filter((event) => (ENDS as readonly string[]).includes(event))
const hardRequestOf = (w: World) => w.requests.all().find((request) => request.plan === 'hard')

describe('lockForPlan, a hard deletion taking over a soft one (supersede)', () => {
  it('when the soft deletion is still run by its own runner (its lease held), then only that runner ends it: one end record, never `failed` and then `completed`', async () => {
    // Arrange: the soft deletion's runner took its lock and is about to run its other steps, its lease held.
    const heldUntil = new Date(WORLD_NOW.getTime() + WORLD_LEASE_MS)
    const w = softlyHeld('in_progress', heldUntil)
    const runner = { ...softRequest('in_progress'), heldUntil }

    // Act: a hard deletion takes the user over; then the soft runner goes on with its steps.
    const outcome = await deleteAccount(w.deps, ask({ mode: 'hard' }))
    await runRemainingSteps(w.deps, runner)

    // Assert: the soft request ends once, by its runner; the hard one holds and erases the user.
    expect(outcome).toMatchObject({ kind: 'deleted', mode: 'hard' })
    expect(endsOf(w, SOFT_ID)).toEqual(['deletion.completed'])
    expect(w.requests.peek(SOFT_ID)?.state).toBe('completed')
    expect(w.requests.isOpen(SOFT_ID)).toBe(false)
    expect(hardRequestOf(w)?.state).toBe('completed')
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'hard' })
    expect(w.users.remainingRoles(TARGET)).toEqual([])
  })

  it('when the soft deletion is held by a runner that then dies, then it stays open for the sweeper, which ends it once after the lease has run out', async () => {
    const w = softlyHeld('in_progress', new Date(WORLD_NOW.getTime() + WORLD_LEASE_MS))

    await deleteAccount(w.deps, ask({ mode: 'hard' }))
    expect(w.requests.peek(SOFT_ID)?.state).toBe('in_progress')
    expect(w.requests.isOpen(SOFT_ID)).toBe(true)

    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)

    expect(endsOf(w, SOFT_ID)).toHaveLength(1)
    expect(w.requests.isOpen(SOFT_ID)).toBe(false)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 0, unlisted: 0 })
  })

  it('when the soft deletion waits for its erasure (scheduled, its lease free), then it is taken under its lease and ended superseded: finished, then audited, then unlisted, then the lease given back', async () => {
    const eraseAt = new Date(WORLD_NOW.getTime() + 5 * WORLD_GRACE_DAY_MS)
    const w = softlyHeld('scheduled', undefined, { schedule: { plan: 'sunbird', eraseAt } })
    w.timeline.clear()

    await deleteAccount(w.deps, ask({ mode: 'hard' }))

    expect(w.requests.peek(SOFT_ID)).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(endsOf(w, SOFT_ID)).toEqual(['deletion.failed'])
    const writes = w.timeline.writes()
    const order = ['requests.acquireLease', 'requests.finish(failed)', 'audit.append(deletion.failed)', 'requests.unlist', 'requests.releaseLease'].map((entry) =>
      writes.findIndex((write) => write.startsWith(entry)),
    )
    expect(order.every((at) => at >= 0)).toBe(true)
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    expect(w.requests.isOpen(SOFT_ID)).toBe(false)
    expect(w.requests.leaseOf(SOFT_ID)?.getTime()).toBe(0)
    // Its erasure, once due, finds nothing to do.
    w.clock.advance(10 * WORLD_GRACE_DAY_MS)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 0 })
    expect(endsOf(w, SOFT_ID)).toEqual(['deletion.failed'])
  })

  it('when the soft runner stalled past its lease and the hard deletion ended it, then the stalled runner is refused and records nothing', async () => {
    const heldUntil = new Date(WORLD_NOW.getTime() - 1)
    const w = softlyHeld('in_progress', heldUntil)
    const stalled = { ...softRequest('in_progress'), heldUntil }

    await deleteAccount(w.deps, ask({ mode: 'hard' }))
    const resumed = await runRemainingSteps(w.deps, stalled).catch((err: unknown) => err)

    expect(resumed).toBeInstanceOf(LeaseLostError)
    expect(w.requests.peek(SOFT_ID)).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(endsOf(w, SOFT_ID)).toEqual(['deletion.failed'])
  })

  it('when the end of the soft deletion cannot be audited, then the hard deletion goes on, and the sweeper stores the record once the lease has run out', async () => {
    const w = softlyHeld('partial')
    w.audit.failNextOf('deletion.failed', new DependencyUnavailableError('cassandra'))

    const outcome = await deleteAccount(w.deps, ask({ mode: 'hard' }))

    expect(outcome).toMatchObject({ kind: 'deleted', mode: 'hard' })
    expect(hardRequestOf(w)?.state).toBe('completed')
    expect(w.requests.peek(SOFT_ID)).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(endsOf(w, SOFT_ID)).toEqual([])
    // Finished, not closed: the lease is kept (a lease given back says closed) until it runs out.
    expect(w.requests.isOpen(SOFT_ID)).toBe(true)
    expect(w.requests.leaseOf(SOFT_ID)?.getTime()).toBeGreaterThan(w.clock.now().getTime())
    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 1 })
    expect(endsOf(w, SOFT_ID)).toEqual(['deletion.failed'])
    expect(w.requests.isOpen(SOFT_ID)).toBe(false)
  })

  it('when the soft deletion cannot be read or its lease taken (any error), then the hard deletion goes on and is told of it (onStepError), and the soft deletion is left for the sweeper', async () => {
    for (const failing of ['get', 'acquireLease'] as const) {
      const w = softlyHeld('scheduled', undefined, { schedule: { plan: 'sunbird', eraseAt: new Date(WORLD_NOW.getTime() + 5 * WORLD_GRACE_DAY_MS) } })
      const failure = failing === 'get' ? new DependencyUnavailableError('cassandra') : new Error('driver: unexpected answer')
      const original = w.requests[failing].bind(w.requests) as (...args: unknown[]) => Promise<unknown>
      let failed = false
      ;(w.requests as unknown as Record<string, unknown>)[failing] = async (...args: unknown[]) => {
        if (!failed && args[0] === SOFT_ID) {
          failed = true
          throw failure
        }
        return original(...args)
      }
      const told: unknown[] = []
      const deps: typeof w.deps = { ...w.deps, onStepError: (_step, err, requestId) => requestId === SOFT_ID && told.push(err) }

      const outcome = await deleteAccount(deps, ask({ mode: 'hard' }))

      expect(outcome).toMatchObject({ kind: 'deleted', mode: 'hard' })
      expect(hardRequestOf(w)?.state).toBe('completed')
      expect(told).toEqual([failure])
      expect(w.requests.peek(SOFT_ID)?.state).toBe('scheduled')
      expect(w.requests.isOpen(SOFT_ID)).toBe(true)
      expect(w.requests.leaseOf(SOFT_ID)?.getTime()).toBe(0)
    }
  })

  /** The soft deletion stored failed and still listed, its lease run out; the first read of it still answers in_progress (read just before that run's finish). */
  function endedMeanwhileReadStale() {
    const w = softlyHeld('failed')
    w.requests.seed({ ...softRequest('failed'), reason: 'superseded' }, { leaseUntil: new Date(WORLD_NOW.getTime() - 1), open: true })
    const get = w.requests.get.bind(w.requests)
    let stale = true
    w.requests.get = async (id) => {
      const request = await get(id)
      if (id !== SOFT_ID || !stale || !request) return request
      stale = false
      return { ...request, state: 'in_progress' }
    }
    return { w, readStale: () => !stale }
  }

  it('when the soft deletion read as still to do has meanwhile been ended by a run that died before its record (failed, listed, its lease run out), then the lease taken is kept, not given back, and the sweeper stores the record once', async () => {
    // Arrange: stored failed and still listed, its lease run out; the first read still answers in_progress (read just before that run's finish).
    const { w, readStale } = endedMeanwhileReadStale()

    // Act
    const outcome = await deleteAccount(w.deps, ask({ mode: 'hard' }))

    // Assert: not ended again; its lease kept (a lease given back says closed) until it runs out.
    expect(outcome).toMatchObject({ kind: 'deleted', mode: 'hard' })
    expect(readStale()).toBe(true)
    expect(w.requests.peek(SOFT_ID)).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(endsOf(w, SOFT_ID)).toEqual([])
    expect(w.requests.isOpen(SOFT_ID)).toBe(true)
    expect(w.requests.leaseOf(SOFT_ID)?.getTime()).toBeGreaterThan(w.clock.now().getTime())
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 0 })
    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 1 })
    expect(endsOf(w, SOFT_ID)).toEqual(['deletion.failed'])
    expect(w.requests.isOpen(SOFT_ID)).toBe(false)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 0 })
    expect(endsOf(w, SOFT_ID)).toEqual(['deletion.failed'])
  })

  it('when the soft deletion cannot be read once its lease is taken, then that lease is kept, not given back (it may owe its end’s record), and the hard deletion goes on', async () => {
    const w = softlyHeld('scheduled', undefined, { schedule: { plan: 'sunbird', eraseAt: new Date(WORLD_NOW.getTime() + 5 * WORLD_GRACE_DAY_MS) } })
    const get = w.requests.get.bind(w.requests)
    let reads = 0
    w.requests.get = async (id) => {
      if (id === SOFT_ID && ++reads === 2) throw new DependencyUnavailableError('cassandra')
      return get(id)
    }

    const outcome = await deleteAccount(w.deps, ask({ mode: 'hard' }))

    expect(outcome).toMatchObject({ kind: 'deleted', mode: 'hard' })
    expect(reads).toBe(2)
    expect(w.requests.leaseOf(SOFT_ID)?.getTime()).toBeGreaterThan(w.clock.now().getTime())
  })

  it('when the soft deletion read as still to do is found finished and whether it is listed cannot be read, then the lease taken is kept, and the sweeper stores the record once', async () => {
    const { w, readStale } = endedMeanwhileReadStale()
    w.requests.failNext('isListed', new DependencyUnavailableError('cassandra'))

    const outcome = await deleteAccount(w.deps, ask({ mode: 'hard' }))

    expect(outcome).toMatchObject({ kind: 'deleted', mode: 'hard' })
    expect(readStale()).toBe(true)
    expect(w.timeline.count('requests.isListed')).toBe(1)
    expect(w.requests.leaseOf(SOFT_ID)?.getTime()).toBeGreaterThan(w.clock.now().getTime())
    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 1 })
    expect(endsOf(w, SOFT_ID)).toEqual(['deletion.failed'])
  })

  it('when the soft deletion has completed, then it is left as it is, with one read and no write', async () => {
    const w = softlyHeld('completed')
    w.requests.unlist(SOFT_ID)
    w.timeline.clear()

    await deleteAccount(w.deps, ask({ mode: 'hard' }))

    expect(w.requests.peek(SOFT_ID)?.state).toBe('completed')
    expect(w.timeline.writes().filter((write) => write.startsWith('requests.acquireLease'))).toEqual([])
  })
})

/** Moves the user's soft hold to another request right before each of the next `times` swaps: a deletion never wins its compare-and-set. */
function keepMovingTheHold(w: World | ReturnType<typeof deletionWorld>, userId: string, times: number): void {
  for (let i = 1; i <= times; i++) w.states.beforeNextSwap(() => w.states.set(userId, { mode: 'soft', requestId: `mover-${i}` }))
}

describe('lockForPlan, a deletion state that keeps changing', () => {
  it('when every compare-and-set of the hold is lost, then the request is accepted and left open (its lease given back), and the sweeper finishes it once the contention is over', async () => {
    const w = deletionWorld({ seed: [softDeleted()] })
    w.states.set(TARGET, { mode: 'soft', requestId: 'mover-0' })
    keepMovingTheHold(w, TARGET, 4)

    const outcome = await deleteAccount(w.deps, ask({ mode: 'hard' }))

    expect(outcome).toMatchObject({ kind: 'deleted', mode: 'hard' })
    const request = hardRequestOf(w)
    expect(request?.state).toBe('accepted')
    expect(w.requests.isOpen(request?.id ?? '')).toBe(true)
    expect(w.requests.leaseOf(request?.id ?? '')?.getTime()).toBe(0)

    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, completed: 1 })
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'hard', requestId: request?.id })
  })

  it('when the sweeper meets the contention, then it is told a dependency error the sweeper retries (worded, no personal data), not an unexpected one', async () => {
    const w = deletionWorld({ seed: [softDeleted()] })
    w.states.set(TARGET, { mode: 'soft', requestId: 'mover-0' })
    keepMovingTheHold(w, TARGET, 4)
    await deleteAccount(w.deps, ask({ mode: 'hard' }))
    keepMovingTheHold(w, TARGET, 4)
    const requestId = hardRequestOf(w)?.id ?? ''

    const err = await resumeDeletion(w.deps, requestId).catch((e: unknown) => e)

    expect(err).toBeInstanceOf(DependencyUnavailableError)
    expect((err as DependencyUnavailableError).cause).toBeInstanceOf(WordedCause)
    expect(((err as DependencyUnavailableError).cause as Error).message).toBe('the deletion state of the user kept changing')
    expect(w.requests.isOpen(requestId)).toBe(true)
    expect(w.requests.leaseOf(requestId)?.getTime()).toBe(0)
  })

  it("when a managed user's hold keeps changing, then the manager's deletion (Sunbird's route) is accepted, the step stays owed, and the sweeper finishes it", async () => {
    const w = deletionWorld({ seed: [person(TARGET), person(CHILD, { managedBy: TARGET, status: 2, isDeleted: true })] })
    w.states.set(CHILD, { mode: 'soft', requestId: 'mover-0' })
    keepMovingTheHold(w, CHILD, 3)
    const steps: unknown[] = []
    const deps: typeof w.deps = { ...w.deps, onStepError: (_step, err) => steps.push(err) }

    const answer = await deleteUser(deps, { requestId: 'req-plain', userId: TARGET, caller: self() })

    expect(answer).toEqual({ response: 'SUCCESS' })
    expect(steps).toEqual([expect.any(DependencyUnavailableError)])
    expect(w.requests.peek('req-plain')?.state).toBe('in_progress')
    expect(w.requests.isOpen('req-plain')).toBe(true)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, completed: 1 })
    expect(w.states.peek(CHILD)).toMatchObject({ mode: 'sunbird', requestId: 'req-plain' })
  })
})

describe('lockForPlan, a deletion state this service cannot read', () => {
  it('when the hold row has an unknown mode, then the lock fails at once with UnreadableDeletionStateError (not as contention), the request stays open, and the sweeper carries it on once the row is repaired', async () => {
    const w = deletionWorld({ seed: [person()] })
    w.states.setUnreadable(TARGET, 'erasing')
    const told: unknown[] = []
    const deps: RunDeps & typeof w.deps = { ...w.deps, onStepError: (_step, err) => told.push(err) }

    const err = await deleteAccount(deps, ask({ mode: 'soft' })).catch((e: unknown) => e)

    expect(err).toBeInstanceOf(UnreadableDeletionStateError)
    expect((err as Error).message).toContain("mode 'erasing'")
    expect(w.timeline.count('states.swap(soft)')).toBe(1)
    const request = w.requests.all()[0]
    expect(request?.state).toBe('accepted')
    expect(w.requests.isOpen(request?.id ?? '')).toBe(true)

    // Each pass says why, by name, until an operator repairs the row.
    await resumeOpenDeletions(deps)
    expect(told).toEqual([expect.any(UnreadableDeletionStateError)])
    w.states.set(TARGET, undefined)
    expect(await resumeOpenDeletions(deps)).toMatchObject({ resumed: 1, completed: 1 })
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'soft', requestId: request?.id })
  })

  it("when a managed user's hold row is unreadable, then the manager's hard deletion fails past its lock with UnreadableDeletionStateError and stays in_progress until the row is repaired, while Sunbird's route (which takes no hold of an active managed user) goes on (docs/operating.md)", async () => {
    const w = deletionWorld({ seed: [person(TARGET), person(CHILD, { managedBy: TARGET })] })
    w.states.setUnreadable(CHILD, 'erasing')

    const err = await deleteAccount(w.deps, ask({ mode: 'hard' })).catch((e: unknown) => e)

    expect(err).toBeInstanceOf(UnreadableDeletionStateError)
    const manager = hardRequestOf(w)
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'hard', requestId: manager?.id })
    expect(manager?.state).toBe('in_progress')
    expect(w.requests.isOpen(manager?.id ?? '')).toBe(true)
    w.states.set(CHILD, undefined)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, completed: 1 })

    const plain = deletionWorld({ seed: [person(TARGET), person(CHILD, { managedBy: TARGET })] })
    plain.states.setUnreadable(CHILD, 'erasing')
    expect(await deleteUser(plain.deps, { requestId: 'req-plain', userId: TARGET, caller: self() })).toEqual({ response: 'SUCCESS', state: 'completed' })
    expect(plain.requests.peek('req-plain')?.state).toBe('completed')
  })
})
