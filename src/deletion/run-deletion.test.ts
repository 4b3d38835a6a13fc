import { describe, expect, it, vi } from 'vitest'
import { WORLD_LEASE_MS, WORLD_NOW, deletionWorld, type WorldOptions } from '../../test/support/fakes/deletion-world.js'
import type { SeedUser } from '../../test/support/fakes/in-memory-user-store.js'
import { cancelDeletion } from './cancel-deletion.js'
import { deleteAccount } from './delete-account.js'
import { deleteUser } from './delete-user.js'
import { STEPS, type DeletionRequest, type StepName, type StepOutcome } from './deletion-request.js'
import { DependencyUnavailableError } from './errors.js'
import { CREATE_SETTLED_WITHIN_MS } from './ports.js'
import { owedEndRecord } from './settle-request.js'
import { resumeDeletion, resumeOpenDeletions, type RunDeps } from './run-deletion.js'
import { stepsOf } from './steps/index.js'

/** The steps of Sunbird's deletion, in order: what a request without a mode runs. */
const SUNBIRD_STEPS = stepsOf('sunbird').map((step) => step.name)

const USER_A = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const USER_B = '6b6e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d42'
const USER_C = '7c7e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d43'
const EARLIER = '2024-05-20T10:00:00.000Z'
const AT = WORLD_NOW.toISOString()

/** What afterStep is told: a step name (or the acceptance, before any step). */
type Hook = Parameters<NonNullable<RunDeps['afterStep']>>[0]

const done = (action: string, count?: number): StepOutcome => ({ status: 'done', action, at: EARLIER, ...(count !== undefined && { count }) })

/** Outcomes of the steps a finished run records, as an earlier runner would have left them. */
const RECORDED: Record<StepName, StepOutcome> = {
  lock: done('locked'),
  keycloak: done('deleted'),
  otp: done('deleted', 0),
  rateLimit: done('deleted', 0),
  lookups: done('deleted', 1),
  externalIdentities: done('deleted', 0),
  organisations: done('marked-left', 1),
  roles: done('deleted', 1),
  declarations: done('deleted', 0),
  consent: done('deleted', 0),
  notes: done('deleted', 0),
  searchNotes: done('deleted', 0),
  shadowUser: done('blanked', 0),
  userFeed: done('deleted', 0),
  userCert: done('deleted', 0),
  address: done('deleted', 0),
  extraTargets: { status: 'skipped', action: 'none configured', at: EARLIER },
  userRow: done('scrubbed'),
  searchUser: done('tombstoned', 1),
  searchAddedByName: done('blanked', 0),
  cacheUser: done('deleted', 1),
  managedUsers: { status: 'skipped', action: 'scrubbed', count: 0, at: EARLIER },
  event: done('queued'),
}

/** A request whose runner got as far as `through` (inclusive) before it died. */
function requestThrough(through: StepName | undefined, overrides: Partial<DeletionRequest> = {}): DeletionRequest {
  const upTo = through === undefined ? 0 : STEPS.indexOf(through) + 1
  return {
    id: 'req-1',
    userId: USER_A,
    requestedBy: USER_A,
    state: upTo === 0 ? 'accepted' : 'in_progress',
    plan: 'sunbird',
    steps: Object.fromEntries(STEPS.slice(0, upTo).map((step) => [step, RECORDED[step]])),
    target: { rootOrgId: null, managedBy: null, organisationIds: ['org-1'] },
    createdAt: new Date(WORLD_NOW.getTime() - 60_000),
    updatedAt: new Date(WORLD_NOW.getTime() - 60_000),
    ...overrides,
  }
}

/** A user managed by USER_A. */
const CHILD = 'c0c0c0c0-1111-4222-8333-444455556666'

const activeUser = (id = USER_A, overrides: Partial<SeedUser> = {}): SeedUser => ({ id, organisationIds: ['org-1'], lookups: 1, ...overrides })
/** The user as a runner that locked it and erased its lookups left it. */
const lockedUser = (id = USER_A, overrides: Partial<SeedUser> = {}): SeedUser => ({ ...activeUser(id, overrides), status: 2, isDeleted: true, lookups: 0, ...overrides })

function world(seed: SeedUser[], options: Omit<WorldOptions, 'seed'> = {}) {
  return deletionWorld({ seed, ...options })
}

/** Holds the first Keycloak account erasure of the world until `goOn()` (a run stalled in it); later ones go through. */
function stallFirstErasure(w: ReturnType<typeof world>) {
  const erase = w.identity.eraseAccount.bind(w.identity)
  const stall: { reached: boolean; goOn(): void } = { reached: false, goOn: () => undefined }
  w.identity.eraseAccount = (userId) => {
    if (stall.reached) return erase(userId)
    stall.reached = true
    return new Promise((resolve) => {
      stall.goOn = () => resolve(erase(userId))
    })
  }
  return stall
}

describe('resumeDeletion, the lease', () => {
  it('when another runner holds the lease, then undefined is answered and nothing runs', async () => {
    // Arrange
    const w = world([activeUser()])
    w.requests.seed(requestThrough('lookups'), { leaseUntil: new Date(WORLD_NOW.getTime() + 10_000) })

    // Act
    const state = await resumeDeletion(w.deps, 'req-1')

    // Assert
    expect(state).toBeUndefined()
    expect(w.timeline.entries).toEqual(['requests.isClosed', 'requests.acquireLease'])
    expect(w.requests.peek('req-1')?.state).toBe('in_progress')
  })

  it('when the holder’s lease has run out, then the request is taken over and finished', async () => {
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('lookups'), { leaseUntil: new Date(WORLD_NOW.getTime() + 10_000) })
    w.clock.advance(10_001)

    const state = await resumeDeletion(w.deps, 'req-1')

    expect(state).toBe('completed')
    expect(w.requests.peek('req-1')?.state).toBe('completed')
  })

  it('when the request is taken, then it is leased for leaseMs from now', async () => {
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('lookups'))
    w.identity.hang()

    void resumeDeletion(w.deps, 'req-1')
    await Promise.resolve()

    expect(w.requests.leaseOf('req-1')).toEqual(new Date(WORLD_NOW.getTime() + WORLD_LEASE_MS))
  })

  it('when a run outlasts the lease it took but keeps checkpointing, then each checkpoint holds the request leaseMs further', async () => {
    // The steps up to the profile scrub take 25 s (Keycloak slow), the scrub's checkpoint renews the lease, and 10 s on
    // the first lease has run out: a sweeper looking now must find the request still held.
    let w: ReturnType<typeof world> | undefined
    const leases: { at: number; until: number }[] = []
    w = world([lockedUser()], {
      afterStep: (step) => {
        if (step === 'keycloak') w?.clock.advance(25_000)
        if (step === 'userRow') {
          w?.clock.advance(10_000)
          leases.push({ at: w?.clock.now().getTime() ?? 0, until: w?.requests.leaseOf('req-1')?.getTime() ?? 0 })
        }
      },
    })
    w.requests.seed(requestThrough('lock'))

    expect(await resumeDeletion(w.deps, 'req-1')).toBe('completed')

    expect(leases).toEqual([{ at: WORLD_NOW.getTime() + 35_000, until: WORLD_NOW.getTime() + 25_000 + WORLD_LEASE_MS }])
  })

  it('when a run stalls past its lease and another runner finishes the request meanwhile, then the stalled run writes nothing more and audits no second end', async () => {
    // The first run is held inside its Keycloak call past its lease; the sweeper takes the request
    // over and completes it. The stalled run then comes back: its checkpoint must not set the request
    // back to in progress, nor its finish write a second receipt and a second 'deletion.completed'.
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('lock'))
    const stalled = stallFirstErasure(w)
    const first = resumeDeletion(w.deps, 'req-1')
    await vi.waitFor(() => expect(stalled.reached).toBe(true))

    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await resumeDeletion(w.deps, 'req-1')).toBe('completed')
    const finished = w.requests.peek('req-1')
    const lost: string[] = []
    w.deps.onLeaseLost = (requestId) => lost.push(requestId)
    stalled.goOn()

    expect(await first).toBeUndefined()
    expect(lost).toEqual(['req-1'])
    expect(w.requests.peek('req-1')).toEqual(finished)
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.completed'])
  })

  it('when a run stalls past its lease and nobody takes the request meanwhile, then it carries on and completes', async () => {
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('lock'))
    const erase = w.identity.eraseAccount.bind(w.identity)
    w.identity.eraseAccount = (userId) => {
      w.clock.advance(WORLD_LEASE_MS + 1)
      return erase(userId)
    }

    expect(await resumeDeletion(w.deps, 'req-1')).toBe('completed')

    expect(w.requests.peek('req-1')?.state).toBe('completed')
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.completed'])
  })

  it('when the pass is asked to stop (shutdown), then it takes up no further request: the open ones wait for another instance', async () => {
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('event', { state: 'in_progress' }))
    const stopping = new AbortController()
    stopping.abort()

    expect(await resumeOpenDeletions(w.deps, 200, stopping.signal)).toEqual({ resumed: 0, completed: 0, partial: 0, unlisted: 0 })
    expect(w.requests.isOpen('req-1')).toBe(true)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, completed: 1 })
  })

  it('when a delete call’s run stalls past its lease and the sweeper finishes the request, then the caller still hears SUCCESS and one end is audited', async () => {
    const w = world([activeUser()])
    const stalled = stallFirstErasure(w)
    const call = deleteUser(w.deps, { requestId: 'req-1', userId: USER_A, caller: { consumer: 'portal', userId: USER_A, roles: [] } })
    await vi.waitFor(() => expect(stalled.reached).toBe(true))
    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, completed: 1 })
    const finished = w.requests.peek('req-1')
    const lost: string[] = []
    w.deps.onLeaseLost = (requestId) => lost.push(requestId)

    stalled.goOn()

    expect(await call).toEqual({ response: 'SUCCESS' })
    expect(lost).toEqual(['req-1'])
    expect(w.requests.peek('req-1')).toEqual(finished)
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.accepted', 'deletion.completed'])
  })

  it('when a run that fails gives its request back, then only a lease still its own is given back', async () => {
    // The run stalled past its lease, another runner took the request, then the stalled run failed:
    // the taker's lease must stand.
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('lock'))
    const readContacts = w.tables.readContacts.bind(w.tables)
    let fail: (() => void) | undefined
    w.tables.readContacts = (userId) => {
      if (fail) return readContacts(userId)
      return new Promise((_resolve, reject) => {
        fail = () => reject(new DependencyUnavailableError('cassandra'))
      })
    }
    const first = resumeDeletion(w.deps, 'req-1')
    await vi.waitFor(() => expect(fail).toBeDefined())
    w.clock.advance(WORLD_LEASE_MS + 1)
    const takerUntil = new Date(w.clock.now().getTime() + WORLD_LEASE_MS)
    expect(await w.requests.acquireLease('req-1', w.clock.now(), takerUntil)).toBe(true)

    fail?.()

    await expect(first).rejects.toThrow(DependencyUnavailableError)
    expect(w.requests.leaseOf('req-1')).toEqual(takerUntil)
  })

  it('when the request id is unknown, then undefined is answered and nothing runs', async () => {
    const w = world([activeUser()])

    const state = await resumeDeletion(w.deps, 'no-such-request')

    expect(state).toBeUndefined()
    expect(w.timeline.writes()).toEqual(['requests.acquireLease'])
  })

  it('when the request is already completed, then its state is answered and no step runs', async () => {
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('event', { state: 'completed' }))

    const state = await resumeDeletion(w.deps, 'req-1')

    expect(state).toBe('completed')
    expect(w.users.calls).toEqual([])
    expect(w.identity.calls).toEqual([])
  })

  it('when a closed request (completed, audited, unlisted, its lease given back) is resumed by id, then its state is answered, nothing is written and its end is not audited again', async () => {
    const w = world([activeUser()])
    await deleteUser(w.deps, { requestId: 'req-1', userId: USER_A, caller: { consumer: 'portal', userId: USER_A, roles: [] } })
    w.timeline.clear()

    expect(await resumeDeletion(w.deps, 'req-1')).toBe('completed')

    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.accepted', 'deletion.completed'])
    expect(w.timeline.writes()).toEqual([])
  })

  it('when a finished request was unlisted after its record but its lease was not given back, then resuming it by id stores no second record and gives the lease back', async () => {
    const w = world([activeUser()])
    w.requests.failNext('releaseLease', new DependencyUnavailableError('cassandra'))
    await deleteUser(w.deps, { requestId: 'req-1', userId: USER_A, caller: { consumer: 'portal', userId: USER_A, roles: [] } })
    expect(w.requests.isOpen('req-1')).toBe(false)
    w.clock.advance(WORLD_LEASE_MS + 1)

    expect(await resumeDeletion(w.deps, 'req-1')).toBe('completed')

    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.accepted', 'deletion.completed'])
    expect(w.requests.leaseOf('req-1')?.getTime()).toBe(0)
  })
})

describe('resumeDeletion, a runner that died before the lock', () => {
  it('when the user is still active, then the user is locked, the listener told and every step run to completion', async () => {
    // Arrange
    const w = world([activeUser()])
    w.requests.seed(requestThrough(undefined))

    // Act
    const state = await resumeDeletion(w.deps, 'req-1')

    // Assert
    expect(state).toBe('completed')
    expect(w.users.snapshot(USER_A)).toMatchObject({ status: 2, isDeleted: true })
    expect(w.listener.deleted).toEqual([USER_A])
    expect(w.timeline.writes().slice(0, 5)).toEqual(['requests.acquireLease', 'users.markDeleted', 'listener.userDeleted', 'requests.recordSteps(lock)', 'identity.eraseAccount'])
    const request = w.requests.peek('req-1')
    expect(Object.keys(request?.steps ?? {})).toEqual(SUNBIRD_STEPS)
    expect(request?.steps.lock).toEqual({ status: 'done', action: 'locked', at: AT })
    expect(w.requests.isOpen('req-1')).toBe(false)
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.completed'])
  })

  it("when both code steps run, then the profile's contacts are read once and each step keeps their hashes", async () => {
    const w = world([activeUser(USER_A, { profile: { email: 'asha@example.org', phone: '9876543210' } })])
    w.requests.seed(requestThrough(undefined))
    let reads = 0
    const readContacts = w.tables.readContacts.bind(w.tables)
    w.tables.readContacts = (userId) => {
      reads++
      return readContacts(userId)
    }

    await resumeDeletion(w.deps, 'req-1')

    expect(reads).toBe(1)
    const steps = w.requests.peek('req-1')?.steps
    expect(steps?.otp?.hashes).toHaveLength(2)
    expect(steps?.rateLimit?.hashes).toEqual(steps?.otp?.hashes)
  })

  it('when the lock had been taken just before the crash, then it is not taken again and the steps still run', async () => {
    const w = world([lockedUser(USER_A, { lookups: 2 })])
    w.requests.seed(requestThrough(undefined))

    const state = await resumeDeletion(w.deps, 'req-1')

    expect(state).toBe('completed')
    expect(w.users.callCount('markDeleted')).toBe(0)
    expect(w.listener.deleted).toEqual([USER_A])
    expect(w.requests.peek('req-1')?.steps.lookups).toMatchObject({ status: 'done', count: 2 })
  })

  it('when the user has vanished, then the request is finished failed/not-found, audited, and nothing else runs', async () => {
    const w = world([])
    w.requests.seed(requestThrough(undefined))

    const state = await resumeDeletion(w.deps, 'req-1')

    expect(state).toBe('failed')
    expect(w.requests.peek('req-1')).toMatchObject({ state: 'failed', reason: 'not-found', steps: {} })
    expect(w.requests.isOpen('req-1')).toBe(false)
    expect(w.audit.records).toEqual([{ event: 'deletion.failed', requestId: 'req-1', userId: USER_A, requestedBy: USER_A, at: AT, detail: { reason: 'not-found' } }])
    expect(w.identity.calls).toEqual([])
    expect(w.listener.deleted).toEqual([])
  })

  it('when someone changes the row at the lock, then undefined is answered and no step is recorded', async () => {
    const w = world([activeUser()])
    w.requests.seed(requestThrough(undefined))
    w.users.beforeNextMarkDeleted(() => w.users.update(USER_A, { status: 0 }))

    const state = await resumeDeletion(w.deps, 'req-1')

    expect(state).toBeUndefined()
    expect(w.requests.peek('req-1')).toMatchObject({ state: 'accepted', steps: {} })
    expect(w.identity.calls).toEqual([])
  })
})

describe('resumeDeletion, a runner that died half-way', () => {
  it('when steps were completed before the crash, then they are not run again', async () => {
    // Arrange: the runner died after recording externalIdentities.
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('externalIdentities'))

    // Act
    const state = await resumeDeletion(w.deps, 'req-1')

    // Assert
    expect(state).toBe('completed')
    expect(w.users.callCount('markDeleted')).toBe(0)
    expect(w.identity.calls).toEqual([])
    expect(w.users.callCount('eraseLookups')).toBe(0)
    expect(w.users.callCount('eraseExternalIdentities')).toBe(0)
    expect(w.users.callCount('leaveOrganisations')).toBe(1)
    expect(w.users.callCount('scrubProfile')).toBe(1)
    expect(w.outbox.appends).toHaveLength(1)
    const steps = w.requests.peek('req-1')?.steps
    expect(steps?.lookups).toEqual(RECORDED.lookups)
    expect(steps?.organisations).toEqual({ status: 'done', action: 'marked-left', count: 1, at: AT })
  })

  it('when a step was skipped before the crash, then it is not run again', async () => {
    // Arrange: the runner recorded managedUsers as skipped (nobody managed), then died.
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('managedUsers'))

    // Act
    await resumeDeletion(w.deps, 'req-1')

    // Assert: managed users are read once, for the event only; the skipped outcome stays as recorded; the event's outcome goes with the finish.
    expect(w.timeline.writes().filter((entry) => entry.startsWith('requests.recordSteps'))).toEqual([])
    expect(w.requests.peek('req-1')?.steps.event).toMatchObject({ status: 'done', action: 'queued' })
    expect(w.users.callCount('findManagedUserIds')).toBe(1)
    expect(w.requests.peek('req-1')?.steps.managedUsers).toEqual(RECORDED.managedUsers)
  })

  it('when the keycloak step is pending, then only it is run again and the request completes', async () => {
    // Arrange: everything done but Keycloak, which was unreachable.
    const w = world([lockedUser()])
    w.requests.seed(
      requestThrough('event', {
        state: 'partial',
        steps: { ...RECORDED, keycloak: { status: 'pending', action: 'unreachable', at: EARLIER } },
      }),
    )

    // Act
    const state = await resumeDeletion(w.deps, 'req-1')

    // Assert
    expect(state).toBe('completed')
    expect(w.identity.calls).toEqual([USER_A])
    expect(w.identity.hasAccount(USER_A)).toBe(false)
    expect(w.users.calls.filter((call) => !call.method.startsWith('find'))).toEqual([])
    expect(w.outbox.appends).toEqual([])
    expect(w.requests.peek('req-1')?.steps.keycloak).toEqual({ status: 'done', action: 'deleted', at: AT })
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.completed'])
  })

  it('when the keycloak step is pending and Keycloak is still down, then the request stays partial and open', async () => {
    const w = world([lockedUser()])
    w.identity.goDown()
    w.requests.seed(requestThrough('event', { state: 'partial', steps: { ...RECORDED, keycloak: { status: 'pending', action: 'unreachable', at: EARLIER } } }))

    const state = await resumeDeletion(w.deps, 'req-1')

    expect(state).toBe('partial')
    expect(w.requests.isOpen('req-1')).toBe(true)
    expect(w.audit.records).toEqual([
      { event: 'deletion.partial', requestId: 'req-1', userId: USER_A, requestedBy: USER_A, at: AT, detail: { pending: 'keycloak', receiptSha256: expect.stringMatching(/^[0-9a-f]{64}$/) } },
    ])
  })

  it('when a partial request is retried and the same step is owed again, then the audit trail and the receipt stay as the first settle left them', async () => {
    // Arrange: settled partial once (Keycloak down), with its receipt and its one audit record.
    const w = world([lockedUser()])
    w.identity.goDown()
    w.requests.seed(requestThrough('event', { state: 'in_progress', steps: { ...RECORDED, keycloak: { status: 'pending', action: 'unreachable', at: EARLIER } } }))
    expect(await resumeDeletion(w.deps, 'req-1')).toBe('partial')
    const receipt = w.requests.peek('req-1')?.receipt

    // Act: sweep passes while Keycloak stays down.
    const reports = []
    for (let pass = 0; pass < 3; pass++) {
      w.clock.advance(30_000)
      reports.push(await resumeOpenDeletions(w.deps))
    }

    // Assert: each pass retried the step and settled partial, gave the request back and left it open; nothing more audited, the receipt unchanged.
    expect(reports).toEqual(Array.from({ length: 3 }, () => ({ resumed: 1, completed: 0, partial: 1, unlisted: 0 })))
    expect(w.identity.calls).toEqual([USER_A, USER_A, USER_A, USER_A])
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.partial'])
    expect(receipt).toMatchObject({ state: 'partial', completedAt: AT })
    expect(w.requests.peek('req-1')?.receipt).toEqual(receipt)
    expect(w.requests.peek('req-1')?.state).toBe('partial')
    expect(w.requests.isOpen('req-1')).toBe(true)
    expect(w.requests.leaseOf('req-1')).toEqual(new Date(0))
  })

  it('when the audit record of a partial settle could not be written, then its receipt is not written either, and the next pass audits it', async () => {
    const w = world([lockedUser()])
    w.identity.goDown()
    w.requests.seed(requestThrough('event', { state: 'in_progress', steps: { ...RECORDED, keycloak: { status: 'pending', action: 'unreachable', at: EARLIER } } }))
    w.audit.failNext(new DependencyUnavailableError('cassandra'))

    await expect(resumeDeletion(w.deps, 'req-1')).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(w.requests.peek('req-1')?.receipt).toBeUndefined()
    w.clock.advance(60_000)
    expect(await resumeDeletion(w.deps, 'req-1')).toBe('partial')

    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.partial'])
    expect(w.requests.peek('req-1')?.receipt).toMatchObject({ state: 'partial' })
  })

  it('when a partial request is retried and Keycloak now refuses where it was unreachable, then the step’s new outcome is recorded and nothing more is audited', async () => {
    const w = world([lockedUser()])
    w.identity.goDown()
    w.requests.seed(requestThrough('event', { state: 'in_progress', steps: { ...RECORDED, keycloak: { status: 'pending', action: 'unreachable', at: EARLIER } } }))
    await resumeDeletion(w.deps, 'req-1')
    const receipt = w.requests.peek('req-1')?.receipt
    w.identity.comeBack().refuseCredentials()
    w.clock.advance(30_000)

    expect(await resumeDeletion(w.deps, 'req-1')).toBe('partial')

    // Owed for want of Keycloak on both runs: the second in a row (owed-retry.ts).
    expect(w.requests.peek('req-1')?.steps.keycloak).toEqual({ status: 'pending', action: 'refused', at: new Date(WORLD_NOW.getTime() + 30_000).toISOString(), owedRuns: 2 })
    expect(w.requests.peek('req-1')?.receipt).toEqual(receipt)
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.partial'])
  })

  it('when a partial request is retried and one owed step is done but another is still owed, then it is audited again with what it still owes and gets a new receipt', async () => {
    // Arrange: Keycloak and the search engine both down: two steps owed.
    const w = world([lockedUser()])
    w.identity.goDown()
    w.search.down = true
    const owed = { status: 'pending', action: 'unreachable', at: EARLIER } as const
    w.requests.seed(requestThrough('event', { state: 'in_progress', steps: { ...RECORDED, keycloak: owed, searchUser: owed } }))
    expect(await resumeDeletion(w.deps, 'req-1')).toBe('partial')
    w.search.down = false
    w.clock.advance(30_000)

    // Act
    expect(await resumeDeletion(w.deps, 'req-1')).toBe('partial')

    // Assert
    const later = new Date(WORLD_NOW.getTime() + 30_000).toISOString()
    expect(w.audit.records.map((record) => [record.event, record.detail, record.at])).toEqual([
      ['deletion.partial', { pending: 'keycloak,searchUser', receiptSha256: expect.stringMatching(/^[0-9a-f]{64}$/) }, AT],
      ['deletion.partial', { pending: 'keycloak', receiptSha256: expect.stringMatching(/^[0-9a-f]{64}$/) }, later],
    ])
    expect(w.requests.peek('req-1')?.receipt).toMatchObject({ state: 'partial', completedAt: later })
  })

  it('when a partial request that was retried with nothing done is finally done, then it is audited completed once, with a new receipt', async () => {
    const w = world([lockedUser()])
    w.identity.goDown()
    w.requests.seed(requestThrough('event', { state: 'in_progress', steps: { ...RECORDED, keycloak: { status: 'pending', action: 'unreachable', at: EARLIER } } }))
    await resumeDeletion(w.deps, 'req-1')
    w.clock.advance(30_000)
    await resumeOpenDeletions(w.deps)
    w.identity.comeBack()
    w.clock.advance(30_000)

    const report = await resumeOpenDeletions(w.deps)

    const finishedAt = new Date(WORLD_NOW.getTime() + 60_000).toISOString()
    expect(report).toEqual({ resumed: 1, completed: 1, partial: 0, unlisted: 0 })
    expect(w.audit.records.map((record) => [record.event, record.at])).toEqual([
      ['deletion.partial', AT],
      ['deletion.completed', finishedAt],
    ])
    expect(w.requests.peek('req-1')?.receipt).toMatchObject({ state: 'completed', completedAt: finishedAt })
    expect(w.requests.isOpen('req-1')).toBe(false)
  })

  it('when the runner died after its event was queued, then resuming queues it again under the same mid', async () => {
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('managedUsers'))
    w.deps.afterStep = (step) => {
      if (step === 'event') throw new Error('killed')
    }
    await expect(resumeDeletion(w.deps, 'req-1')).rejects.toThrow('killed')
    w.deps.afterStep = undefined
    w.clock.advance(WORLD_LEASE_MS + 1)

    expect(await resumeDeletion(w.deps, 'req-1')).toBe('completed')

    expect(w.outbox.appends).toHaveLength(2)
    expect(new Set(w.outbox.appends.map((append) => append.mid)).size).toBe(1)
    expect(w.outbox.size()).toBe(1)
  })

  it('when Cassandra fails during a resumed step, then the error propagates and the step stays unrecorded', async () => {
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('lookups'))
    w.users.failNext('eraseExternalIdentities', new DependencyUnavailableError('cassandra'))

    await expect(resumeDeletion(w.deps, 'req-1')).rejects.toBeInstanceOf(DependencyUnavailableError)

    expect(w.requests.peek('req-1')).toMatchObject({ state: 'in_progress' })
    expect(w.requests.peek('req-1')?.steps.externalIdentities).toBeUndefined()
  })
})

describe('resumeOpenDeletions', () => {
  it('when open requests are swept, then the report counts resumed, completed and partial, skipping held ones', async () => {
    // Arrange: Keycloak is down. A died after Keycloak was done; B still owes Keycloak; C is being run.
    const w = world([lockedUser(USER_A), lockedUser(USER_B), lockedUser(USER_C)])
    w.identity.goDown()
    w.requests.seed(requestThrough('lookups', { id: 'req-a', userId: USER_A }))
    w.requests.seed(requestThrough('event', { id: 'req-b', userId: USER_B, state: 'partial', steps: { ...RECORDED, keycloak: { status: 'pending', action: 'unreachable', at: EARLIER } } }))
    w.requests.seed(requestThrough('lock', { id: 'req-c', userId: USER_C }), { leaseUntil: new Date(WORLD_NOW.getTime() + 10_000) })
    w.requests.seed(requestThrough('event', { id: 'req-d', userId: USER_C, state: 'completed' }))

    // Act
    const report = await resumeOpenDeletions(w.deps)

    // Assert
    expect(report).toEqual({ resumed: 2, completed: 1, partial: 1, unlisted: 0 })
    expect(w.requests.peek('req-a')?.state).toBe('completed')
    expect(w.requests.peek('req-b')?.state).toBe('partial')
    expect(w.requests.peek('req-c')?.state).toBe('in_progress')
    expect(w.users.calls.filter((call) => 'userId' in call && call.userId === USER_C)).toEqual([])
  })

  it('when a finished request is still listed with its lease run out (its runner died before its record), then the sweep stores its end’s record and closes it, and changes nothing else', async () => {
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('event', { state: 'completed' }), { open: true, leaseUntil: new Date(WORLD_NOW.getTime() - 1) })
    const before = w.requests.peek('req-1')

    const report = await resumeOpenDeletions(w.deps)

    // Reported as unlisted: it was finished before this pass, so the pass neither resumed nor completed it.
    expect(report).toEqual({ resumed: 0, completed: 0, partial: 0, unlisted: 1 })
    expect(await w.requests.listOpen(10)).toEqual([])
    expect(w.requests.peek('req-1')).toEqual(before)
    expect(w.timeline.writes()).toEqual(['requests.acquireLease', 'audit.append(deletion.completed)', 'requests.unlist', 'requests.releaseLease'])
  })

  it('when a closed request’s entry comes back (a replica down past the tombstone window), then the sweep only unlists it again: no second record', async () => {
    const w = world([activeUser()])
    await deleteUser(w.deps, { requestId: 'req-1', userId: USER_A, caller: { consumer: 'portal', userId: USER_A, roles: [] } })
    const closed = w.requests.peek('req-1')
    if (!closed) throw new Error('no request')
    w.requests.seed(closed, { open: true })
    w.timeline.clear()

    const report = await resumeOpenDeletions(w.deps)

    expect(report).toEqual({ resumed: 0, completed: 0, partial: 0, unlisted: 1 })
    expect(w.requests.isOpen('req-1')).toBe(false)
    expect(w.requests.leaseOf('req-1')?.getTime()).toBe(0)
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.accepted', 'deletion.completed'])
    expect(w.timeline.writes()).toEqual(['requests.acquireLease', 'requests.unlist', 'requests.releaseLease'])
  })

  it('when a run dies after its finish before its record, then the sweeper stores the owed record exactly once, and not again when its entry later comes back', async () => {
    const w = world([activeUser()])
    w.audit.failNextOf('deletion.completed', new DependencyUnavailableError('cassandra'))
    await deleteUser(w.deps, { requestId: 'req-1', userId: USER_A, caller: { consumer: 'portal', userId: USER_A, roles: [] } })
    expect(w.requests.peek('req-1')?.state).toBe('completed')
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.accepted'])

    // Held until the dead run's lease runs out; then stored once, and the request closed.
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 0 })
    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 1 })
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 0 })
    const closed = w.requests.peek('req-1')
    if (!closed) throw new Error('no request')
    w.requests.seed(closed, { open: true })
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 1 })
    expect(await resumeDeletion(w.deps, 'req-1')).toBe('completed')

    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.accepted', 'deletion.completed'])
    expect(w.requests.isOpen('req-1')).toBe(false)
  })

  it('when a run’s finish lands but its answer is lost, then the run keeps its lease (it does not say closed) and the sweeper stores the record once it runs out', async () => {
    const w = world([activeUser()])
    const finish = w.requests.finish.bind(w.requests)
    w.requests.finish = async (...args) => {
      await finish(...args)
      if (args[1] === 'completed') throw new DependencyUnavailableError('cassandra')
    }
    // The erasure is done: the caller is answered, and the end's record is owed.
    expect(await deleteUser(w.deps, { requestId: 'req-1', userId: USER_A, caller: { consumer: 'portal', userId: USER_A, roles: [] } })).toEqual({ response: 'SUCCESS' })
    expect(w.requests.peek('req-1')?.state).toBe('completed')
    expect(w.requests.leaseOf('req-1')?.getTime()).toBeGreaterThan(0)
    w.requests.finish = finish

    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 1 })

    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.accepted', 'deletion.completed'])
    expect(w.requests.isOpen('req-1')).toBe(false)
  })

  it('when the live run of a listed request audits, unlists and gives back its lease between the sweeper’s isClosed read and its lease, then the sweeper stores no second record', async () => {
    // Arrange: finished, listed, its run's lease held (its record not stored yet).
    const w = world([lockedUser()])
    const heldUntil = new Date(WORLD_NOW.getTime() + WORLD_LEASE_MS)
    w.requests.seed(requestThrough('event', { state: 'completed' }), { open: true, leaseUntil: heldUntil })
    const isClosed = w.requests.isClosed.bind(w.requests)
    w.requests.isClosed = async (id) => {
      const closed = await isClosed(id)
      const request = w.requests.peek(id)
      const owed = request && owedEndRecord(request)
      if (owed) await w.audit.append(owed)
      await w.requests.unlist(id)
      await w.requests.releaseLease(id, heldUntil)
      return closed
    }

    // Act
    const report = await resumeOpenDeletions(w.deps)

    // Assert
    expect(report).toMatchObject({ unlisted: 1 })
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.completed'])
    expect(w.requests.leaseOf('req-1')?.getTime()).toBe(0)
  })

  it('when the sweeper stalls longer than half the lease between its isClosed read and its lease, then it does not trust that read: a request ended again meanwhile (its record owed) gets its record', async () => {
    // Arrange: closed, its entry back; while the sweeper stalls, a cancel reopens it and a run ends it failed, dying before its record.
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('event', { state: 'completed' }), { open: true })
    const isClosed = w.requests.isClosed.bind(w.requests)
    let stalled = false
    w.requests.isClosed = async (id) => {
      const closed = await isClosed(id)
      if (stalled) return closed
      stalled = true
      const died = new Date(w.clock.now().getTime() + WORLD_LEASE_MS / 4)
      w.requests.seed(requestThrough('event', { state: 'failed', reason: 'superseded' }), { open: true, leaseUntil: died })
      w.clock.advance(WORLD_LEASE_MS / 2 + 1)
      return closed
    }

    // Act
    await resumeOpenDeletions(w.deps)

    // Assert
    expect(stalled).toBe(true)
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.failed'])
    expect(w.requests.isOpen('req-1')).toBe(false)
  })

  it('when the sweeper cannot read the user’s hold of an owed request, then the lease is kept (not given back as if closed) and the next pass stores the record', async () => {
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('event', { state: 'completed' }), { open: true, leaseUntil: new Date(WORLD_NOW.getTime() - 1) })
    w.states.failNext('get', new DependencyUnavailableError('cassandra'))

    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 0 })
    expect(w.requests.leaseOf('req-1')?.getTime()).toBeGreaterThan(0)
    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ unlisted: 1 })

    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.completed'])
  })

  it('when an entry whose create never applied kept its request (its caller may have been answered accepted), then once older than twice the time a create is settled in the request is created from it and carried out: the user deleted, accepted and completed audited, told for the log', async () => {
    // Arrange
    const w = world([activeUser(USER_A), activeUser(USER_B)])
    const created: string[] = []
    const dropped: string[] = []
    w.deps.onCreatedFromEntry = (requestId) => created.push(requestId)
    w.deps.onNeverCreated = (requestId) => dropped.push(requestId)
    const settled = CREATE_SETTLED_WITHIN_MS * 2
    const lost = requestThrough(undefined, { id: 'never-created', createdAt: new Date(WORLD_NOW.getTime() - settled), updatedAt: new Date(WORLD_NOW.getTime() - settled) })
    const young = requestThrough(undefined, { id: 'still-settling', userId: USER_B, createdAt: new Date(WORLD_NOW.getTime() - settled + 1), updatedAt: new Date(WORLD_NOW.getTime() - settled + 1) })
    w.requests.listWithoutRequest({ id: lost.id, userId: USER_A, createdAt: lost.createdAt }, lost)
    w.requests.listWithoutRequest({ id: young.id, userId: USER_B, createdAt: young.createdAt }, young)

    // Act
    const report = await resumeOpenDeletions(w.deps)

    // Assert
    expect(report).toEqual({ resumed: 1, completed: 1, partial: 0, unlisted: 0 })
    expect(w.requests.peek('never-created')).toMatchObject({ state: 'completed', requestedBy: USER_A, createdAt: lost.createdAt })
    expect(w.users.snapshot(USER_A)).toMatchObject({ status: 2, isDeleted: true })
    expect(w.audit.eventsOf('never-created')).toEqual(['deletion.accepted', 'deletion.completed'])
    expect(created).toEqual(['never-created'])
    expect(dropped).toEqual([])
    expect(w.requests.peek('still-settling')).toBeUndefined()
    expect(w.users.snapshot(USER_B)).toMatchObject({ isDeleted: false })
  })

  it('when the request is created from its entry but taking it fails (Cassandra unreachable), then it stays open for the next pass, which carries it out without creating it again', async () => {
    const w = world([activeUser(USER_A)])
    const lost = requestThrough(undefined, { id: 'never-created', createdAt: new Date(WORLD_NOW.getTime() - CREATE_SETTLED_WITHIN_MS * 2) })
    w.requests.listWithoutRequest({ id: lost.id, userId: USER_A, createdAt: lost.createdAt }, lost)
    // The entry's own resume reads it first; the read of the request just created fails.
    const isClosed = w.requests.isClosed.bind(w.requests)
    let reads = 0
    w.requests.isClosed = async (id) => {
      if (++reads === 2) throw new DependencyUnavailableError('cassandra')
      return isClosed(id)
    }

    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 0 })
    expect(w.requests.peek('never-created')?.state).toBe('accepted')
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, completed: 1 })

    expect(w.audit.eventsOf('never-created')).toEqual(['deletion.accepted', 'deletion.completed'])
    expect(w.timeline.entries.filter((entry) => entry === 'requests.createFromEntry')).toHaveLength(1)
  })

  it('when another deletion took the user before the request is created from its entry, then that request ends superseded and the user is not touched again', async () => {
    const w = world([lockedUser(USER_A)])
    const lost = requestThrough(undefined, { id: 'never-created', createdAt: new Date(WORLD_NOW.getTime() - CREATE_SETTLED_WITHIN_MS * 2) })
    w.requests.listWithoutRequest({ id: lost.id, userId: USER_A, createdAt: lost.createdAt }, lost)
    w.requests.seed(requestThrough('event', { id: 'the-winner', state: 'completed' }), { open: false })

    await resumeOpenDeletions(w.deps)

    expect(w.requests.peek('never-created')).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(w.audit.eventsOf('never-created')).toEqual(['deletion.accepted', 'deletion.failed'])
  })

  it('when an entry names a request that never came to exist and kept nothing of it (a batch item’s, or an earlier version’s), then it is unlisted once older than twice the time a create is settled in, and kept before; each one dropped is told by its request id, for the log', async () => {
    const w = world([])
    const dropped: string[] = []
    w.deps.onNeverCreated = (requestId) => dropped.push(requestId)
    const settled = CREATE_SETTLED_WITHIN_MS * 2
    w.requests.listWithoutRequest({ id: 'never-created', userId: USER_A, createdAt: new Date(WORLD_NOW.getTime() - settled) })
    w.requests.listWithoutRequest({ id: 'still-settling', userId: USER_B, createdAt: new Date(WORLD_NOW.getTime() - settled + 1) })

    const report = await resumeOpenDeletions(w.deps)

    expect(report).toEqual({ resumed: 0, completed: 0, partial: 0, unlisted: 0 })
    expect((await w.requests.listOpen(10)).map((entry) => entry.id)).toEqual(['still-settling'])
    expect(dropped).toEqual(['never-created'])
  })

  it('when dropping a never-created entry fails (Cassandra unreachable), then nothing is told: the entry stays for the next pass', async () => {
    const w = world([])
    const dropped: string[] = []
    w.deps.onNeverCreated = (requestId) => dropped.push(requestId)
    w.requests.listWithoutRequest({ id: 'never-created', userId: USER_A, createdAt: new Date(WORLD_NOW.getTime() - CREATE_SETTLED_WITHIN_MS * 2) })
    w.requests.failNext('unlist', new DependencyUnavailableError('cassandra'))

    await resumeOpenDeletions(w.deps)

    expect(dropped).toEqual([])
    expect((await w.requests.listOpen(10)).map((entry) => entry.id)).toEqual(['never-created'])
  })

  it('when nothing is open, then the report is all zero', async () => {
    const w = world([])

    const report = await resumeOpenDeletions(w.deps)

    expect(report).toEqual({ resumed: 0, completed: 0, partial: 0, unlisted: 0 })
  })

  it('when a limit is given, then no more than that many requests are looked at', async () => {
    const w = world([lockedUser(USER_A), lockedUser(USER_B)])
    w.requests.seed(requestThrough('lookups', { id: 'req-a', userId: USER_A }))
    w.requests.seed(requestThrough('lookups', { id: 'req-b', userId: USER_B }))

    const report = await resumeOpenDeletions(w.deps, 1)

    expect(report).toEqual({ resumed: 1, completed: 1, partial: 0, unlisted: 0 })
    expect(w.requests.all().filter((request) => request.state === 'completed')).toHaveLength(1)
  })
})

describe('afterStep', () => {
  it('when deleteUser runs, then afterStep is told of the acceptance once it is audited, then of each step once it has run, in order; outcomes are durable at the checkpoints', async () => {
    // Arrange: at each call, look at what is already durable.
    const seen: [Hook, StepName[]][] = []
    const w = world([activeUser(), activeUser(CHILD, { managedBy: USER_A })], {
      afterStep: (hook) => {
        const request = w.requests.peek('req-1')
        const accepted = request !== undefined && w.audit.eventsOf('req-1').includes('deletion.accepted')
        seen.push([hook, accepted ? (Object.keys(request.steps) as StepName[]) : []])
      },
    })

    // Act
    await deleteUser(w.deps, { requestId: 'req-1', userId: USER_A, caller: { consumer: 'portal', userId: USER_A, roles: [] } })

    // Assert: the lock at once; everything before the profile scrub before it runs; up to the managed users once they ran (they name a child).
    expect(seen.map(([hook]) => hook)).toEqual(['accept', ...SUNBIRD_STEPS])
    const durableAt = (hook: Hook) => seen.find(([seenHook]) => seenHook === hook)?.[1]
    const upTo = (step: StepName) => SUNBIRD_STEPS.slice(0, SUNBIRD_STEPS.indexOf(step) + 1)
    expect(durableAt('accept')).toEqual([])
    expect(durableAt('lock')).toEqual(['lock'])
    expect(durableAt('extraTargets')).toEqual(['lock'])
    expect(durableAt('userRow')).toEqual(upTo('extraTargets'))
    expect(durableAt('managedUsers')).toEqual(upTo('managedUsers'))
    expect(durableAt('event')).toEqual(upTo('managedUsers'))
    expect(Object.keys(w.requests.peek('req-1')?.steps ?? {})).toEqual(SUNBIRD_STEPS)
  })

  it('when the runner dies right after acceptance, then the sweeper locks the user and finishes the request', async () => {
    // Arrange
    const w = world([activeUser()], {
      afterStep: (hook) => {
        if (hook === 'accept') throw new Error('killed')
      },
    })
    await expect(deleteUser(w.deps, { requestId: 'req-1', userId: USER_A, caller: { consumer: 'portal', userId: USER_A, roles: [] } })).rejects.toThrow('killed')
    expect(w.users.snapshot(USER_A)).toMatchObject({ status: 1, isDeleted: false })
    w.clock.advance(WORLD_LEASE_MS + 1)
    w.deps.afterStep = undefined

    // Act
    const report = await resumeOpenDeletions(w.deps)

    // Assert
    expect(report).toEqual({ resumed: 1, completed: 1, partial: 0, unlisted: 0 })
    expect(w.users.snapshot(USER_A)).toMatchObject({ status: 2, isDeleted: true })
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.accepted', 'deletion.completed'])
  })

  it('when a request that died before the lock is resumed, then afterStep is called for the lock and every later step, in order', async () => {
    const seen: Hook[] = []
    const w = world([activeUser()], { afterStep: (step) => seen.push(step) })
    w.requests.seed(requestThrough(undefined))

    await resumeDeletion(w.deps, 'req-1')

    expect(seen).toEqual(SUNBIRD_STEPS)
  })

  it('when a half-done request is resumed, then afterStep is called only for the steps that run', async () => {
    const seen: Hook[] = []
    const w = world([lockedUser()], { afterStep: (step) => seen.push(step) })
    w.requests.seed(requestThrough('organisations'))

    await resumeDeletion(w.deps, 'req-1')

    expect(seen).toEqual(STEPS.slice(STEPS.indexOf('organisations') + 1).filter((step) => step !== 'roles' && step !== 'consent'))
  })

  it('when the runner dies after a checkpoint, then resuming runs only the steps after it', async () => {
    // Arrange: die once, right after the managed users' outcome (naming a child) is recorded.
    let crashed = false
    const w = world([activeUser(USER_A, { lookups: 3 }), activeUser(CHILD, { managedBy: USER_A })], {
      afterStep: (step) => {
        if (step === 'managedUsers' && !crashed) {
          crashed = true
          throw new Error('killed')
        }
      },
    })
    await expect(deleteUser(w.deps, { requestId: 'req-1', userId: USER_A, caller: { consumer: 'portal', userId: USER_A, roles: [] } })).rejects.toThrow('killed')
    w.timeline.clear()

    // Act
    const state = await resumeDeletion(w.deps, 'req-1')

    // Assert
    expect(state).toBe('completed')
    expect(w.users.callCount('eraseLookups', USER_A)).toBe(1)
    expect(w.users.callCount('scrubProfile', USER_A)).toBe(1)
    expect(w.users.callCount('scrubProfile', CHILD)).toBe(1)
    expect(w.timeline.writes().filter((entry) => !entry.startsWith('audit') && !entry.startsWith('requests.acquireLease'))).toEqual([
      'outbox.append',
      'requests.finish(completed)',
      'requests.unlist',
      'requests.releaseLease',
    ])
    expect(w.requests.peek('req-1')?.steps.lookups).toMatchObject({ count: 3 })
  })

  it('when the runner dies between checkpoints, then resuming runs again the steps since the last one, and nothing is left', async () => {
    // Arrange: die once, right after lookups ran (its outcome not written yet: the next checkpoint is before the profile scrub).
    let crashed = false
    const w = world([activeUser(USER_A, { lookups: 3 })], {
      afterStep: (step) => {
        if (step === 'lookups' && !crashed) {
          crashed = true
          throw new Error('killed')
        }
      },
    })
    await expect(deleteUser(w.deps, { requestId: 'req-1', userId: USER_A, caller: { consumer: 'portal', userId: USER_A, roles: [] } })).rejects.toThrow('killed')
    expect(Object.keys(w.requests.peek('req-1')?.steps ?? {})).toEqual(['lock'])

    // Act
    const state = await resumeDeletion(w.deps, 'req-1')

    // Assert: the lookups step ran again and found them gone; every step is recorded once the request completes.
    expect(state).toBe('completed')
    expect(w.users.callCount('eraseLookups')).toBe(2)
    expect(w.users.remainingLookups(USER_A)).toBe(0)
    expect(Object.keys(w.requests.peek('req-1')?.steps ?? {})).toEqual(SUNBIRD_STEPS)
  })
})

describe('failures the sweeper must survive', () => {
  it('when Keycloak refuses us (not merely unreachable), then the Cassandra side completes and the request stays partial with the step owed', async () => {
    const w = world([activeUser()])
    const errors: StepName[] = []
    w.identity.refuseCredentials()
    w.deps.onStepError = (step) => void errors.push(step)
    w.requests.seed(requestThrough(undefined))

    const state = await resumeDeletion(w.deps, 'req-1')

    expect(state).toBe('partial')
    expect(w.requests.peek('req-1')?.steps.keycloak).toMatchObject({ status: 'pending', action: 'refused' })
    expect(w.requests.peek('req-1')?.steps.userRow).toMatchObject({ status: 'done', action: 'scrubbed' })
    expect(errors).toEqual(['keycloak'])
    expect(w.requests.isOpen('req-1')).toBe(true)
  })

  it('when a request that died before its lock finds the user locked by another request, then it is superseded and runs nothing', async () => {
    const w = world([lockedUser()])
    w.requests.seed(requestThrough('event', { id: 'req-winner', state: 'completed' }))
    w.requests.seed(requestThrough(undefined, { id: 'req-loser' }))

    const state = await resumeDeletion(w.deps, 'req-loser')

    expect(state).toBe('failed')
    expect(w.requests.peek('req-loser')).toMatchObject({ state: 'failed', reason: 'superseded', steps: {} })
    expect(w.identity.calls).toEqual([])
    expect(w.outbox.appends).toEqual([])
    expect(w.audit.records.map((r) => r.event)).toEqual(['deletion.failed'])
  })

  it('when two requests without a mode both lost their lock’s answer and are resumed, then only the older one takes the deleted row as its lock and the newer is superseded', async () => {
    const w = world([lockedUser()])
    w.requests.seed(requestThrough(undefined, { id: 'req-older', createdAt: new Date(WORLD_NOW.getTime() - 120_000) }))
    w.requests.seed(requestThrough(undefined, { id: 'req-newer', createdAt: new Date(WORLD_NOW.getTime() - 60_000) }))

    // The newer one is resumed first (another instance's sweep): it waits for the older one.
    expect(await resumeDeletion(w.deps, 'req-newer')).toBeUndefined()
    expect(w.requests.peek('req-newer')).toMatchObject({ state: 'accepted', steps: {} })

    expect(await resumeDeletion(w.deps, 'req-older')).toBe('completed')
    // Its lease, kept while it waited, runs out before a later sweep takes it up again.
    w.clock.advance(w.deps.leaseMs + 1)
    expect(await resumeDeletion(w.deps, 'req-newer')).toBe('failed')

    expect(w.requests.peek('req-newer')).toMatchObject({ state: 'failed', reason: 'superseded', steps: {} })
    expect(w.audit.records.filter((r) => r.event === 'deletion.completed').map((r) => r.requestId)).toEqual(['req-older'])
    expect(w.outbox.appends).toHaveLength(1)
  })

  it('when two requests without a mode created in the same millisecond both lost their lock’s answer, then the id decides which one the lock is', async () => {
    const w = world([lockedUser()])
    w.requests.seed(requestThrough(undefined, { id: 'req-b' }))
    w.requests.seed(requestThrough(undefined, { id: 'req-a' }))

    expect(await resumeDeletion(w.deps, 'req-b')).toBeUndefined()
    expect(await resumeDeletion(w.deps, 'req-a')).toBe('completed')
  })

  it('when one open request throws during a sweep, then the others are still resumed and the failing one is given back', async () => {
    const w = world([activeUser(USER_A), activeUser(USER_B)])
    w.requests.seed(requestThrough(undefined, { id: 'req-a', userId: USER_A, requestedBy: USER_A }))
    w.requests.seed(requestThrough(undefined, { id: 'req-b', userId: USER_B, requestedBy: USER_B }))
    const failing = w.deps.users.findUser.bind(w.deps.users)
    let thrown = false
    w.deps.users.findUser = async (id) => {
      if (id === USER_A && !thrown) {
        thrown = true
        throw new DependencyUnavailableError('cassandra')
      }
      return failing(id)
    }

    const report = await resumeOpenDeletions(w.deps)

    expect(report).toMatchObject({ resumed: 1, completed: 1 })
    expect(w.requests.peek('req-b')?.state).toBe('completed')
    expect(w.requests.peek('req-a')?.state).toBe('accepted')
    expect(await resumeDeletion(w.deps, 'req-a')).toBe('completed')
  })
})

describe('resumeDeletion, a request without a mode that died before its lock, when another deletion took the user meanwhile', () => {
  const self = { consumer: 'portal', userId: USER_A, roles: [] }
  const pendingLock = (plan: 'soft' | 'hard'): StepOutcome => ({ status: 'pending', action: 'locking', at: EARLIER, plan, restore: { status: 1, isDeleted: false } })

  it('when a soft deletion holds the user and locked the row but could not record its lock yet, then the earlier request is superseded: nothing erased, no event, and the soft deletion finishes and can be cancelled', async () => {
    // Arrange: A (no mode) loses its lock's answer (the lock did not apply); B (soft) then takes the
    // hold and locks the row, and recording its lock fails: its lock outcome stays pending.
    const w = world([activeUser()])
    w.users.scriptMarkDeleted({ kind: 'unknown' })
    expect(await deleteUser(w.deps, { requestId: 'req-a', userId: USER_A, caller: self })).toEqual({ response: 'SUCCESS' })
    w.users.beforeNextMarkDeleted(() => w.requests.failNext('recordSteps', new DependencyUnavailableError('cassandra')))
    expect(await deleteAccount(w.deps, { requestId: 'req-b', userId: USER_A, caller: self, mode: 'soft' })).toMatchObject({ kind: 'deleted', mode: 'soft' })
    expect(w.requests.peek('req-a')).toMatchObject({ state: 'accepted', steps: {} })
    expect(w.requests.peek('req-b')?.steps.lock).toMatchObject({ status: 'pending' })
    expect(w.states.peek(USER_A)).toEqual({ mode: 'soft', requestId: 'req-b' })

    // Act: the sweeper comes to A first.
    const report = await resumeOpenDeletions(w.deps)

    // Assert: A lost to B; B ran its soft plan alone.
    expect(report).toEqual({ resumed: 2, completed: 1, partial: 0, unlisted: 0 })
    expect(w.requests.peek('req-a')).toMatchObject({ state: 'failed', reason: 'superseded', steps: {} })
    expect(w.audit.eventsOf('req-a')).toEqual(['deletion.accepted', 'deletion.failed'])
    expect(w.requests.peek('req-b')).toMatchObject({ state: 'completed', steps: { lock: { status: 'done', plan: 'soft' } } })
    expect(w.users.callCount('scrubProfile')).toBe(0)
    expect(w.users.callCount('eraseLookups')).toBe(0)
    expect(w.identity.hasAccount(USER_A)).toBe(true)
    expect(w.identity.isDisabled(USER_A)).toBe(true)
    expect(w.outbox.appends).toEqual([])
    await cancelDeletion(w.deps, { userId: USER_A, caller: self })
    expect(w.users.snapshot(USER_A)).toMatchObject({ status: 1, isDeleted: false })
    expect(w.identity.isDisabled(USER_A)).toBe(false)
  })

  it('when a hard deletion locks the row between the resumed request’s read and its own lock, then the resumed request is superseded and runs nothing', async () => {
    // Arrange: B (hard) took the hold and recorded its lock pending; its compare-and-set lands just before A's.
    const w = world([activeUser()])
    w.requests.seed(requestThrough(undefined, { id: 'req-a' }))
    w.requests.seed(requestThrough(undefined, { id: 'req-b', plan: 'hard', steps: { lock: pendingLock('hard') } }), { leaseUntil: new Date(WORLD_NOW.getTime() + 10_000) })
    w.states.set(USER_A, { mode: 'hard', requestId: 'req-b' })
    w.users.beforeNextMarkDeleted(() => w.users.update(USER_A, { status: 2, isDeleted: true }))

    // Act
    const state = await resumeDeletion(w.deps, 'req-a')

    // Assert
    expect(state).toBe('failed')
    expect(w.requests.peek('req-a')).toMatchObject({ state: 'failed', reason: 'superseded', steps: {} })
    expect(w.listener.deleted).toEqual([])
    expect(w.identity.calls).toEqual([])
    expect(w.outbox.appends).toEqual([])
  })

  it('when no hold names anyone but another request recorded its lock pending and is still open, then that request is counted as the owner', async () => {
    const w = world([lockedUser()])
    w.requests.seed(requestThrough(undefined, { id: 'req-a' }))
    w.requests.seed(requestThrough(undefined, { id: 'req-b', plan: 'hard', steps: { lock: pendingLock('hard') } }), { leaseUntil: new Date(WORLD_NOW.getTime() + 10_000) })

    expect(await resumeDeletion(w.deps, 'req-a')).toBe('failed')

    expect(w.requests.peek('req-a')).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(w.identity.calls).toEqual([])
    expect(w.outbox.appends).toEqual([])
  })

  it('when the only other requests failed with their lock pending (they lost the row) or were cancelled, and no hold names anyone, then the row is this request’s own lock and it completes', async () => {
    // A's lock applied but its answer was lost; B (soft) had recorded its lock pending and lost the
    // row to it; C was a soft deletion cancelled before A was asked for.
    const w = world([lockedUser()])
    w.requests.seed(requestThrough(undefined, { id: 'req-a' }))
    w.requests.seed(requestThrough(undefined, { id: 'req-b', plan: 'soft', state: 'failed', reason: 'superseded', steps: { lock: pendingLock('soft') } }))
    w.requests.seed(requestThrough(undefined, { id: 'req-c', plan: 'soft', state: 'cancelled', steps: { lock: { status: 'done', action: 'restored', at: EARLIER, plan: 'soft' } } }))

    expect(await resumeDeletion(w.deps, 'req-a')).toBe('completed')

    expect(w.users.callCount('markDeleted')).toBe(0)
    expect(w.requests.peek('req-a')?.steps.lock).toEqual({ status: 'done', action: 'locked', at: AT })
    expect(w.outbox.appends).toHaveLength(1)
  })

  it('when the user was deleted long before, put back since (a restore), and this request’s lock answer was lost, then the old deletion is not taken for the owner: this request completes', async () => {
    // req-old hard-deleted the user two days ago and still holds it; the row was restored since, so
    // req-new was accepted, locked the row, and lost the lock's answer.
    const w = world([lockedUser()])
    const twoDaysAgo = new Date(WORLD_NOW.getTime() - 2 * 86_400_000)
    w.requests.seed(requestThrough('event', { id: 'req-old', plan: 'hard', state: 'completed', createdAt: twoDaysAgo, updatedAt: twoDaysAgo }))
    w.states.set(USER_A, { mode: 'hard', requestId: 'req-old' })
    w.requests.seed(requestThrough(undefined, { id: 'req-new' }))

    expect(await resumeDeletion(w.deps, 'req-new')).toBe('completed')

    expect(w.requests.peek('req-new')?.steps.lock).toEqual({ status: 'done', action: 'locked', at: AT })
    expect(w.audit.records.filter((r) => r.event === 'deletion.completed').map((r) => r.requestId)).toEqual(['req-new'])
    expect(w.outbox.appends).toHaveLength(1)
  })

  it('when another deletion ended only moments before this request was accepted, then it is still taken for the owner (the margin covers the instances’ clocks)', async () => {
    const w = world([lockedUser()])
    const justBefore = new Date(WORLD_NOW.getTime() - 60_000 - 5_000)
    w.requests.seed(requestThrough('event', { id: 'req-old', state: 'completed', createdAt: justBefore, updatedAt: justBefore }))
    w.requests.seed(requestThrough(undefined, { id: 'req-new' }))

    expect(await resumeDeletion(w.deps, 'req-new')).toBe('failed')

    expect(w.requests.peek('req-new')).toMatchObject({ state: 'failed', reason: 'superseded' })
  })

  it('when a cancel puts the row back between the read that found it deleted and the check of who locked it, then nothing is decided and the next pass locks the user', async () => {
    // C, a soft deletion, is being cancelled: its row is back and its hold cleared once the claims are read.
    const w = world([lockedUser()])
    w.requests.seed(requestThrough(undefined, { id: 'req-a' }))
    w.requests.seed(requestThrough(undefined, { id: 'req-c', plan: 'soft', state: 'cancelled', steps: { lock: { status: 'done', action: 'restored', at: EARLIER, plan: 'soft' } } }))
    const findByUser = w.requests.findByUser.bind(w.requests)
    w.requests.findByUser = async (userId, limit) => {
      w.users.update(USER_A, { status: 1, isDeleted: false })
      return findByUser(userId, limit)
    }

    expect(await resumeDeletion(w.deps, 'req-a')).toBeUndefined()
    expect(w.requests.peek('req-a')).toMatchObject({ state: 'accepted', steps: {} })
    expect(w.identity.calls).toEqual([])

    w.clock.advance(WORLD_LEASE_MS + 1)
    expect(await resumeDeletion(w.deps, 'req-a')).toBe('completed')
    expect(w.users.callCount('markDeleted')).toBe(1)
  })
})
