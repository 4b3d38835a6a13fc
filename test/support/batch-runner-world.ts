import { expect, vi } from 'vitest'
import { InMemoryBatchJobs } from './fakes/in-memory-batch-jobs.js'
import { InMemoryUserDeletionStates } from './fakes/in-memory-user-deletion-states.js'
import { InMemoryUserStore } from './fakes/in-memory-user-store.js'
import { ManualClock, Timeline } from './fakes/timeline.js'
import { DeletedUserGate } from '../../src/auth/deleted-user-gate.js'
import { submitBatch } from '../../src/deletion/batch-job.js'
import type { ErrorClassifier } from '../../src/deletion/batch-attempt.js'
import { BatchRunner, type BatchRunnerSettings } from '../../src/deletion/batch-runner.js'
import type { Caller } from '../../src/deletion/caller.js'
import type { DeletionInput, DeletionOutcome } from '../../src/deletion/delete-account.js'
import type { DeletionRequest, RequestState } from '../../src/deletion/deletion-request.js'
import {
  CallerLockedOutError,
  DeletionWithdrawnError,
  DependencyUnavailableError,
  RequestAlreadyOpenedError,
  RoleRestrictedError,
  UserAlreadyDeletedError,
  UserNotFoundError,
} from '../../src/deletion/errors.js'
import type { BatchItem, Clock } from '../../src/deletion/ports.js'
import { lockOutStanding } from '../../src/deletion/user-condition.js'

// What the batch runner's tests share: the Sunbird codes, settings, a deletion engine stand-in
// (FakeEngine) and a world of in-memory jobs, users and runners (batchWorld).

/** A whole second, so the pace budget's seconds read plainly. */
export const START = new Date(Date.UTC(2024, 4, 20, 10, 8, 56, 0))
export const LEASE_MS = 30_000
export const COOL_OFF_MS = 10_000
export const JOB_ID = 'job-1'
export const CREATOR = 'creator-1'
export const CALLER: Caller = { consumer: 'consumer-1', userId: CREATOR, roles: [{ role: 'ORG_ADMIN', organisationIds: ['org-1'] }] }
export const [U1, U2, U3, U4, U5] = ['user-1', 'user-2', 'user-3', 'user-4', 'user-5'] as const

/** The Sunbird codes the service answers with, as compose.ts classifies: a dependency in trouble is a fault, the rest is the user's own answer. */
export const UNAVAILABLE = 'UOS_USRDLT0064'
export const NOT_FOUND = 'UOS_USRDLT0013'
export const ROLE_RESTRICTED = 'UOS_USRDLT0083'
export const ALREADY_DELETED = 'UOS_USRDLT0008'
/** What a single delete by a locked-out person answers (401). */
export const LOCKED_OUT = 'UOS_0070'
const classify: ErrorClassifier = (err) => {
  if (err instanceof CallerLockedOutError) return { code: LOCKED_OUT, fault: false }
  if (err instanceof DependencyUnavailableError) return { code: UNAVAILABLE, fault: true }
  if (err instanceof UserNotFoundError) return { code: NOT_FOUND, fault: false }
  if (err instanceof RoleRestrictedError) return { code: ROLE_RESTRICTED, fault: false }
  if (err instanceof UserAlreadyDeletedError) return { code: ALREADY_DELETED, fault: false }
  return { code: 'UOS_0069', fault: true }
}

export const SETTINGS: BatchRunnerSettings = {
  maxDeletionsPerSecond: 0,
  concurrency: 2,
  leaseMs: LEASE_MS,
  // No timer: each test runs the passes itself.
  pollIntervalMs: 0,
  maxAttempts: 3,
  breaker: { windowMs: 60_000, minAttempts: 2, failureRate: 0.5, coolOffMs: COOL_OFF_MS },
}

export function requestOf(id: string, userId: string, state: RequestState, at: Date): DeletionRequest {
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

/** Stops every runner a world made: a runner left waiting (breaker, pace) ends here, its slices given back. Each test file calls it after each test. */
export async function stopRunners(): Promise<void> {
  await Promise.all(runners.splice(0).map((runner) => runner.stop()))
}

export function batchWorld(settings: Partial<BatchRunnerSettings> = {}, schemaReady?: () => Promise<boolean>, consumerAdmitted?: (caller: Caller) => boolean) {
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
export async function waitingForPace() {
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
export async function dwellBegins(w: ReturnType<typeof batchWorld>, runner = w.runner): Promise<void> {
  const taken = w.timeline.count('jobs.acquireSlice')
  await runner.pass()
  expect(w.timeline.count('jobs.acquireSlice')).toBe(taken + 1)
  await eventually(async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(w.clock.now().getTime()))
  expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 0))
}

/** Waits for work the runner does in the background (a pass starts a slice's work and does not await it). */
export const eventually = (assertion: () => unknown, timeout = 3000) => vi.waitFor(assertion, { timeout, interval: 5 })

export const deleted = (userId: string, slice: number, at: Date, attempts = 0): BatchItem => ({ userId, slice, status: 'deleted', attempts, at })
export const pending = (userId: string, slice: number, attempts = 0): BatchItem => ({ userId, slice, status: 'pending', attempts })
