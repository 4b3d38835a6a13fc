import { describe, expect, it } from 'vitest'
import { WORLD_LEASE_MS, WORLD_NOW, deletionWorld } from '../../test/support/fakes/deletion-world.js'
import type { SeedUser } from '../../test/support/fakes/in-memory-user-store.js'
import { cancelDeletion } from './cancel-deletion.js'
import { deleteAccount } from './delete-account.js'
import { deleteUser } from './delete-user.js'
import { STEPS, type DeletionRequest, type StepOutcome } from './deletion-request.js'
import { DependencyUnavailableError } from './errors.js'
import { LeaseLostError } from './lease.js'
import { resumeDeletion, resumeOpenDeletions } from './run-deletion.js'
import { failRequest, settleRequest } from './settle-request.js'

const USER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const EARLIER = '2024-05-20T10:00:00.000Z'
const self = { consumer: 'portal', userId: USER, roles: [] }

const activeUser = (): SeedUser => ({ id: USER, organisationIds: ['org-1'], lookups: 1 })
/** The user as a runner that locked it left it. */
const lockedUser = (): SeedUser => ({ ...activeUser(), status: 2, isDeleted: true })

const done: StepOutcome = { status: 'done', action: 'done', at: EARLIER }

/** A request whose runner recorded every step up to `upTo` (exclusive; all of them by default). */
function request(overrides: Partial<DeletionRequest> = {}, upTo = STEPS.length): DeletionRequest {
  return {
    id: 'req-1',
    userId: USER,
    requestedBy: USER,
    state: 'in_progress',
    plan: 'sunbird',
    steps: Object.fromEntries(STEPS.slice(0, upTo).map((step) => [step, done])),
    target: { rootOrgId: null, managedBy: null, organisationIds: ['org-1'] },
    createdAt: new Date(WORLD_NOW.getTime() - 60_000),
    updatedAt: new Date(WORLD_NOW.getTime() - 60_000),
    ...overrides,
  }
}

/** The request as its runner holds it: read back, with the lease it took (until `heldUntil`). */
function held(w: ReturnType<typeof deletionWorld>, heldUntil: Date): DeletionRequest {
  const read = w.requests.peek('req-1')
  if (!read) throw new Error('no request')
  return { ...read, heldUntil }
}

/** The request's finish, its audit record and its unlisting (and a lease taken back), in the order they were written. */
const endOf = (w: ReturnType<typeof deletionWorld>) => w.timeline.writes().filter((write) => /^requests\.(finish|unlist|renewLease|releaseLease)|^audit\.append/.test(write))

/** An audit trail whose next append of `event` is stored and then answers an error (a write that timed out after it landed). */
function landsThenFails(w: ReturnType<typeof deletionWorld>, event: string): void {
  const append = w.audit.append.bind(w.audit)
  let failed = false
  w.audit.append = async (record) => {
    await append(record)
    if (record.event === event && !failed) {
      failed = true
      throw new DependencyUnavailableError('cassandra')
    }
  }
}

describe('settleRequest, a final end is decided before it is audited, and audited before it is unlisted', () => {
  it('when the lease holds, then the request is completed, then deletion.completed stored, then the request unlisted', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    w.requests.seed(request())

    expect(await resumeDeletion(w.deps, 'req-1')).toBe('completed')

    expect(endOf(w)).toEqual(['requests.finish(completed)', 'audit.append(deletion.completed)', 'requests.unlist', 'requests.releaseLease'])
    expect(w.requests.isOpen('req-1')).toBe(false)
  })

  it('when deletion.completed cannot be stored, then the request is completed but stays listed under the run’s lease, and once that runs out the sweeper stores the record and closes it', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    w.requests.seed(request({}, STEPS.indexOf('event')))
    w.audit.failNextOf('deletion.completed', new DependencyUnavailableError('cassandra'))

    await expect(resumeDeletion(w.deps, 'req-1')).rejects.toBeInstanceOf(DependencyUnavailableError)

    expect(w.requests.peek('req-1')).toMatchObject({ state: 'completed', receipt: { state: 'completed' } })
    expect(w.requests.isOpen('req-1')).toBe(true)
    expect(w.audit.eventsOf('req-1')).toEqual([])

    // Not given back: a free lease would say the request is closed.
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 0, unlisted: 0 })
    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 0, unlisted: 1 })
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.completed'])
    expect(w.requests.isOpen('req-1')).toBe(false)
    expect(w.requests.peek('req-1')?.state).toBe('completed')
  })

  it('when a delete call cannot store deletion.completed, then the caller hears SUCCESS and the sweeper stores the record', async () => {
    const w = deletionWorld({ seed: [activeUser()] })
    w.audit.failNextOf('deletion.completed', new DependencyUnavailableError('cassandra'))

    expect(await deleteUser(w.deps, { requestId: 'req-1', userId: USER, caller: self })).toEqual({ response: 'SUCCESS' })
    expect(w.requests.peek('req-1')?.state).toBe('completed')
    expect(w.requests.isOpen('req-1')).toBe(true)

    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 1 })
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.accepted', 'deletion.completed'])
  })

  it('when the record is stored but the unlist fails, then the sweeper stores it again and unlists the request (the same requestId and event twice)', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    w.requests.seed(request())
    w.requests.failNext('unlist', new DependencyUnavailableError('cassandra'))

    await expect(resumeDeletion(w.deps, 'req-1')).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(w.requests.isOpen('req-1')).toBe(true)
    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 1 })

    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.completed', 'deletion.completed'])
    expect(w.requests.isOpen('req-1')).toBe(false)
  })

  it('when a finished request is listed whose record was stored before the finish (a cancel), then the sweeper unlists it and stores nothing', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    w.requests.seed(request({ state: 'cancelled' }), { open: true })

    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 1 })

    expect(w.audit.records).toEqual([])
    expect(w.requests.isOpen('req-1')).toBe(false)
  })

  it('when a grace period’s deletion.scheduled cannot be stored, then the request is not scheduled but stays open, and the sweeper schedules it and stores the record', async () => {
    const w = deletionWorld({ seed: [activeUser()] })
    w.audit.failNextOf('deletion.scheduled', new DependencyUnavailableError('cassandra'))

    expect(await deleteAccount(w.deps, { requestId: 'req-1', userId: USER, caller: self, gracePeriodDays: 2 })).toMatchObject({ kind: 'scheduled' })
    expect(w.requests.peek('req-1')?.state).toBe('in_progress')
    expect(w.requests.isOpen('req-1')).toBe(true)
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.accepted'])

    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1 })
    expect(w.requests.peek('req-1')?.state).toBe('scheduled')
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.accepted', 'deletion.scheduled'])
    expect(endOf(w).slice(-2)).toEqual(['audit.append(deletion.scheduled)', 'requests.finish(scheduled)'])
  })

  it('when deletion.failed cannot be stored, then the request is failed but stays listed, and the sweeper stores its record with its reason', async () => {
    // Died before its lock; the user was locked meanwhile by another request: this one is superseded.
    const w = deletionWorld({ seed: [lockedUser()] })
    w.requests.seed(request({ id: 'req-winner', state: 'completed' }))
    w.requests.seed(request({ state: 'accepted' }, 0))
    w.audit.failNextOf('deletion.failed', new DependencyUnavailableError('cassandra'))

    await expect(resumeDeletion(w.deps, 'req-1')).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(w.requests.peek('req-1')).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(w.requests.isOpen('req-1')).toBe(true)

    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 1 })
    expect(w.audit.records.filter((record) => record.requestId === 'req-1')).toEqual([expect.objectContaining({ event: 'deletion.failed', detail: { reason: 'superseded' } })])
    expect(w.requests.isOpen('req-1')).toBe(false)
  })

  it('when deletion.failed is stored but its answer is lost and the winning soft deletion is cancelled meanwhile, then the request stays failed: the record is never followed by a completion', async () => {
    // A request that died before its lock; the user was soft deleted meanwhile by another request.
    const w = deletionWorld({ seed: [activeUser()] })
    w.requests.seed(request({ state: 'accepted' }, 0))
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: USER, caller: self, mode: 'soft' })
    landsThenFails(w, 'deletion.failed')
    await expect(resumeDeletion(w.deps, 'req-1')).rejects.toBeInstanceOf(DependencyUnavailableError)

    await cancelDeletion(w.deps, { userId: USER, caller: self })
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)

    expect(w.requests.peek('req-1')?.state).toBe('failed')
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.failed', 'deletion.failed'])
    expect(w.users.snapshot(USER)).toMatchObject({ status: 1, isDeleted: false })
  })

  it('when a request is failed by a later deletion superseding it (under the lease it took), then it is failed first: a record that cannot be stored leaves it listed, its lease kept, for the sweeper', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    const heldUntil = new Date(WORLD_NOW.getTime() + WORLD_LEASE_MS)
    w.requests.seed(request({ state: 'scheduled' }), { leaseUntil: heldUntil })
    w.audit.failNextOf('deletion.failed', new DependencyUnavailableError('cassandra'))

    const read = w.requests.peek('req-1')
    if (!read) throw new Error('no request')
    read.heldUntil = heldUntil
    await expect(failRequest(w.deps, read, 'superseded', w.clock.now())).rejects.toBeInstanceOf(DependencyUnavailableError)

    expect(w.requests.peek('req-1')?.state).toBe('failed')
    expect(w.requests.isOpen('req-1')).toBe(true)
    expect(w.requests.leaseOf('req-1')).toEqual(heldUntil)
    expect(w.timeline.count('requests.renewLease')).toBe(0)
  })
})

describe('settleRequest, a run whose lease has run out', () => {
  /** A request seeded as its runner holds it until `heldUntil` (the lease it took, now run out once the clock passes it). */
  function stalledRun(w: ReturnType<typeof deletionWorld>, overrides: Partial<DeletionRequest> = {}, upTo = STEPS.length) {
    const heldUntil = new Date(WORLD_NOW.getTime() + WORLD_LEASE_MS)
    w.requests.seed(request(overrides, upTo), { leaseUntil: heldUntil })
    return held(w, heldUntil)
  }

  /** Another runner takes the request over (its clock past the lease): the lease it now holds. */
  async function takeOver(w: ReturnType<typeof deletionWorld>): Promise<Date> {
    const takerUntil = new Date(w.clock.now().getTime() + WORLD_LEASE_MS)
    expect(await w.requests.acquireLease('req-1', w.clock.now(), takerUntil)).toBe(true)
    return takerUntil
  }

  /** A grace period's soft phase, every step of it done. */
  const softPhase = (): Partial<DeletionRequest> => ({ plan: 'soft', schedule: { plan: 'hard', eraseAt: new Date(WORLD_NOW.getTime() + 2 * 60 * 60 * 1000) } })

  /** A step still owed (Keycloak out of reach). */
  const owingKeycloak = (): Partial<DeletionRequest> => ({ steps: { ...request().steps, keycloak: { status: 'pending', action: 'unreachable', at: EARLIER } } })

  it('when another runner has taken the request over, then its finish is refused: it audits nothing, and the taker keeps the request', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    const stalled = stalledRun(w)
    w.clock.advance(WORLD_LEASE_MS + 1)
    const takerUntil = await takeOver(w)

    await expect(settleRequest(w.deps, stalled)).rejects.toBeInstanceOf(LeaseLostError)

    expect(w.audit.records).toEqual([])
    expect(w.requests.peek('req-1')?.state).toBe('in_progress')
    expect(w.requests.leaseOf('req-1')).toEqual(takerUntil)
    expect(w.requests.isOpen('req-1')).toBe(true)
  })

  it('when a failing run’s lease has run out and another runner took the request, then deletion.failed is not stored', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    const stalled = stalledRun(w, { state: 'accepted' }, 0)
    w.clock.advance(WORLD_LEASE_MS + 1)
    await takeOver(w)

    await expect(failRequest(w.deps, stalled, 'superseded', w.clock.now())).rejects.toBeInstanceOf(LeaseLostError)

    expect(w.audit.records).toEqual([])
    expect(w.requests.peek('req-1')?.state).toBe('accepted')
  })

  it('when nobody took the request meanwhile, then its fenced finish applies, and its record and unlist follow', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    const stalled = stalledRun(w)
    w.clock.advance(WORLD_LEASE_MS)

    expect(await settleRequest(w.deps, stalled)).toBe('completed')

    // Its lease is taken back before the finish (the run's clock is past it), so nobody takes the request before the close.
    expect(endOf(w)).toEqual(['requests.renewLease', 'requests.finish(completed)', 'audit.append(deletion.completed)', 'requests.unlist', 'requests.releaseLease'])
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.completed'])
  })

  it('when nobody took the request and deletion.completed cannot be stored, then the request is completed and still listed, and the sweeper stores its one record', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    const stalled = stalledRun(w)
    w.clock.advance(WORLD_LEASE_MS + 1)
    w.audit.failNextOf('deletion.completed', new DependencyUnavailableError('cassandra'))

    await expect(settleRequest(w.deps, stalled)).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(w.requests.peek('req-1')?.state).toBe('completed')
    expect(w.requests.isOpen('req-1')).toBe(true)

    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 1 })
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.completed'])
    expect(w.requests.isOpen('req-1')).toBe(false)
  })

  it('when a partial run’s lease has run out and another runner took the request, then taking its lease back is refused and deletion.partial is not stored', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    const stalled = stalledRun(w, owingKeycloak())
    w.clock.advance(WORLD_LEASE_MS + 1)
    await takeOver(w)

    await expect(settleRequest(w.deps, stalled)).rejects.toBeInstanceOf(LeaseLostError)

    expect(w.audit.records).toEqual([])
    expect(endOf(w)).toEqual(['requests.renewLease'])
    expect(w.requests.peek('req-1')?.state).toBe('in_progress')
    expect(w.requests.peek('req-1')?.receipt).toBeUndefined()
  })

  it('when nobody took a partial request, then it takes its lease back, stores deletion.partial, and only then settles under the lease it took back', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    const stalled = stalledRun(w, owingKeycloak())
    w.clock.advance(WORLD_LEASE_MS + 1)

    expect(await settleRequest(w.deps, stalled)).toBe('partial')

    expect(endOf(w)).toEqual(['requests.renewLease', 'audit.append(deletion.partial)', 'requests.finish(partial)'])
  })

  it('when nobody took the request and a grace period’s deletion.scheduled cannot be stored, then the request is not scheduled but stays open', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    const stalled = stalledRun(w, softPhase())
    w.clock.advance(WORLD_LEASE_MS + 1)
    w.audit.failNextOf('deletion.scheduled', new DependencyUnavailableError('cassandra'))

    await expect(settleRequest(w.deps, stalled)).rejects.toBeInstanceOf(DependencyUnavailableError)

    expect(w.requests.peek('req-1')?.state).toBe('in_progress')
    expect(w.requests.isOpen('req-1')).toBe(true)
    expect(w.audit.eventsOf('req-1')).toEqual([])
    expect(endOf(w)).toEqual(['requests.renewLease', 'audit.append(deletion.scheduled)'])
  })

  it('when the run stalls past the lease it took back while storing deletion.partial and another runner takes the request, then its settle is still refused: the request is the taker’s', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    const stalled = stalledRun(w, owingKeycloak())
    w.clock.advance(WORLD_LEASE_MS + 1)
    let takerUntil: Date | undefined
    const audit = {
      async append(record: Parameters<typeof w.audit.append>[0]) {
        await w.audit.append(record)
        w.clock.advance(WORLD_LEASE_MS + 1)
        takerUntil = await takeOver(w)
      },
    }

    await expect(settleRequest({ ...w.deps, audit }, stalled)).rejects.toBeInstanceOf(LeaseLostError)

    expect(w.requests.peek('req-1')?.state).toBe('in_progress')
    expect(w.requests.peek('req-1')?.receipt).toBeUndefined()
    expect(w.requests.leaseOf('req-1')).toEqual(takerUntil)
    expect(w.requests.isOpen('req-1')).toBe(true)
  })

  it('when its lease still holds by a millisecond, then no lease is taken back (no compare-and-set)', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    const heldUntil = new Date(WORLD_NOW.getTime() + WORLD_LEASE_MS)
    w.requests.seed(request(owingKeycloak()), { leaseUntil: heldUntil })
    w.clock.advance(WORLD_LEASE_MS - 1)

    expect(await settleRequest(w.deps, held(w, heldUntil))).toBe('partial')

    expect(endOf(w)).toEqual(['audit.append(deletion.partial)', 'requests.finish(partial)'])
  })
})
