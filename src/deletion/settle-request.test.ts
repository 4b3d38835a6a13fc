import { describe, expect, it } from 'vitest'
import { WORLD_LEASE_MS, WORLD_NOW, deletionWorld } from '../../test/support/fakes/deletion-world.js'
import type { SeedUser } from '../../test/support/fakes/in-memory-user-store.js'
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

/** The request's finish and its audit record, in the order they were written. */
const endOf = (w: ReturnType<typeof deletionWorld>) => w.timeline.writes().filter((write) => write.startsWith('requests.finish') || write.startsWith('audit.append'))

describe('settleRequest, an end is audited before the request can end', () => {
  it('when the lease holds, then deletion.completed is stored before the finish', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    w.requests.seed(request())

    expect(await resumeDeletion(w.deps, 'req-1')).toBe('completed')

    expect(endOf(w)).toEqual(['audit.append(deletion.completed)', 'requests.finish(completed)'])
  })

  it('when deletion.completed cannot be stored, then the request is not completed but stays open and given back, and the sweeper completes it and stores the record', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    w.requests.seed(request({}, STEPS.indexOf('event')))
    w.audit.failNextOf('deletion.completed', new DependencyUnavailableError('cassandra'))

    await expect(resumeDeletion(w.deps, 'req-1')).rejects.toBeInstanceOf(DependencyUnavailableError)

    expect(w.requests.peek('req-1')?.state).toBe('in_progress')
    expect(w.requests.peek('req-1')?.receipt).toBeUndefined()
    expect(w.requests.isOpen('req-1')).toBe(true)
    expect(w.requests.leaseOf('req-1')).toEqual(new Date(0))
    expect(w.audit.eventsOf('req-1')).toEqual([])

    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, completed: 1 })
    expect(w.requests.peek('req-1')).toMatchObject({ state: 'completed', receipt: { state: 'completed' } })
    expect(w.requests.isOpen('req-1')).toBe(false)
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.completed'])
  })

  it('when a delete call cannot store deletion.completed, then the caller hears SUCCESS and the sweeper completes the request with its record', async () => {
    const w = deletionWorld({ seed: [activeUser()] })
    w.audit.failNextOf('deletion.completed', new DependencyUnavailableError('cassandra'))

    expect(await deleteUser(w.deps, { requestId: 'req-1', userId: USER, caller: self })).toEqual({ response: 'SUCCESS' })
    expect(w.requests.peek('req-1')?.state).toBe('in_progress')
    expect(w.requests.isOpen('req-1')).toBe(true)

    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, completed: 1 })
    expect(w.requests.peek('req-1')?.state).toBe('completed')
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.accepted', 'deletion.completed'])
  })

  it('when the record is stored but the finish fails, then the request stays open and the sweeper’s settle stores it again (the same requestId and event twice)', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    w.requests.seed(request())
    w.requests.failNext('finish', new DependencyUnavailableError('cassandra'))

    await expect(resumeDeletion(w.deps, 'req-1')).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(w.requests.isOpen('req-1')).toBe(true)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, completed: 1 })

    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.completed', 'deletion.completed'])
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

  it('when deletion.failed cannot be stored, then the request is not failed but stays open, and the next run ends it failed with its record', async () => {
    // Died before its lock; the user was locked meanwhile by another request: this one is superseded.
    const w = deletionWorld({ seed: [lockedUser()] })
    w.requests.seed(request({ id: 'req-winner', state: 'completed' }))
    w.requests.seed(request({ state: 'accepted' }, 0))
    w.audit.failNextOf('deletion.failed', new DependencyUnavailableError('cassandra'))

    await expect(resumeDeletion(w.deps, 'req-1')).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(w.requests.peek('req-1')?.state).toBe('accepted')
    expect(w.requests.isOpen('req-1')).toBe(true)

    expect(await resumeDeletion(w.deps, 'req-1')).toBe('failed')
    expect(w.requests.peek('req-1')).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.failed'])
    expect(endOf(w).slice(-2)).toEqual(['audit.append(deletion.failed)', 'requests.finish(failed)'])
  })

  it('when a request is failed by a run holding no lease on it (a later deletion superseding it), then its record is stored first: one that cannot be stored leaves it open', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    w.requests.seed(request({ state: 'scheduled' }))
    w.audit.failNextOf('deletion.failed', new DependencyUnavailableError('cassandra'))

    const read = w.requests.peek('req-1')
    if (!read) throw new Error('no request')
    await expect(failRequest(w.deps, read, 'superseded', w.clock.now())).rejects.toBeInstanceOf(DependencyUnavailableError)

    expect(w.requests.peek('req-1')?.state).toBe('scheduled')
    expect(w.requests.isOpen('req-1')).toBe(true)
  })
})

describe('settleRequest, a run whose lease has run out', () => {
  it('when another runner has taken the request over, then its finish is refused and it audits nothing', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    const heldUntil = new Date(WORLD_NOW.getTime() + WORLD_LEASE_MS)
    w.requests.seed(request(), { leaseUntil: heldUntil })
    const stalled = held(w, heldUntil)
    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await w.requests.acquireLease('req-1', w.clock.now(), new Date(w.clock.now().getTime() + WORLD_LEASE_MS))).toBe(true)

    await expect(settleRequest(w.deps, stalled)).rejects.toBeInstanceOf(LeaseLostError)

    expect(w.audit.records).toEqual([])
    expect(w.requests.peek('req-1')?.state).toBe('in_progress')
  })

  it('when a failing run’s lease has run out and another runner took the request, then deletion.failed is not stored', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    const heldUntil = new Date(WORLD_NOW.getTime() + WORLD_LEASE_MS)
    w.requests.seed(request({ state: 'accepted' }, 0), { leaseUntil: heldUntil })
    const stalled = held(w, heldUntil)
    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await w.requests.acquireLease('req-1', w.clock.now(), new Date(w.clock.now().getTime() + WORLD_LEASE_MS))).toBe(true)

    await expect(failRequest(w.deps, stalled, 'superseded', w.clock.now())).rejects.toBeInstanceOf(LeaseLostError)

    expect(w.audit.records).toEqual([])
  })

  it('when nobody took the request meanwhile, then it finishes first, fenced by its lease, and then stores deletion.completed', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    const heldUntil = new Date(WORLD_NOW.getTime() + WORLD_LEASE_MS)
    w.requests.seed(request(), { leaseUntil: heldUntil })
    const stalled = held(w, heldUntil)
    w.clock.advance(WORLD_LEASE_MS)

    expect(await settleRequest(w.deps, stalled)).toBe('completed')

    expect(endOf(w)).toEqual(['requests.finish(completed)', 'audit.append(deletion.completed)'])
    expect(w.requests.peek('req-1')?.state).toBe('completed')
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.completed'])
  })

  it('when its lease still holds by a millisecond, then the record goes first', async () => {
    const w = deletionWorld({ seed: [lockedUser()] })
    const heldUntil = new Date(WORLD_NOW.getTime() + WORLD_LEASE_MS)
    w.requests.seed(request(), { leaseUntil: heldUntil })
    w.clock.advance(WORLD_LEASE_MS - 1)

    expect(await settleRequest(w.deps, held(w, heldUntil))).toBe('completed')

    expect(endOf(w)).toEqual(['audit.append(deletion.completed)', 'requests.finish(completed)'])
  })
})
