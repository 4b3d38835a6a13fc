import { afterEach, describe, expect, it, vi } from 'vitest'
import { InMemoryBatchJobs } from '../../test/support/fakes/in-memory-batch-jobs.js'
import { InMemoryUserDeletionStates } from '../../test/support/fakes/in-memory-user-deletion-states.js'
import { InMemoryUserStore } from '../../test/support/fakes/in-memory-user-store.js'
import { ManualClock, Timeline } from '../../test/support/fakes/timeline.js'
import { deferred } from '../../test/support/wait-until.js'
import { DeletedUserGate } from '../auth/deleted-user-gate.js'
import { batchRequestId, readBatchStatus, submitBatch } from './batch-job.js'
import type { ErrorClassifier } from './batch-attempt.js'
import { BatchRunner, type BatchRunnerSettings } from './batch-runner.js'
import type { Caller } from './caller.js'
import type { DeletionInput, DeletionOutcome } from './delete-account.js'
import type { DeletionRequest, RequestState } from './deletion-request.js'
import { CallerLockedOutError, DeletionWithdrawnError, DependencyUnavailableError, RequestAlreadyOpenedError, RoleRestrictedError, UserAlreadyDeletedError, UserNotFoundError } from './errors.js'
import { FencePassedError } from './lease.js'
import { OWN_ACCOUNT_DWELL_MS } from './own-account-dwell.js'
import type { BatchItem, Clock } from './ports.js'
import { lockOutStanding } from './user-condition.js'

/** A whole second, so the pace budget's seconds read plainly. */
const START = new Date(Date.UTC(2024, 4, 20, 10, 8, 56, 0))
const LEASE_MS = 30_000
const COOL_OFF_MS = 10_000
const JOB_ID = 'job-1'
const CREATOR = 'creator-1'
const CALLER: Caller = { consumer: 'consumer-1', userId: CREATOR, roles: [{ role: 'ORG_ADMIN', organisationIds: ['org-1'] }] }
const [U1, U2, U3, U4, U5] = ['user-1', 'user-2', 'user-3', 'user-4', 'user-5'] as const

/** The Sunbird codes the service answers with, as compose.ts classifies: a dependency in trouble is a fault, the rest is the user's own answer. */
const UNAVAILABLE = 'UOS_USRDLT0064'
const NOT_FOUND = 'UOS_USRDLT0013'
const ROLE_RESTRICTED = 'UOS_USRDLT0083'
const ALREADY_DELETED = 'UOS_USRDLT0008'
/** What a single delete by a locked-out person answers (401). */
const LOCKED_OUT = 'UOS_0070'
const classify: ErrorClassifier = (err) => {
  if (err instanceof CallerLockedOutError) return { code: LOCKED_OUT, fault: false }
  if (err instanceof DependencyUnavailableError) return { code: UNAVAILABLE, fault: true }
  if (err instanceof UserNotFoundError) return { code: NOT_FOUND, fault: false }
  if (err instanceof RoleRestrictedError) return { code: ROLE_RESTRICTED, fault: false }
  if (err instanceof UserAlreadyDeletedError) return { code: ALREADY_DELETED, fault: false }
  return { code: 'UOS_0069', fault: true }
}

const SETTINGS: BatchRunnerSettings = {
  maxDeletionsPerSecond: 0,
  concurrency: 2,
  leaseMs: LEASE_MS,
  // No timer: each test runs the passes itself.
  pollIntervalMs: 0,
  maxAttempts: 3,
  breaker: { windowMs: 60_000, minAttempts: 2, failureRate: 0.5, coolOffMs: COOL_OFF_MS },
}

function requestOf(id: string, userId: string, state: RequestState, at: Date): DeletionRequest {
  return { id, userId, requestedBy: CREATOR, state, plan: 'hard', steps: {}, target: { rootOrgId: 'org-1', managedBy: null, organisationIds: ['org-1'] }, createdAt: at, updatedAt: at }
}

/**
 * The deletion engine as the runner calls it: each deletion opens one request under its id and
 * deletes the user once (a second deletion of the user is refused as already deleted; a second
 * request under a derived id that is taken, as opened already); refusals and a dependency in
 * trouble are thrown; the caller's `mayBegin` is asked right before the request is created, and
 * false withdraws the deletion (DeletionWithdrawnError). `during` runs inside a user's next
 * deletion, before its request is created (its reads); `begun` once it is created. A request
 * whose lease `holdLease` gave another runner is not resumed (resumeDeletion leaves it as it is).
 */
class FakeEngine {
  readonly calls: DeletionInput[] = []
  /** The users whose deletion began: their request created. */
  readonly begunFor: string[] = []
  readonly resumed: string[] = []
  /** Every deletion meets a dependency in trouble while set. */
  down = false
  private readonly requests = new Map<string, DeletionRequest>()
  private readonly refusals = new Map<string, Error>()
  private readonly hooks = new Map<string, () => unknown>()
  private readonly begunHooks = new Map<string, () => unknown>()
  private readonly deleted = new Set<string>()
  private readonly heldElsewhere = new Set<string>()
  /** Users whose deletion settles in another state than completed (partial: a store down), or none (handed to the sweeper). */
  private readonly settles = new Map<string, RequestState | undefined>()

  constructor(private readonly clock: Clock) {}

  /** The user's deletion run leaves their request `state` (partial: a store was down), or unsettled (undefined: handed to the sweeper). */
  settleAs(userId: string, state: RequestState | undefined): this {
    this.settles.set(userId, state)
    return this
  }

  refuse(userId: string, err: Error): this {
    this.refusals.set(userId, err)
    return this
  }

  during(userId: string, hook: () => unknown): this {
    this.hooks.set(userId, hook)
    return this
  }

  begun(userId: string, hook: () => unknown): this {
    this.begunHooks.set(userId, hook)
    return this
  }

  holdLease(requestId: string): this {
    this.heldElsewhere.add(requestId)
    return this
  }

  /** The runner holding the request's lease finishes it. */
  finishElsewhere(requestId: string): void {
    this.heldElsewhere.delete(requestId)
    const request = this.requests.get(requestId)
    if (request) request.state = 'completed'
  }

  /** A request an earlier try opened, as that try left it. */
  seedRequest(request: DeletionRequest): this {
    this.requests.set(request.id, request)
    return this
  }

  async deleteAccount(input: DeletionInput): Promise<DeletionOutcome> {
    this.calls.push(input)
    const hook = this.hooks.get(input.userId)
    this.hooks.delete(input.userId)
    await hook?.()
    if (this.down) throw new DependencyUnavailableError('keycloak')
    // A create fenced by the slice lease is a plain write: it must never meet an earlier request.
    if (input.fencedBy && this.requests.has(input.requestId)) throw new Error(`a fenced create meets request ${input.requestId}, opened before it`)
    if (input.requestIdChosenBy === 'derived' && this.requests.has(input.requestId)) throw new RequestAlreadyOpenedError(input.requestId)
    const refusal = this.refusals.get(input.userId)
    if (refusal) throw refusal
    if (this.deleted.has(input.userId)) throw new UserAlreadyDeletedError()
    if (input.mayBegin && !(await input.mayBegin())) throw new DeletionWithdrawnError(input.requestId)
    const begun = this.begunHooks.get(input.userId)
    this.begunHooks.delete(input.userId)
    this.begunFor.push(input.userId)
    await begun?.()
    this.deleted.add(input.userId)
    const state = this.settles.has(input.userId) ? this.settles.get(input.userId) : 'completed'
    this.requests.set(input.requestId, requestOf(input.requestId, input.userId, state ?? 'in_progress', this.clock.now()))
    return { kind: 'deleted', mode: 'hard', requestId: input.requestId, ...(state && { state }) }
  }

  async resumeDeletion(requestId: string): Promise<void> {
    this.resumed.push(requestId)
    if (this.down) throw new DependencyUnavailableError('cassandra')
    const request = this.requests.get(requestId)
    if (!request || this.heldElsewhere.has(requestId)) return
    request.state = this.settles.has(request.userId) ? (this.settles.get(request.userId) ?? request.state) : 'completed'
    this.deleted.add(request.userId)
  }

  async get(requestId: string): Promise<DeletionRequest | undefined> {
    const request = this.requests.get(requestId)
    return request && structuredClone(request)
  }

  /** The user was erased by another's deletion (a managed user by their manager's): a deletion of their own finds them already deleted. */
  markDeleted(userId: string): void {
    this.deleted.add(userId)
  }

  /** The users deletion was asked for, in order, one entry per call. */
  users(): string[] {
    return this.calls.map((input) => input.userId)
  }
}

const runners: BatchRunner[] = []
afterEach(async () => {
  // A runner left waiting (breaker, pace) ends here, its slices given back.
  await Promise.all(runners.splice(0).map((runner) => runner.stop()))
})

function batchWorld(settings: Partial<BatchRunnerSettings> = {}, schemaReady?: () => Promise<boolean>, consumerAdmitted?: (caller: Caller) => boolean) {
  const timeline = new Timeline()
  const clock = new ManualClock(START)
  const jobs = new InMemoryBatchJobs(timeline, clock)
  const engine = new FakeEngine(clock)
  // The creator's standing, read as the HTTP lock-out reads it: the gate over the user row and the deletion state.
  const users = new InMemoryUserStore([{ id: CREATOR, adminOf: ['org-1'] }], timeline)
  const states = new InMemoryUserDeletionStates(timeline)
  const gate = new DeletedUserGate({ standingInStore: (userId) => lockOutStanding({ users, states, requests: { get: async () => undefined } }, userId), ttlMs: 0, maxEntries: 100 })
  /** Who manages whom (a user row's managedBy). */
  const managers = new Map<string, string>()
  const breakerChanges: ('opened' | 'closed')[] = []
  const errors: unknown[] = []
  /** A runner of this world's jobs and users, as the instance `instanceId`, on this world's clock or its own (`ownClock`: a clock set apart). */
  const instance = (instanceId: string, ownClock: Clock = clock) => {
    const runner = new BatchRunner({
      jobs,
      requests: engine,
      erasedBy: async (userId) => ({ heldBy: states.peek(userId)?.requestId, managedBy: managers.get(userId) }),
      deleteAccount: (input) => engine.deleteAccount(input),
      resumeDeletion: (requestId) => engine.resumeDeletion(requestId),
      classify,
      isLockedOut: (userId) => gate.isDeleted(userId),
      clock: ownClock,
      instanceId,
      settings: { ...SETTINGS, ...settings, breaker: { ...SETTINGS.breaker, ...settings.breaker } },
      onBreaker: (_jobId, change) => breakerChanges.push(change),
      onError: (err) => errors.push(err),
      ...(schemaReady && { schemaReady }),
      ...(consumerAdmitted && { consumerAdmitted }),
    })
    runners.push(runner)
    return runner
  }
  const runner = instance('instance-a')
  /** A job of `userIds`, `sliceSize` to a slice, as the route submits it. */
  const submit = (userIds: readonly string[], sliceSize = userIds.length) => submitBatch({ jobs, clock, sliceSize }, { jobId: JOB_ID, caller: CALLER, userIds, mode: 'hard' })
  const slice = async (index: number) => (await jobs.slices(JOB_ID)).find((state) => state.slice === index)
  const item = async (userId: string) => (await jobs.itemsPage(JOB_ID, 0, 1000)).find((found) => found.userId === userId)
  const state = async () => (await jobs.get(JOB_ID))?.state
  return { timeline, clock, jobs, engine, users, states, managers, runner, instance, breakerChanges, errors, submit, slice, item, state }
}

/**
 * A runner waiting for U1's pace token, the budget of one a second spent by other instances for
 * this second and for `later`, a third of the lease on, where the wait's renewal falls due.
 */
async function waitingForPace() {
  const w = batchWorld({ maxDeletionsPerSecond: 1 })
  w.clock.set(new Date(START.getTime() + 900))
  const later = new Date(START.getTime() + 900 + LEASE_MS / 3)
  await w.submit([U1])
  for (const at of [START, later]) expect(await w.jobs.takePaceToken(JOB_ID, Math.floor(at.getTime() / 1000))).toBe(1)
  await w.runner.pass()
  await eventually(() => expect(w.timeline.count('jobs.takePaceToken')).toBeGreaterThanOrEqual(2))
  return { w, later }
}

/** A pass that takes the creator's slice (0), finds every other user settled and gives it back: the own account's dwell begins, by that instance's clock. */
async function dwellBegins(w: ReturnType<typeof batchWorld>, runner = w.runner): Promise<void> {
  const taken = w.timeline.count('jobs.acquireSlice')
  await runner.pass()
  expect(w.timeline.count('jobs.acquireSlice')).toBe(taken + 1)
  await eventually(async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(w.clock.now().getTime()))
  expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 0))
}

/** Waits for work the runner does in the background (a pass starts a slice's work and does not await it). */
const eventually = (assertion: () => unknown, timeout = 3000) => vi.waitFor(assertion, { timeout, interval: 5 })

const deleted = (userId: string, slice: number, at: Date, attempts = 0): BatchItem => ({ userId, slice, status: 'deleted', attempts, at })
const pending = (userId: string, slice: number, attempts = 0): BatchItem => ({ userId, slice, status: 'pending', attempts })

describe('BatchRunner: working a job', () => {
  it("when a job is worked, then each user is deleted once, as the job's caller, under the request named after job and user, and recorded deleted", async () => {
    const w = batchWorld()
    await w.submit([U1, U2, U3, U4, U5], 2)

    await w.runner.pass()
    await eventually(async () => expect((await w.jobs.slices(JOB_ID)).filter((slice) => slice.done)).toHaveLength(2))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(2))?.done).toBe(true))

    expect([...w.engine.users()].sort()).toEqual([U1, U2, U3, U4, U5])
    for (const userId of [U1, U2, U3, U4, U5]) {
      expect(w.engine.calls).toContainEqual({
        requestId: batchRequestId(JOB_ID, userId),
        requestIdChosenBy: 'derived',
        fencedBy: expect.any(Date),
        mayBegin: expect.any(Function),
        userId,
        caller: CALLER,
        mode: 'hard',
      })
    }
    expect(await w.jobs.itemsPage(JOB_ID, 0, 10)).toEqual([deleted(U1, 0, START), deleted(U2, 0, START), deleted(U3, 1, START), deleted(U4, 1, START), deleted(U5, 2, START)])
  })

  it("when the keyspace is behind this build's schema, then a pass takes no slice and deletes no one; once migrated, the next pass works the job", async () => {
    let migrated = false
    const w = batchWorld({}, async () => migrated)
    await w.submit([U1, U2])

    await w.runner.pass()
    expect((await w.slice(0))?.taken).toBe(false)
    expect([...w.engine.users()]).toEqual([])

    migrated = true
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect([...w.engine.users()].sort()).toEqual([U1, U2])
  })

  it('when the instance stops while a pass waits for the schema read, then stop waits for that pass, which takes no slice and deletes no one', async () => {
    const answer = deferred<boolean>()
    const w = batchWorld({}, () => answer.promise)
    await w.submit([U1, U2])
    const passing = w.runner.pass()

    let stopped = false
    const stopping = w.runner.stop().then(() => {
      stopped = true
    })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(stopped).toBe(false)
    answer.resolve(true)
    await Promise.all([passing, stopping])

    expect((await w.slice(0))?.taken).toBe(false)
    expect([...w.engine.users()]).toEqual([])
  })

  it('when every slice of a job is done, then the next pass completes the job and unlists it, deleting no one again', async () => {
    const w = batchWorld()
    await w.submit([U1, U2])
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    await w.runner.pass()

    expect(await w.state()).toBe('completed')
    expect(await w.jobs.listOpen()).toEqual([])
    expect(w.engine.users()).toEqual([U1, U2])
  })

  it("when a slice's users are all settled, then the slice is finished with their tally: successes, failures by code, first and last settling time", async () => {
    const w = batchWorld()
    // Each deletion takes a second of the clock.
    for (const userId of [U1, U2, U3, U4]) w.engine.during(userId, () => w.clock.advance(1000))
    w.engine.refuse(U2, new UserNotFoundError()).refuse(U3, new RoleRestrictedError())
    await w.submit([U1, U2, U3, U4])

    await w.runner.pass()

    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(await w.slice(0)).toEqual({
      slice: 0,
      done: true,
      leaseUntil: new Date(0),
      taken: true,
      tally: { succeeded: 2, failed: { [NOT_FOUND]: 1, [ROLE_RESTRICTED]: 1 }, firstSettledAt: new Date(START.getTime() + 1000), lastSettledAt: new Date(START.getTime() + 4000) },
    })
  })

  it("when a user's deletion still owes steps (its request partial: a store was down; or handed to the sweeper unsettled), then they are recorded deleted and owed, counted in the slice's tally and the status, which names the request to follow", async () => {
    const w = batchWorld()
    w.engine.settleAs(U2, 'partial').settleAs(U3, undefined)
    await w.submit([U1, U2, U3])

    await w.runner.pass()

    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(await w.jobs.itemsPage(JOB_ID, 0, 10)).toEqual([deleted(U1, 0, START), { ...deleted(U2, 0, START), owed: true }, { ...deleted(U3, 0, START), owed: true }])
    expect((await w.slice(0))?.tally).toMatchObject({ succeeded: 3, owed: 2, failed: {} })
    const status = await readBatchStatus({ jobs: w.jobs, clock: w.clock }, { caller: CALLER, jobId: JOB_ID, offset: 0, limit: 10 })
    expect(status).toMatchObject({ state: 'completed', done: 3, succeeded: 3, owed: 2, failed: {} })
    expect(status.outcomes).toEqual([
      { userId: U1, status: 'deleted' },
      { userId: U2, status: 'deleted', owed: true, requestId: batchRequestId(JOB_ID, U2) },
      { userId: U3, status: 'deleted', owed: true, requestId: batchRequestId(JOB_ID, U3) },
    ])
  })

  it('when a slice is taken over from an instance that died mid-user and the request it opened finishes partial, then the user is recorded deleted and owed', async () => {
    const w = batchWorld()
    await w.submit([U1])
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
    w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'partial', START)).settleAs(U1, 'partial')
    w.clock.advance(LEASE_MS + 1)

    await w.runner.pass()

    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(await w.item(U1)).toEqual({ ...deleted(U1, 0, w.clock.now()), owed: true })
  })

  it('when the request found opened for a user cannot be read back (gone since), then the user is recorded deleted and not owed: there is no request for the status to name', async () => {
    const w = batchWorld()
    w.engine.refuse(U1, new RequestAlreadyOpenedError(batchRequestId(JOB_ID, U1)))
    await w.submit([U1])

    await w.runner.pass()

    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
  })

  it('when a user is refused for a reason of their own, then they are recorded failed with its Sunbird code, never tried again, and the users after them are still deleted', async () => {
    const w = batchWorld()
    w.engine.refuse(U1, new UserNotFoundError())
    await w.submit([U1, U2, U3])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    await w.runner.pass()

    expect(await w.item(U1)).toEqual({ userId: U1, slice: 0, status: 'failed', err: NOT_FOUND, attempts: 0, at: START })
    expect(await w.item(U2)).toEqual(deleted(U2, 0, START))
    expect(await w.item(U3)).toEqual(deleted(U3, 0, START))
    expect(w.engine.users()).toEqual([U1, U2, U3])
    expect(w.breakerChanges).toEqual([])
    expect(await w.state()).toBe('completed')
  })

  it('when a pass finds more free slices than its concurrency, then it takes only that many, and a full instance does not even list the jobs', async () => {
    const w = batchWorld({ concurrency: 2 })
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    for (const userId of [U1, U2]) w.engine.during(userId, () => held)
    await w.submit([U1, U2, U3], 1)

    try {
      await w.runner.pass()
      await eventually(() => expect(w.engine.users()).toEqual([U1, U2]))
      await w.runner.pass()

      expect((await w.jobs.slices(JOB_ID)).map((slice) => slice.taken)).toEqual([true, true, false])
      expect(w.timeline.count('jobs.listOpen')).toBe(1)
    } finally {
      release()
    }
    await eventually(async () => expect((await w.jobs.slices(JOB_ID)).filter((slice) => slice.done)).toHaveLength(2))
  })
})

describe("BatchRunner: the creator's own account", () => {
  it("when a job lists its creator's own account first, then it is deleted last, once every other slice is done; an instance of concurrency 1 that found it waiting works the other slices instead of taking that one again every pass", async () => {
    const w = batchWorld({ concurrency: 1 })
    await w.submit([CREATOR, U1, U2, U3], 2)

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime()))
    expect(w.engine.users()).toEqual([U1])
    expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 0))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(1))?.done).toBe(true))
    expect(w.engine.users()).toEqual([U1, U2, U3])
    await dwellBegins(w)
    w.clock.advance(OWN_ACCOUNT_DWELL_MS)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([U1, U2, U3, CREATOR])
    expect(await w.item(CREATOR)).toEqual(deleted(CREATOR, 0, w.clock.now()))
  })

  it("when every other user of the job is settled, then the creator's own account waits OWN_ACCOUNT_DWELL_MS from when the instance first found them so, by its own clock, its slice not even taken meanwhile, so a creator polling the status reads it pending once the others are settled", async () => {
    const w = batchWorld({ concurrency: 1 })
    await w.submit([CREATOR, U1, U2, U3], 2)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime()))
    w.clock.advance(500)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(1))?.done).toBe(true))

    // The last other user (U3, of slice 1) was settled at START + 500; the instance finds that at START + 700: the dwell runs from then.
    w.clock.advance(200)
    await dwellBegins(w)
    const taken = w.timeline.count('jobs.acquireSlice')
    w.clock.set(new Date(START.getTime() + 700 + OWN_ACCOUNT_DWELL_MS - 1))
    await w.runner.pass()
    await w.runner.pass()
    expect(w.timeline.count('jobs.acquireSlice')).toBe(taken)
    expect(w.engine.users()).toEqual([U1, U2, U3])
    expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 0))
    const status = await readBatchStatus({ jobs: w.jobs, clock: w.clock }, { caller: CALLER, jobId: JOB_ID, offset: 0, limit: 10 })
    expect(status.outcomes.find((outcome) => outcome.userId === CREATOR)).toEqual({ userId: CREATOR, status: 'pending' })

    w.clock.advance(1)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(w.engine.users()).toEqual([U1, U2, U3, CREATOR])
  })

  for (const [skew, what] of [
    [3_600_000, 'an hour ahead of this one (its settled times stamped in the future)'],
    [-10_000, '10 s behind this one (its settled times 10 s in the past)'],
  ] as const)
    it(`when the other users were settled by an instance whose clock is ${what}, then the creator's own account still waits exactly OWN_ACCOUNT_DWELL_MS from when this instance found them settled, by this instance's clock`, async () => {
      const w = batchWorld({ concurrency: 1 })
      await w.submit([U1, U2, CREATOR], 2)
      const skewed = new ManualClock(new Date(START.getTime() + skew))
      await w.instance('instance-b', skewed).pass()
      await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
      expect((await w.item(U2))?.at).toEqual(skewed.now())

      // This instance takes the creator's slice and finds every other user settled: the dwell begins.
      const taken = w.timeline.count('jobs.acquireSlice')
      await w.runner.pass()
      expect(w.timeline.count('jobs.acquireSlice')).toBe(taken + 1)
      await eventually(async () => expect((await w.slice(1))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime()))
      expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 1))

      w.clock.advance(OWN_ACCOUNT_DWELL_MS - 1)
      await w.runner.pass()
      expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 1))
      w.clock.advance(1)
      await w.runner.pass()
      await eventually(async () => expect((await w.slice(1))?.done).toBe(true))
      expect(await w.item(CREATOR)).toEqual(deleted(CREATOR, 1, w.clock.now()))
    })

  it("when the job is cancelled during the creator's own account's dwell, then the own account is recorded cancelled at the next pass, without waiting out the dwell", async () => {
    const w = batchWorld({ concurrency: 1 })
    await w.submit([CREATOR, U1])
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime()))
    expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 0))

    await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
    w.clock.advance(1000)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(w.engine.users()).toEqual([U1])
    expect((await w.item(CREATOR))?.status).toBe('cancelled')
  })

  it("when the creator's own slice settles the job's last other user, then that pass leaves the own account pending: it is deleted at a pass OWN_ACCOUNT_DWELL_MS later", async () => {
    const w = batchWorld({ concurrency: 1 })
    await w.submit([CREATOR, U1])
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime()))
    expect(w.engine.users()).toEqual([U1])
    expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 0))

    w.clock.advance(OWN_ACCOUNT_DWELL_MS)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(w.engine.users()).toEqual([U1, CREATOR])
  })

  it("when another user of the creator's slice is left pending by a fault, then that slice is taken again at the next pass (that user retried at once), not held back until every other slice is done", async () => {
    const w = batchWorld({ concurrency: 1 })
    await w.submit([CREATOR, U1, U2, U3], 2)
    w.engine.during(U1, () => {
      throw new DependencyUnavailableError('keycloak')
    })
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime()))
    expect(await w.item(U1)).toEqual(pending(U1, 0, 1))

    await w.runner.pass()
    await eventually(async () => expect(await w.item(U1)).toEqual(deleted(U1, 0, START, 1)))
    expect(w.engine.users()).toEqual([U1, U1])
    expect((await w.slice(1))?.taken).toBe(false)
  })

  it("when an instance that knows nothing of the wait (restarted, or another) takes the creator's slice while another slice is still pending, then it too leaves the creator's own account pending; it is deleted once, after the others", async () => {
    const w = batchWorld({ concurrency: 1 })
    await w.submit([CREATOR, U1, U2, U3], 2)
    const givenBack = async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime())
    await w.runner.pass()
    await eventually(givenBack)
    await w.runner.stop()

    const restarted = w.instance('instance-b')
    await restarted.pass()
    await eventually(givenBack)
    expect(w.engine.users()).toEqual([U1])
    expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 0))
    await restarted.pass()
    await eventually(async () => expect((await w.slice(1))?.done).toBe(true))
    await dwellBegins(w, restarted)
    w.clock.advance(OWN_ACCOUNT_DWELL_MS)
    await restarted.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([U1, U2, U3, CREATOR])
  })

  it("when the job is cancelled while the creator's own account waits for the others, then the others not begun and their own account are recorded cancelled: it is never deleted", async () => {
    const w = batchWorld({ concurrency: 1 })
    await w.submit([CREATOR, U1, U2, U3], 2)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime()))

    await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
    w.clock.set(new Date(START.getTime() + 2000))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(1))?.done).toBe(true))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([U1])
    expect((await w.item(CREATOR))?.status).toBe('cancelled')
    expect((await w.item(U2))?.status).toBe('cancelled')
  })

  it("when a trusted consumer's job lists the id its caller names, then that id is deleted in its turn: no person is behind such a job", async () => {
    const w = batchWorld({ concurrency: 1 })
    await submitBatch({ jobs: w.jobs, clock: w.clock, sliceSize: 2 }, { jobId: JOB_ID, caller: { ...CALLER, deleteAnyUser: true }, userIds: [CREATOR, U1, U2, U3], mode: 'hard' })

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([CREATOR, U1])
  })
})

describe('BatchRunner: a dependency in trouble', () => {
  /** Two deletions meeting Keycloak down open the breaker (two attempts, every one a fault). */
  async function pausedJob() {
    const w = batchWorld()
    w.engine.down = true
    await w.submit([U1, U2, U3, U4])
    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))
    return w
  }

  it('when deletions meet a dependency in trouble, then the breaker opens, the job reads paused, the users stay pending with the try counted, and nobody is tried while it is open', async () => {
    const w = await pausedJob()

    expect(w.breakerChanges).toEqual(['opened'])
    expect(await w.item(U1)).toEqual(pending(U1, 0, 1))
    expect(await w.item(U2)).toEqual(pending(U2, 0, 1))
    // The runner looks at the breaker again every 250 ms: wait past one look.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(w.engine.users()).toEqual([U1, U2])
  })

  it('when the dependency recovers after the cool-off, then one probe goes through, the job runs again, and a later pass deletes the users left pending', async () => {
    const w = await pausedJob()
    w.engine.down = false

    w.clock.advance(COOL_OFF_MS)

    await eventually(async () => expect(await w.state()).toBe('running'))
    expect(w.breakerChanges).toEqual(['opened', 'closed'])
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    expect((await w.slice(0))?.done).toBe(false)
    const recovered = new Date(START.getTime() + COOL_OFF_MS)
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([pending(U1, 0, 1), pending(U2, 0, 1), deleted(U3, 0, recovered), deleted(U4, 0, recovered)])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect((await w.slice(0))?.tally?.succeeded).toBe(4)
    expect(await w.item(U1)).toEqual(deleted(U1, 0, recovered, 1))
    expect(w.engine.users()).toEqual([U1, U2, U3, U4, U1, U2])
  })

  it('when a restarted job finds an earlier request for each user and finishing them meets a dependency in trouble, then the faults open the breaker: the job reads paused, no further request is resumed while it is open, and the users stay pending with no try counted; once it recovers they read deleted', async () => {
    const w = batchWorld()
    const users = [U1, U2, U3, U4]
    for (const userId of users) w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, userId), userId, 'in_progress', START))
    w.engine.down = true
    await w.submit(users)
    // Every one of them was tried by instance-b, which took the slice before and died.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, START)).toBe(true)
    w.clock.advance(1)

    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))

    expect(w.breakerChanges).toEqual(['opened'])
    // The runner looks at the breaker again every 250 ms: wait past one look.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(w.engine.resumed).toEqual([batchRequestId(JOB_ID, U1), batchRequestId(JOB_ID, U2)])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual(users.map((userId) => pending(userId, 0)))

    w.engine.down = false
    w.clock.advance(COOL_OFF_MS)
    await eventually(async () => expect(await w.state()).toBe('running'))
    expect(w.breakerChanges).toEqual(['opened', 'closed'])
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.jobs.items(JOB_ID, 0)).toEqual(users.map((userId) => deleted(userId, 0, w.clock.now())))
    expect(w.engine.users()).toEqual([])
  })

  it('when a restarted job cannot look for the requests earlier tries opened (Cassandra read timeouts while writes land), then no try is counted: the faults open the breaker, each reported once, the users stay pending and are never failed, while the sweeper may be finishing their deletions; once reads answer they read deleted', async () => {
    // One try allowed: a try counted for the failed read would fail the user at once.
    const w = batchWorld({ maxAttempts: 1 })
    const users = [U1, U2, U3, U4]
    for (const userId of users) w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, userId), userId, 'in_progress', START))
    await w.submit(users)
    // Every one of them was tried by instance-b, which took the slice before and died.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, START)).toBe(true)
    w.clock.advance(1)
    let readsFail = true
    const get = w.engine.get.bind(w.engine)
    w.engine.get = async (requestId) => {
      if (readsFail) throw new DependencyUnavailableError('cassandra')
      return get(requestId)
    }

    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))

    expect(await w.jobs.items(JOB_ID, 0)).toEqual(users.map((userId) => pending(userId, 0)))
    expect(w.breakerChanges).toEqual(['opened'])
    expect(w.errors).toEqual([expect.any(DependencyUnavailableError), expect.any(DependencyUnavailableError)])
    expect(w.engine.resumed).toEqual([])

    readsFail = false
    w.clock.advance(COOL_OFF_MS)
    await eventually(async () => expect(await w.state()).toBe('running'))
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.jobs.items(JOB_ID, 0)).toEqual(users.map((userId) => deleted(userId, 0, w.clock.now())))
    expect(w.engine.users()).toEqual([])
  })

  it("when the probe after the cool-off meets a user whose request is still another runner's, then the next user probes instead: the breaker closes and the job runs again", async () => {
    const w = batchWorld()
    // U3 comes first after the outage; an earlier try of theirs opened a request another runner still holds.
    const held = batchRequestId(JOB_ID, U3)
    w.engine.seedRequest(requestOf(held, U3, 'in_progress', START)).holdLease(held)
    w.engine.down = true
    await w.submit([U1, U2, U3, U4])
    // That try was instance-b's, which took the slice before and died.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, START)).toBe(true)
    w.clock.advance(1)
    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))
    w.engine.down = false

    w.clock.advance(COOL_OFF_MS)

    await eventually(async () => expect(await w.state()).toBe('running'))
    expect(w.breakerChanges).toEqual(['opened', 'closed'])
    await eventually(async () => expect(await w.item(U4)).toEqual(deleted(U4, 0, w.clock.now())))
    // U3 is left as they were, for the runner that holds their request.
    expect(await w.item(U3)).toEqual(pending(U3, 0))
  })

  it("when the probe after the cool-off cannot read the job's own state (the creator's standing), then that is the probe's fault: the breaker opens again for another cool-off, and the next user waits instead of probing at once", async () => {
    const w = batchWorld()
    const findUser = w.users.findUser.bind(w.users)
    let reads = 0
    w.users.findUser = async () => {
      reads++
      throw new DependencyUnavailableError('cassandra')
    }
    await w.submit([U1, U2, U3, U4])
    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))
    const readsWhileOpen = reads

    w.clock.advance(COOL_OFF_MS)
    await eventually(() => expect(reads).toBe(readsWhileOpen + 1))
    // The runner looks at the breaker again every 250 ms: wait past a few looks.
    await new Promise((resolve) => setTimeout(resolve, 600))

    expect(reads).toBe(readsWhileOpen + 1)
    expect(w.breakerChanges).toEqual(['opened'])
    expect(w.engine.users()).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([pending(U1, 0), pending(U2, 0), pending(U3, 0), pending(U4, 0)])
    w.users.findUser = findUser
  })

  it("when the slice's users cannot be listed (Cassandra in trouble), then the slice is given back at once, not held until its lease runs out, and the next pass works it", async () => {
    const w = batchWorld()
    await w.submit([U1, U2])
    const items = w.jobs.items.bind(w.jobs)
    let listings = 0
    w.jobs.items = async (jobId, slice) => {
      if (++listings === 1) throw new DependencyUnavailableError('cassandra')
      return items(jobId, slice)
    }

    await w.runner.pass()
    await eventually(() => expect(w.timeline.count('jobs.releaseSlice')).toBe(1))
    expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0))

    // Passes until the failed work has ended on this instance too (no clock moves: the lease given back is what lets it in).
    await eventually(async () => {
      await w.runner.pass()
      expect((await w.slice(0))?.done).toBe(true)
    })
    expect(w.engine.users()).toEqual([U1, U2])
  })

  it("when another instance's breaker left the job reading paused (that instance stopped before its breaker closed), then this instance, deleting with its own breaker closed, shows the job running again: once per slice, not per user", async () => {
    const w = batchWorld()
    await w.submit([U1, U2, U3])
    await w.jobs.setState(JOB_ID, 'paused')

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.state()).toBe('running')
    expect(w.timeline.count('jobs.setState(running)')).toBe(1)
  })

  it('when a deletion begun before the breaker opened succeeds while it is open, then the job keeps reading paused', async () => {
    const w = batchWorld({ concurrency: 2 })
    const u1Held = deferred<void>()
    w.engine.during(U1, () => u1Held.promise)
    w.engine.refuse(U3, new DependencyUnavailableError('keycloak')).refuse(U4, new DependencyUnavailableError('keycloak'))
    await w.submit([U1, U2, U3, U4], 2)

    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))
    u1Held.resolve()
    await eventually(async () => expect((await w.item(U1))?.status).toBe('deleted'))

    expect(await w.state()).toBe('paused')
    expect(w.timeline.count('jobs.setState(running)')).toBe(0)
  })

  it("when the slice's users keep failing to be listed, then the faults open the breaker, and while it is open no pass takes the slice again; after each cool-off one does, and its failure opens the breaker again", async () => {
    const w = batchWorld()
    await w.submit([U1, U2])
    w.jobs.items = async () => {
      throw new DependencyUnavailableError('cassandra')
    }
    // Passes until the faults (two: the breaker's minimum) have opened it.
    await eventually(async () => {
      await w.runner.pass()
      expect(w.breakerChanges).toEqual(['opened'])
    })
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    const taken = w.timeline.count('jobs.acquireSlice')

    for (let pass = 0; pass < 3; pass++) await w.runner.pass()

    expect(w.timeline.count('jobs.acquireSlice')).toBe(taken)
    w.clock.advance(COOL_OFF_MS)
    await w.runner.pass()
    expect(w.timeline.count('jobs.acquireSlice')).toBe(taken + 1)
    // That take was the probe, and its listing failed: open again, for another cool-off.
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    for (let pass = 0; pass < 3; pass++) await w.runner.pass()
    expect(w.timeline.count('jobs.acquireSlice')).toBe(taken + 1)
    w.clock.advance(COOL_OFF_MS)
    await w.runner.pass()
    expect(w.timeline.count('jobs.acquireSlice')).toBe(taken + 2)
  })

  it("when the job is cancelled through another instance while this one's breaker is open, then a pass still takes its free slices and settles their users cancelled, without waiting out the cool-off", async () => {
    const w = batchWorld({ concurrency: 1 })
    w.engine.down = true
    await w.submit([U1, U2, U3, U4], 2)
    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
    w.clock.advance(1000)

    await eventually(async () => {
      await w.runner.pass()
      expect((await w.jobs.slices(JOB_ID)).every((slice) => slice.done)).toBe(true)
    })

    expect(w.engine.users()).toEqual([U1, U2])
    expect((await w.jobs.itemsPage(JOB_ID, 0, 10)).map((item) => [item.userId, item.status])).toEqual([
      [U1, 'cancelled'],
      [U2, 'cancelled'],
      [U3, 'cancelled'],
      [U4, 'cancelled'],
    ])
  })

  it('when a user meets a dependency in trouble on every try up to the limit, then they are recorded failed with the unavailable code and the slice is finished', async () => {
    // A breaker that never opens: the try limit alone ends the user.
    const w = batchWorld({ maxAttempts: 2, breaker: { ...SETTINGS.breaker, minAttempts: 100 } })
    w.engine.down = true
    await w.submit([U1])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    expect(await w.item(U1)).toEqual(pending(U1, 0, 1))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.item(U1)).toEqual({ userId: U1, slice: 0, status: 'failed', err: UNAVAILABLE, attempts: 2, at: START })
    expect((await w.slice(0))?.tally).toMatchObject({ succeeded: 0, failed: { [UNAVAILABLE]: 1 } })
  })
})

describe('BatchRunner: outcomes, leases and stopping', () => {
  it('when an outcome cannot be recorded, then the slice is not finished; a later pass records the user from the request their deletion opened, deleting no one again', async () => {
    const w = batchWorld()
    w.jobs.failNext('recordItem', new DependencyUnavailableError('cassandra'))
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))

    expect((await w.slice(0))?.done).toBe(false)
    expect(w.timeline.count('jobs.finishSlice')).toBe(0)
    expect(await w.item(U1)).toEqual(pending(U1, 0))
    expect(await w.item(U2)).toEqual(deleted(U2, 0, START))
    expect(w.errors).toEqual([expect.any(DependencyUnavailableError)])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.item(U1)).toEqual(deleted(U1, 0, START))
    expect((await w.slice(0))?.tally?.succeeded).toBe(2)
    expect(w.engine.users()).toEqual([U1, U2])
  })

  it('when a slice is taken over from an instance that died mid-user, then the request that instance opened is finished, and the user is not deleted a second time', async () => {
    const w = batchWorld()
    await w.submit([U1, U2])
    // instance-b took the slice and opened U1's request, then died.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
    w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'in_progress', START))

    await w.runner.pass()
    expect(w.timeline.count('jobs.acquireSlice')).toBe(1)
    w.clock.advance(LEASE_MS + 1)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.resumed).toEqual([batchRequestId(JOB_ID, U1)])
    expect(w.engine.users()).toEqual([U2])
    expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
  })

  it('when finishing the request an instance that died opened for a user meets a dependency in trouble, then the user stays pending with no try counted, never failed; once it recovers, they read deleted', async () => {
    // A breaker that never opens and a try limit of 2: counted tries would fail the user on the second pass.
    const w = batchWorld({ maxAttempts: 2, breaker: { ...SETTINGS.breaker, minAttempts: 100 } })
    await w.submit([U1])
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
    w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'in_progress', START))
    w.engine.down = true
    w.clock.advance(LEASE_MS + 1)

    for (let pass = 0; pass < 3; pass++) {
      await w.runner.pass()
      await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    }
    expect(await w.item(U1)).toEqual(pending(U1, 0, 0))

    w.engine.down = false
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
    expect(w.engine.users()).toEqual([])
  })

  it.each(['cancelled', 'cancelling'] as const)(
    'when the request an instance that died opened for a user was soft and is now %s by its person, then the user reads deleted and the slice finishes, never tried again for ever',
    async (state) => {
      const w = batchWorld()
      await w.submit([U1, U2])
      expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
      w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, state, START))

      w.clock.advance(LEASE_MS + 1)
      await w.runner.pass()
      await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

      expect(w.engine.resumed).toEqual([])
      expect(w.engine.users()).toEqual([U2])
      expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
    },
  )

  it("when the slice's lease is lost to another instance (its renewal refused), then this instance tries no further user of it, and neither finishes nor gives back the slice", async () => {
    const w = batchWorld()
    const takenOverUntil = new Date(START.getTime() + 2 * LEASE_MS)
    // Deleting U1 takes a third of the lease; instance-b, whose clock runs ahead, takes the slice meanwhile.
    w.engine.during(U1, async () => {
      w.clock.advance(LEASE_MS / 3)
      expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', new Date(START.getTime() + LEASE_MS + 1), takenOverUntil)).toBe(true)
    })
    await w.submit([U1, U2, U3])

    await w.runner.pass()
    await eventually(() => expect(w.timeline.count('jobs.renewSlice')).toBe(1))

    expect(w.engine.users()).toEqual([U1])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, w.clock.now()), pending(U2, 0), pending(U3, 0)])
    expect(await w.slice(0)).toEqual({ slice: 0, done: false, leaseUntil: takenOverUntil, taken: true })
    expect(w.timeline.count('jobs.finishSlice')).toBe(0)
    expect(w.timeline.count('jobs.releaseSlice')).toBe(0)
  })

  // workSlice gives the slice back whenever a user of it is still pending, also when it stopped
  // because renewSlice answered false: the release must leave the new holder's lease alone.
  it('when the lease is lost after a user of the slice was left pending, then the new holder keeps its lease', async () => {
    const w = batchWorld()
    const takenOverUntil = new Date(START.getTime() + 2 * LEASE_MS)
    w.engine.down = true
    w.engine.during(U1, async () => {
      w.clock.advance(LEASE_MS / 3)
      expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', new Date(START.getTime() + LEASE_MS + 1), takenOverUntil)).toBe(true)
    })
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(() => expect(w.timeline.count('jobs.renewSlice')).toBe(1))

    expect(await w.item(U1)).toEqual(pending(U1, 0, 1))
    expect((await w.slice(0))?.leaseUntil).toEqual(takenOverUntil)
  })

  it('when a deletion outlasts the slice lease and another instance finishes the slice meanwhile, then the late holder writes nothing: the outcomes and counts of the new holder stand', async () => {
    const w = batchWorld()
    const b = w.instance('instance-b')
    // instance-a's deletion of U1 stalls past its lease; instance-b takes the slice and settles
    // every user. Then a's deletion meets a dependency in trouble: it would record U1 pending.
    w.engine.during(U1, async () => {
      w.clock.advance(LEASE_MS + 1)
      await b.pass()
      await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
      w.engine.down = true
    })
    await w.submit([U1, U2])
    await w.runner.pass()
    await eventually(() => expect(w.timeline.count('jobs.recordItem(pending)')).toBe(1))
    const settledByB = await w.jobs.items(JOB_ID, 0)

    expect(settledByB.map((item) => item.status)).toEqual(['deleted', 'deleted'])
    expect(await w.slice(0)).toMatchObject({ done: true, tally: { succeeded: 2, failed: {} } })
    expect(w.timeline.count('jobs.finishSlice')).toBe(1)
    // a tried U1 (the stalled try), b tried U1 and U2; a tried nothing after its refused outcome and gave nothing back.
    expect(w.engine.users()).toEqual([U1, U1, U2])
    expect(w.timeline.count('jobs.releaseSlice')).toBe(0)
  })

  it('when renewing the lease fails (Cassandra in trouble), then the next user is left pending with no try counted, and nothing more of the slice is written', async () => {
    const w = batchWorld()
    w.engine.during(U1, () => {
      w.clock.advance(LEASE_MS / 3)
      w.jobs.failNext('renewSlice', new DependencyUnavailableError('cassandra'))
    })
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(() => expect(w.errors).toEqual([expect.any(DependencyUnavailableError)]))

    expect(w.engine.users()).toEqual([U1])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, w.clock.now()), pending(U2, 0)])
    expect(w.timeline.count('jobs.finishSlice')).toBe(0)
    expect(w.timeline.count('jobs.releaseSlice')).toBe(0)
  })

  it('when the holder keeps working past a third of its lease, then it renews the lease before the next user', async () => {
    const w = batchWorld()
    w.engine.during(U1, () => w.clock.advance(LEASE_MS / 3))
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.timeline.count('jobs.renewSlice')).toBe(1)
    expect(w.engine.users()).toEqual([U1, U2])
  })

  it('when the instance stops mid-slice, then stop waits for the deletion in flight, which is recorded; no further user is tried and the slice is given back at once', async () => {
    const w = batchWorld()
    let finishDeletion: () => void = () => undefined
    w.engine.during(
      U1,
      () =>
        new Promise<void>((resolve) => {
          finishDeletion = resolve
        }),
    )
    await w.submit([U1, U2, U3])
    await w.runner.pass()
    await eventually(() => expect(w.engine.users()).toEqual([U1]))

    let stopped = false
    const stopping = w.runner.stop().then(() => {
      stopped = true
    })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(stopped).toBe(false)
    finishDeletion()
    await stopping

    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, START), pending(U2, 0), pending(U3, 0)])
    expect(await w.slice(0)).toEqual({ slice: 0, done: false, leaseUntil: new Date(0), taken: true })
    expect(w.engine.users()).toEqual([U1])
  })

  it("when a user's earlier request is still another runner's, then they stay pending with no try counted, the rest of the slice goes on, and they are settled once that request is finished", async () => {
    const w = batchWorld({ maxAttempts: 2 })
    await w.submit([U1, U2])
    // instance-b took the slice, opened U1's request and died; the request's lease outlives the slice's.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
    const held = batchRequestId(JOB_ID, U1)
    w.engine.seedRequest(requestOf(held, U1, 'in_progress', START)).holdLease(held)
    w.clock.advance(LEASE_MS + 1)

    for (let pass = 0; pass < 3; pass++) {
      await w.runner.pass()
      await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    }

    expect(await w.item(U1)).toEqual(pending(U1, 0))
    expect(await w.item(U2)).toEqual(deleted(U2, 0, w.clock.now()))
    expect(w.breakerChanges).toEqual([])

    w.engine.finishElsewhere(held)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
    expect(w.engine.users()).toEqual([U2])
  })

  it('when another runner of the same user opened their request first, then this one settles the user from that request and opens none', async () => {
    const w = batchWorld()
    await w.submit([U1])
    // instance-b held the slice and lost it, but still works U1: it opens U1's request as this one creates it.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, START)).toBe(true)
    w.clock.advance(1)
    w.engine.during(U1, () => w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'in_progress', START)))

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.calls.map((call) => call.fencedBy)).toEqual([undefined])
    expect(w.engine.resumed).toEqual([batchRequestId(JOB_ID, U1)])
    expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
  })

  it('when the instance stops while it waits for the pace budget, then no deletion starts after the stop, and the slice is given back', async () => {
    const w = batchWorld({ maxDeletionsPerSecond: 1 })
    w.clock.set(new Date(START.getTime() + 900))
    await w.submit([U1, U2])
    // Another instance spent this second's budget.
    expect(await w.jobs.takePaceToken(JOB_ID, Math.floor(START.getTime() / 1000))).toBe(1)
    await w.runner.pass()
    await eventually(() => expect(w.timeline.count('jobs.takePaceToken')).toBeGreaterThanOrEqual(2))

    const stopping = w.runner.stop()
    w.clock.set(new Date(START.getTime() + 1000))
    await stopping

    expect(w.engine.users()).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([pending(U1, 0), pending(U2, 0)])
    expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0))
  })

  it('when the holder waits for the pace budget longer than a third of its lease, then it renews the lease meanwhile, so no other instance takes the slice', async () => {
    const { w, later } = await waitingForPace()
    const renewals = w.timeline.count('jobs.renewSlice')

    w.clock.set(later)

    await eventually(() => expect(w.timeline.count('jobs.renewSlice')).toBe(renewals + 1))
    expect((await w.slice(0))?.leaseUntil).toEqual(new Date(later.getTime() + LEASE_MS))
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', later, new Date(later.getTime() + LEASE_MS))).toBe(false)
    expect(w.engine.users()).toEqual([])
  })

  it('when renewing the lease fails while the holder waits for the pace budget (Cassandra in trouble), then the user is left pending with no try counted', async () => {
    const { w, later } = await waitingForPace()
    w.jobs.failNext('renewSlice', new DependencyUnavailableError('cassandra'))

    w.clock.set(later)

    await eventually(() => expect(w.errors).toHaveLength(1))
    await eventually(async () => expect(w.timeline.count('jobs.renewSlice')).toBe(1))
    expect(await w.item(U1)).toEqual(pending(U1, 0, 0))
    expect(w.engine.users()).toEqual([])
  })

  it('when the holder waits out an open breaker for longer than a third of its lease, then it renews the lease meanwhile, so no other instance takes the slice', async () => {
    // A cool-off longer than the lease: the breaker stays open throughout.
    const w = batchWorld({ breaker: { ...SETTINGS.breaker, coolOffMs: 2 * LEASE_MS } })
    w.engine.down = true
    await w.submit([U1, U2, U3])
    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))
    const renewals = w.timeline.count('jobs.renewSlice')

    w.clock.advance(LEASE_MS / 3)

    await eventually(() => expect(w.timeline.count('jobs.renewSlice')).toBe(renewals + 1))
    expect((await w.slice(0))?.leaseUntil).toEqual(new Date(w.clock.now().getTime() + LEASE_MS))
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', w.clock.now(), new Date(w.clock.now().getTime() + LEASE_MS))).toBe(false)
  })

  it('when one job cannot be read in a pass, then the jobs after it are still worked in that pass, and it is worked in the next', async () => {
    const w = batchWorld()
    await w.submit([U1])
    await submitBatch({ jobs: w.jobs, clock: w.clock, sliceSize: 1 }, { jobId: 'job-2', caller: CALLER, userIds: [U2], mode: 'hard' })
    w.jobs.failNext('slices', new DependencyUnavailableError('cassandra'))

    await w.runner.pass()
    await eventually(async () => expect((await w.jobs.slices('job-2'))[0]?.done).toBe(true))
    expect(w.errors).toHaveLength(1)
    expect(w.engine.users()).toEqual([U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(w.engine.users()).toEqual([U2, U1])
  })

  it('when the instance has stopped, then a pass takes no more work', async () => {
    const w = batchWorld()
    await w.submit([U1])
    await w.runner.stop()

    await w.runner.pass()

    expect(w.timeline.count('jobs.listOpen')).toBe(0)
    expect(w.engine.users()).toEqual([])
  })
})

describe('BatchRunner: the create of a deletion no earlier try can have opened', () => {
  it('when a user of a slice never taken is tried for the first time, then their deletion is created fenced by the slice lease, with no read of an earlier request first', async () => {
    const w = batchWorld()
    await w.submit([U1])
    const reads = vi.spyOn(w.engine, 'get')

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.calls).toEqual([
      { requestId: batchRequestId(JOB_ID, U1), requestIdChosenBy: 'derived', fencedBy: new Date(START.getTime() + LEASE_MS), mayBegin: expect.any(Function), userId: U1, caller: CALLER, mode: 'hard' },
    ])
    expect(reads).not.toHaveBeenCalled()
    expect(await w.item(U1)).toEqual(deleted(U1, 0, START))
  })

  it('when a user was tried before, or their slice was taken before, then their earlier request is looked for first and their deletion is created by compare-and-set, not fenced', async () => {
    const w = batchWorld()
    await w.submit([U1, U2, U3], 2)
    // U1 was tried once (a dependency in trouble): the try count alone says an earlier try may exist.
    expect(await w.jobs.recordItem(JOB_ID, pending(U1, 0, 1), new Date(START.getTime() + 1))).toBe(true)
    // Slice 1 was taken by instance-b, which died.
    expect(await w.jobs.acquireSlice(JOB_ID, 1, 'instance-b', START, START)).toBe(true)
    w.clock.advance(1)

    await w.runner.pass()
    await eventually(async () => expect((await w.jobs.slices(JOB_ID)).every((slice) => slice.done)).toBe(true))

    const fencedBy = Object.fromEntries(w.engine.calls.map((call) => [call.userId, call.fencedBy]))
    expect(fencedBy).toEqual({ [U1]: undefined, [U2]: new Date(START.getTime() + 1 + LEASE_MS), [U3]: undefined })
    // Those by compare-and-set are sent within the slice lease all the same.
    const sentWithin = Object.fromEntries(w.engine.calls.map((call) => [call.userId, call.sentWithin]))
    expect(sentWithin).toEqual({ [U1]: new Date(START.getTime() + 1 + LEASE_MS), [U2]: undefined, [U3]: new Date(START.getTime() + 1 + LEASE_MS) })
  })

  it("when a user's create is answered only after the slice lease ended, then the slice's work ends as with a lease lost: the user stays pending, no try counted, nobody after them tried, the slice neither finished nor given back", async () => {
    const w = batchWorld()
    await w.submit([U1, U2])
    w.engine.refuse(U1, new FencePassedError(batchRequestId(JOB_ID, U1)))

    await w.runner.pass()
    await eventually(() => expect(w.engine.calls).toHaveLength(1))
    await w.runner.stop()

    expect(w.engine.users()).toEqual([U1])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([pending(U1, 0), pending(U2, 0)])
    expect(w.timeline.entries.filter((entry) => /^jobs\.(recordItem|finishSlice|releaseSlice|renewSlice)/.test(entry))).toEqual([])
    expect(w.breakerChanges).toEqual([])
    expect(w.errors).toEqual([])
  })

  it('when another instance takes a slice this pass read never taken, before this pass takes it, then this pass leaves it even once that lease has run out; the next takes it as taken before and finishes the request opened meanwhile', async () => {
    const w = batchWorld()
    await w.submit([U1])
    const read = w.jobs.slices.bind(w.jobs)
    vi.spyOn(w.jobs, 'slices').mockImplementationOnce(async (jobId) => {
      const slices = await read(jobId)
      // Right after this read: instance-b takes the slice, opens U1's request and dies; its lease runs out.
      expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
      w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'in_progress', START))
      w.clock.advance(LEASE_MS + 1)
      return slices
    })

    await w.runner.pass()
    expect(await w.slice(0)).toMatchObject({ leaseUntil: new Date(START.getTime() + LEASE_MS), taken: true })
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.calls).toEqual([])
    expect(w.engine.resumed).toEqual([batchRequestId(JOB_ID, U1)])
    expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
  })
})

describe('BatchRunner: the pace limit', () => {
  it("when the job's budget for this second is spent, then no deletion starts until the next second; every instance's tokens count against it", async () => {
    const w = batchWorld({ maxDeletionsPerSecond: 2 })
    // Late in the second, so the runner's wait for the next one is short.
    w.clock.set(new Date(START.getTime() + 900))
    const second = Math.floor(START.getTime() / 1000)
    await w.submit([U1, U2, U3])
    // Another instance has deleted one user of the job this second already.
    expect(await w.jobs.takePaceToken(JOB_ID, second)).toBe(1)

    await w.runner.pass()
    await eventually(() => expect(w.timeline.count('jobs.takePaceToken')).toBeGreaterThanOrEqual(3))
    expect(w.engine.users()).toEqual([U1])

    w.clock.set(new Date(START.getTime() + 1000))
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([U1, U2, U3])
    // U2 and U3 took the next second's first two tokens.
    expect(await w.jobs.takePaceToken(JOB_ID, second + 1)).toBe(3)
  })

  it('when there is no limit, then no token is taken', async () => {
    const w = batchWorld({ maxDeletionsPerSecond: 0 })
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.timeline.count('jobs.takePaceToken')).toBe(0)
  })
})

describe('BatchRunner: a creator locked out mid-job', () => {
  type World = ReturnType<typeof batchWorld>
  /** The creator's account as each way of losing their standing leaves it: the row locked (status 2), and the deletion that holds it, if any. */
  const lockOuts: Record<string, (w: World) => void> = {
    deleted: (w) => w.users.add({ id: CREATOR, status: 2, isDeleted: true }),
    'soft-deleted': (w) => {
      w.users.add({ id: CREATOR, status: 2, isDeleted: true })
      w.states.set(CREATOR, { mode: 'soft', requestId: 'request-of-creator' })
    },
    'being deleted': (w) => {
      w.users.add({ id: CREATOR, status: 2, isDeleted: true })
      w.states.set(CREATOR, { mode: 'hard', requestId: 'request-of-creator' })
    },
  }
  /** Passes until the job is completed, each waiting for the slice it took. */
  async function workToTheEnd(w: World): Promise<void> {
    for (let pass = 0; pass < 10 && (await w.state()) !== 'completed'; pass++) {
      await w.runner.pass()
      await eventually(async () => expect((await w.jobs.slices(JOB_ID)).every((slice) => slice.done || slice.leaseUntil.getTime() === 0)).toBe(true))
    }
  }
  const lockedOut = (userId: string, slice: number, at: Date): BatchItem => ({ userId, slice, status: 'failed', err: LOCKED_OUT, attempts: 0, at })

  it.each(Object.keys(lockOuts))(
    "when the creator is %s while the job runs, then the users left are not deleted: in every slice they are failed with a locked-out person's code, without a pace token, and the job completes",
    async (standing) => {
      // One slice at a time: the later slices are taken after the creator lost their standing.
      const w = batchWorld({ concurrency: 1, maxDeletionsPerSecond: 100 })
      w.engine.during(U1, () => lockOuts[standing]?.(w))
      await w.submit([U1, U2, U3, U4, U5], 2)

      await workToTheEnd(w)

      // U1's deletion had begun: it is finished.
      expect(w.engine.users()).toEqual([U1])
      expect(await w.jobs.itemsPage(JOB_ID, 0, 10)).toEqual([deleted(U1, 0, START), lockedOut(U2, 0, START), lockedOut(U3, 1, START), lockedOut(U4, 1, START), lockedOut(U5, 2, START)])
      expect(w.timeline.count('jobs.takePaceToken')).toBe(1)
      expect(w.breakerChanges).toEqual([])
      const status = await readBatchStatus({ jobs: w.jobs, clock: w.clock }, { caller: CALLER, jobId: JOB_ID, offset: 0, limit: 10 })
      expect(status).toMatchObject({ state: 'completed', total: 5, done: 5, succeeded: 1, failed: { [LOCKED_OUT]: 4 }, progress: 100 })
    },
  )

  it('when the creator is locked out while a user waits for a pace token, then the standing is read again after the wait, and that user is not deleted', async () => {
    const w = batchWorld({ maxDeletionsPerSecond: 1 })
    w.clock.set(new Date(START.getTime() + 900))
    const second = Math.floor(START.getTime() / 1000)
    await w.submit([U1, U2])
    // Another instance spent this second's budget: U1 waits for the next second.
    expect(await w.jobs.takePaceToken(JOB_ID, second)).toBe(1)
    await w.runner.pass()
    await eventually(() => expect(w.timeline.count('jobs.takePaceToken')).toBeGreaterThanOrEqual(2))

    lockOuts.deleted?.(w)
    w.clock.set(new Date(START.getTime() + 1000))
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([lockedOut(U1, 0, w.clock.now()), lockedOut(U2, 0, w.clock.now())])
    // U1 took the next second's first token; U2 took none.
    expect(await w.jobs.takePaceToken(JOB_ID, second + 1)).toBe(2)
  })

  it("when a user's deletion was opened by an earlier try before the creator was locked out, then that deletion is finished and the user recorded deleted, not failed", async () => {
    const w = batchWorld()
    await w.submit([U1, U2])
    // instance-b took the slice, opened U1's request and died; then the creator was deleted.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
    w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'in_progress', START))
    lockOuts.deleted?.(w)
    w.clock.advance(LEASE_MS + 1)

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.resumed).toEqual([batchRequestId(JOB_ID, U1)])
    expect(w.engine.users()).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, w.clock.now()), lockedOut(U2, 0, w.clock.now())])
  })

  it("when the creator's standing cannot be read (Cassandra in trouble), then no user is failed for it: no try of theirs is counted, the faults pause the job, and once Cassandra answers every user is deleted", async () => {
    const w = batchWorld()
    w.users.failNext('findUser', new DependencyUnavailableError('cassandra')).failNext('findUser', new DependencyUnavailableError('cassandra'))
    await w.submit([U1, U2, U3, U4])

    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))

    expect(await w.jobs.items(JOB_ID, 0)).toEqual([pending(U1, 0), pending(U2, 0), pending(U3, 0), pending(U4, 0)])
    expect(w.engine.users()).toEqual([])

    w.clock.advance(COOL_OFF_MS)
    await eventually(async () => expect(await w.state()).toBe('running'))
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect((await w.slice(0))?.tally).toMatchObject({ succeeded: 4, failed: {} })
    expect([...w.engine.users()].sort()).toEqual([U1, U2, U3, U4])
  })

  it('when the API consumer the job was submitted through is no longer admitted (taken out of the consumers file, or its deleteAnyUser trust withdrawn), then no user is deleted: each is failed with the 401 code a single delete of it would get', async () => {
    let admitted = true
    const asked: Caller[] = []
    const w = batchWorld({ maxDeletionsPerSecond: 100 }, undefined, (caller) => {
      asked.push(caller)
      return admitted
    })
    w.engine.during(U1, () => {
      admitted = false
    })
    await w.submit([U1, U2, U3])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    // U1's deletion had begun: it is finished.
    expect(w.engine.users()).toEqual([U1])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, START), lockedOut(U2, 0, START), lockedOut(U3, 0, START)])
    expect(w.timeline.count('jobs.takePaceToken')).toBe(1)
    expect(asked[0]).toMatchObject({ consumer: CALLER.consumer, userId: CREATOR })
  })

  it("when the job is a trusted consumer's, then no standing is read: no person stands behind it", async () => {
    const w = batchWorld()
    const consumer: Caller = { consumer: 'admin-consumer', userId: 'consumer:admin-consumer', roles: [], deleteAnyUser: true }
    await submitBatch({ jobs: w.jobs, clock: w.clock, sliceSize: 2 }, { jobId: JOB_ID, caller: consumer, userIds: [U1, U2] })

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.users.calls).toEqual([])
    expect(w.engine.users()).toEqual([U1, U2])
  })
})

describe('BatchRunner: a managed user whose manager is in the same job', () => {
  /** U1 manages U2: U1's deletion erases U2 too. */
  function managerFirst(w: ReturnType<typeof batchWorld>): void {
    w.managers.set(U2, U1)
    w.engine.during(U1, () => w.engine.markDeleted(U2))
  }

  it("when the manager's deletion erased them before their own turn, then they read deleted, not failed as already deleted", async () => {
    const w = batchWorld()
    managerFirst(w)
    await w.submit([U1, U2, U3])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, START), deleted(U2, 0, START), deleted(U3, 0, START)])
  })

  it("when the manager's deletion is still under way, then they stay pending with no try counted, and read deleted once it is finished", async () => {
    const w = batchWorld()
    managerFirst(w)
    // The manager's run is not finished when U2 is tried: its request reads in progress.
    w.engine.during(U2, () => w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'in_progress', START)))
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(async () => expect(w.engine.calls).toHaveLength(2))
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))

    expect(await w.item(U2)).toEqual(pending(U2, 0))
    w.engine.finishElsewhere(batchRequestId(JOB_ID, U1))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(await w.item(U2)).toEqual(deleted(U2, 0, START))
  })

  it("when the manager's hard deletion erased them (its tombstone names no manager; it holds their deletion state), then they read deleted too", async () => {
    const w = batchWorld()
    // A hard deletion's tombstone: their own deletion finds no user.
    w.engine.refuse(U2, new UserNotFoundError())
    w.engine.during(U1, () => w.states.set(U2, { mode: 'hard', requestId: batchRequestId(JOB_ID, U1) }))
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, START), deleted(U2, 0, START)])
  })

  it('when whose deletion erased them cannot be read (Cassandra in trouble), then they stay pending with no try counted, never failed for it', async () => {
    const w = batchWorld()
    managerFirst(w)
    await w.submit([U1, U2])
    const get = w.engine.get.bind(w.engine)
    // U2's own request, then their manager's: the second read fails once.
    let reads = 0
    w.engine.get = async (requestId) => {
      if (requestId === batchRequestId(JOB_ID, U1) && ++reads === 1) throw new DependencyUnavailableError('cassandra')
      return get(requestId)
    }

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    expect(await w.item(U2)).toEqual(pending(U2, 0))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.item(U2)).toEqual(deleted(U2, 0, START))
  })

  it('when a user was deleted before the job, by a deletion of their own or of another job, then they are failed as already deleted', async () => {
    const w = batchWorld()
    w.managers.set(U2, U1)
    w.engine.markDeleted(U2)
    // Erased with their manager, by another job.
    w.engine.seedRequest(requestOf(batchRequestId('another-job', U1), U1, 'completed', START))
    await w.submit([U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.item(U2)).toEqual({ userId: U2, slice: 0, status: 'failed', err: ALREADY_DELETED, attempts: 0, at: START })
  })
})

describe('BatchRunner: a cancelled job', () => {
  type World = ReturnType<typeof batchWorld>
  /** The job's creator cancels it (the route's write), and the runner's last look at it grows old. */
  async function cancel(w: World): Promise<void> {
    await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
    w.clock.advance(1000)
  }
  /** Passes until the job is completed, each waiting for the slices it took to be done or given back. */
  async function workToTheEnd(w: World): Promise<void> {
    for (let pass = 0; pass < 10 && (await w.state()) !== 'completed'; pass++) {
      await w.runner.pass()
      await eventually(async () => expect((await w.jobs.slices(JOB_ID)).every((slice) => slice.done || slice.leaseUntil.getTime() === 0)).toBe(true))
    }
  }
  const cancelled = (userId: string, slice: number, at: Date, attempts = 0): BatchItem => ({ userId, slice, status: 'cancelled', attempts, at })
  const status = (w: World) => readBatchStatus({ jobs: w.jobs, clock: w.clock }, { caller: CALLER, jobId: JOB_ID, offset: 0, limit: 10 })

  it('when the job is cancelled during a deletion, then that deletion is recorded, no later user of any slice is deleted or waits on the pace, each is recorded cancelled, and the job completes reading cancelled', async () => {
    const w = batchWorld({ concurrency: 1, maxDeletionsPerSecond: 100 })
    w.engine.begun(U1, () => cancel(w))
    await w.submit([U1, U2, U3, U4, U5], 2)

    await workToTheEnd(w)

    const at = w.clock.now()
    expect(w.engine.users()).toEqual([U1])
    expect(await w.jobs.itemsPage(JOB_ID, 0, 10)).toEqual([deleted(U1, 0, at), cancelled(U2, 0, at), cancelled(U3, 1, at), cancelled(U4, 1, at), cancelled(U5, 2, at)])
    expect(w.timeline.count('jobs.takePaceToken')).toBe(1)
    expect(w.breakerChanges).toEqual([])
    expect((await w.slice(1))?.tally).toMatchObject({ succeeded: 0, failed: {}, cancelled: 2 })
    expect(await status(w)).toMatchObject({ state: 'cancelled', total: 5, done: 5, succeeded: 1, failed: {}, cancelled: 4, progress: 100, etaSeconds: 0 })
  })

  it('when this instance recorded the cancel (its cancel route), then its runner begins no further deletion at once, without waiting for its next look', async () => {
    const w = batchWorld({ concurrency: 1 })
    // No time passes: the runner's last look (no cancel) is still fresh.
    w.engine.begun(U1, async () => {
      await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
      w.runner.cancelSeen(JOB_ID)
    })
    await w.submit([U1, U2, U3])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([U1])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, START), cancelled(U2, 0, START), cancelled(U3, 0, START)])
  })

  it('when this instance records the cancel while a deletion is still in its reads, before its request is created, then that deletion is withdrawn: the user is recorded cancelled, no request opened, however long the reads took', async () => {
    const w = batchWorld({ concurrency: 1 })
    // No time passes: the runner's look before the deletion (no cancel) is still fresh when its create comes.
    w.engine.during(U1, async () => {
      await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
      w.runner.cancelSeen(JOB_ID)
    })
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.begunFor).toEqual([])
    expect(w.engine.users()).toEqual([U1])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([cancelled(U1, 0, START), cancelled(U2, 0, START)])
    expect(w.breakerChanges).toEqual([])
  })

  it('when this instance records the cancel while a user’s checks are under way and they fail (no such user), then that user reads failed with its code, not cancelled (the last look comes only before a create, docs/integrating.md), and the users after them read cancelled', async () => {
    const w = batchWorld({ concurrency: 1 })
    w.engine.during(U1, async () => {
      await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
      w.runner.cancelSeen(JOB_ID)
    })
    w.engine.refuse(U1, new UserNotFoundError())
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.begunFor).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([{ userId: U1, slice: 0, status: 'failed', err: NOT_FOUND, attempts: 0, at: START }, cancelled(U2, 0, START)])
  })

  it('when this instance records the cancel while the look right before a create is under way, having read the job before the cancel, then that deletion is withdrawn all the same', async () => {
    const w = batchWorld({ concurrency: 1 })
    const get = w.jobs.get.bind(w.jobs)
    let holdNextRead = false
    const readDone = deferred()
    const answer = deferred()
    // The look reads the job (not cancelled yet), and its answer is slow to come back.
    w.jobs.get = async (jobId) => {
      if (!holdNextRead) return get(jobId)
      holdNextRead = false
      const read = await get(jobId)
      readDone.resolve()
      await answer.promise
      return read
    }
    // The deletion's reads outlast the runner's last look: the look before its create reads the job again.
    w.engine.during(U1, () => {
      w.clock.advance(1000)
      holdNextRead = true
    })
    await w.submit([U1])

    await w.runner.pass()
    await readDone.promise
    await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
    w.runner.cancelSeen(JOB_ID)
    answer.resolve()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.begunFor).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([cancelled(U1, 0, w.clock.now())])
  })

  it('when another instance records the cancel while a deletion here is in its reads, then the deletion is withdrawn once this runner looks again (a second after its last look), not begun whatever the reads took', async () => {
    const w = batchWorld({ concurrency: 1 })
    // The reads outlast the runner's last look: the cancel, recorded elsewhere, is read before the create.
    w.engine.during(U1, () => cancel(w))
    await w.submit([U1])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.begunFor).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([cancelled(U1, 0, w.clock.now())])
  })

  it('when the look right before the create cannot be read (Cassandra in trouble), then the deletion is withdrawn, not begun on a guess: no try of the user counted, and they are deleted once a look goes through', async () => {
    const w = batchWorld({ breaker: { ...SETTINGS.breaker, minAttempts: 10 } })
    const get = w.jobs.get.bind(w.jobs)
    let failLook = false
    w.jobs.get = async (jobId) => {
      if (failLook) {
        failLook = false
        throw new DependencyUnavailableError('cassandra')
      }
      return get(jobId)
    }
    // The reads outlast the runner's last look, and the next one fails.
    w.engine.during(U1, () => {
      w.clock.advance(1000)
      failLook = true
    })
    await w.submit([U1])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    expect(await w.item(U1)).toMatchObject({ status: 'pending', attempts: 0 })
    expect(w.engine.begunFor).toEqual([])
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.begunFor).toEqual([U1])
    expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
  })

  it('when the job is not cancelled, then a slice of users worked in the same second reads the job once for its cancel, not once per user', async () => {
    const w = batchWorld()
    await w.submit([U1, U2, U3, U4, U5])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([U1, U2, U3, U4, U5])
    // One read for the job the slice is taken for, one look at its cancel.
    expect(w.timeline.count('jobs.get')).toBe(2)
  })

  it("when a user's deletion was opened by an earlier try before the cancel, then it is finished and the user recorded deleted; the others are recorded cancelled", async () => {
    const w = batchWorld()
    await w.submit([U1, U2])
    // instance-b took the slice, opened U1's request and died; then the job was cancelled.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
    w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'in_progress', START))
    await cancel(w)
    w.clock.advance(LEASE_MS)

    await workToTheEnd(w)

    expect(w.engine.resumed).toEqual([batchRequestId(JOB_ID, U1)])
    expect(w.engine.users()).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, w.clock.now()), cancelled(U2, 0, w.clock.now())])
  })

  it('when the job is cancelled while a user waits for a pace token, then that user is not deleted and takes no further token', async () => {
    const { w } = await waitingForPace()
    const second = Math.floor(START.getTime() / 1000)

    await cancel(w)
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([cancelled(U1, 0, w.clock.now())])
    // Only the other instance's token was ever taken in the next second.
    expect(await w.jobs.takePaceToken(JOB_ID, second + 1)).toBe(1)
  })

  it('when the job is cancelled while its breaker is open, then its users are recorded cancelled without waiting out the cool-off, their tries kept', async () => {
    const w = batchWorld()
    w.engine.down = true
    await w.submit([U1, U2, U3, U4])
    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))

    await cancel(w)
    // U1 and U2, left pending by their faults, are settled when the slice is taken again.
    await workToTheEnd(w)

    const at = w.clock.now()
    expect(w.engine.users()).toEqual([U1, U2])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([cancelled(U1, 0, at, 1), cancelled(U2, 0, at, 1), cancelled(U3, 0, at), cancelled(U4, 0, at)])
    expect(await status(w)).toMatchObject({ state: 'cancelled', done: 4, succeeded: 0, cancelled: 4 })
  })

  it('when the look at the cancel cannot be read (Cassandra in trouble), then no deletion begins on a guess: no try of the user is counted, and the user is deleted once a look goes through', async () => {
    // One fault in two tries would open the default breaker: not what this case is about.
    const w = batchWorld({ breaker: { ...SETTINGS.breaker, minAttempts: 10 } })
    await w.submit([U1, U2])
    const get = w.jobs.get.bind(w.jobs)
    let looks = 0
    // The first read is the job's, for the slice; the second the look at its cancel.
    w.jobs.get = async (jobId) => {
      if (++looks === 2) throw new DependencyUnavailableError('cassandra')
      return get(jobId)
    }

    // Passes of its own: workToTheEnd's reads of the job would be counted.
    await w.runner.pass()
    await eventually(async () => expect((await w.item(U2))?.status).toBe('deleted'))
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([U2, U1])
    expect(await w.item(U1)).toEqual(deleted(U1, 0, START))
  })

  it('when several slices of a job look at its cancel at once, then they share one read', async () => {
    const w = batchWorld({ concurrency: 2 })
    await w.submit([U1, U2, U3, U4], 2)
    // A read that takes a while, as Cassandra's does: both slices ask while the first look is under way.
    const get = w.jobs.get.bind(w.jobs)
    w.jobs.get = async (jobId) => {
      await new Promise((resolve) => setTimeout(resolve, 20))
      return get(jobId)
    }

    await w.runner.pass()
    await eventually(async () => expect((await w.jobs.slices(JOB_ID)).every((slice) => slice.done)).toBe(true))

    expect(w.engine.users().sort()).toEqual([U1, U2, U3, U4])
    // One read of the job for the slices taken, one look at its cancel for both.
    expect(w.timeline.count('jobs.get')).toBe(2)
  })

  it('when finishing the requests earlier tries opened for a cancelled job’s users meets a dependency in trouble, pass after pass, then its breaker never opens (its users spared by the cancel give every probe back: it might never close again), and each user is reported once, not once per pass; once it recovers they read deleted and the job completes', async () => {
    const w = batchWorld()
    const users = [U1, U2, U3, U4]
    for (const userId of users) w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, userId), userId, 'in_progress', START))
    await w.submit(users)
    // instance-b took the slice, opened every user's request and died; then the job was cancelled.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
    const before = await w.state()
    await cancel(w)
    w.clock.advance(LEASE_MS)
    w.engine.down = true

    for (let pass = 0; pass < 3; pass++) {
      await w.runner.pass()
      await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    }

    expect(w.engine.resumed).toHaveLength(3 * users.length)
    expect(w.breakerChanges).toEqual([])
    expect(await w.state()).toBe(before)
    expect(w.errors).toEqual(users.map(() => expect.any(DependencyUnavailableError)))
    expect(await w.jobs.items(JOB_ID, 0)).toEqual(users.map((userId) => pending(userId, 0)))

    w.engine.down = false
    await workToTheEnd(w)

    expect(await w.state()).toBe('completed')
    expect(await w.jobs.items(JOB_ID, 0)).toEqual(users.map((userId) => deleted(userId, 0, w.clock.now())))
    expect(w.engine.users()).toEqual([])
  })

  it('when a cancelled job’s user may have an earlier request and it cannot be looked for (Cassandra in trouble), then they stay pending with no try counted, never failed, and are recorded cancelled once it can', async () => {
    const w = batchWorld({ maxAttempts: 1 })
    await w.submit([U1])
    // U1 was tried once: an earlier request of theirs may exist.
    expect(await w.jobs.recordItem(JOB_ID, pending(U1, 0, 1), new Date(START.getTime() + 1))).toBe(true)
    await cancel(w)
    const get = w.engine.get.bind(w.engine)
    let reads = 0
    w.engine.get = async (requestId) => {
      if (++reads === 1) throw new DependencyUnavailableError('cassandra')
      return get(requestId)
    }

    await workToTheEnd(w)

    expect(await w.item(U1)).toEqual(cancelled(U1, 0, w.clock.now(), 1))
    expect(w.engine.users()).toEqual([])
  })
})
