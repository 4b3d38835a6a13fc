import { batchRequestId, tally } from './batch-job.js'
import type { Caller } from './caller.js'
import { type Admission, type BreakerSettings, CircuitBreaker } from './circuit-breaker.js'
import type { DeletionInput, DeletionOutcome } from './delete-account.js'
import { type DeletionRequest, type RequestState, isFinished } from './deletion-request.js'
import { CallerLockedOutError, DeletionWithdrawnError, RequestAlreadyOpenedError, UserAlreadyDeletedError, UserNotFoundError } from './errors.js'
import { FencePassedError } from './lease.js'
import { OWN_ACCOUNT_DWELL_MS } from './own-account-dwell.js'
import type { BatchItem, BatchJob, BatchJobStore, BatchSliceState, Clock, DeletionRequestStore } from './ports.js'
import { leaseEnd, SliceLease } from './slice-lease.js'

export interface BatchRunnerSettings {
  /** BATCH_MAX_DELETIONS_PER_SECOND: per job, across every instance; 0: no limit. */
  maxDeletionsPerSecond: number
  /** Slices this instance works at once. */
  concurrency: number
  /** How long a slice stays with an instance that stops renewing it (crash). */
  leaseMs: number
  /** How often the instance looks for open jobs and free slices. */
  pollIntervalMs: number
  /** Tries of one user that meet an unavailable dependency before it is reported failed. */
  maxAttempts: number
  breaker: BreakerSettings
}

/** How an error of one user's deletion is reported: its code, and whether it is a dependency in trouble (retried, counted by the breaker). */
export type ErrorClassifier = (err: unknown) => { code: string; fault: boolean }

export interface BatchRunnerDeps {
  jobs: BatchJobStore
  requests: Pick<DeletionRequestStore, 'get'>
  /**
   * What tells whose deletion erased a user found already deleted: the request holding their
   * deletion state (a hard deletion holds its managed users), and whom their row names as manager
   * (Sunbird's deletion holds none; a hard deletion's tombstone names none). Absent: not looked at.
   */
  erasedBy?(userId: string): Promise<{ heldBy?: string | undefined; managedBy?: string | null | undefined }>
  /**
   * The deletion engine, as a single delete runs it: `state`, what its run settled the request in
   * (absent when it did not settle it: handed over to the sweeper). Anything but completed leaves
   * steps owed.
   */
  deleteAccount(input: DeletionInput): Promise<DeletionOutcome | undefined>
  /** Finishes an open deletion request (resumeDeletion). */
  resumeDeletion(requestId: string): Promise<unknown>
  classify: ErrorClassifier
  /**
   * Whether a person is locked out (deleted, soft-deleted or being deleted), as the HTTP lock-out
   * judges their token: the same cached gate, so asking before every user costs at most one
   * Cassandra read per person per cache lifetime. A read that fails throws.
   */
  isLockedOut(userId: string): Promise<boolean>
  /**
   * Whether the job's API consumer would be admitted now (still in the consumers file; trusted with
   * deleteAnyUser when its job rests on that). Absent: always.
   */
  consumerAdmitted?(caller: Caller): boolean
  clock: Clock
  /** This instance's name in the slice leases. */
  instanceId: string
  settings: BatchRunnerSettings
  /** Whether the keyspace has this build's schema: no slice is taken before it has (schemaGate). */
  schemaReady?(): Promise<boolean>
  /** Told when a job's breaker opens or closes. */
  onBreaker?(jobId: string, change: 'opened' | 'closed'): void
  onError?(err: unknown): void
}

/**
 * What became of one try of a user: deleted; failed for a reason of their own; a fault (a dependency
 * in trouble: tried again, counted by the breaker); or not tried to the end, the user left pending
 * as they were: their request still another runner's (busy), the instance stopping, the slice lost.
 */
type Outcome =
  /** `owed`: their deletion still owes steps (its request partial, or handed to the sweeper unfinished). */
  | { status: 'deleted'; owed?: true }
  | { status: 'failed'; err: string }
  | { status: 'fault'; err: string }
  | { status: 'cancelled' }
  | { status: 'busy' }
  /** The job's own read (its cancel, its creator's standing, the pace budget) met a dependency in trouble before the deletion: no try of the user's, a fault for the breaker. */
  | { status: 'unread' }
  /**
   * Looking for the request an earlier try may have opened, or finishing it, met a dependency in
   * trouble (`cause`): no try of the user's (their deletion may be under way), a fault for the
   * breaker unless `ofCancelledJob`.
   */
  | { status: 'unsettled'; cause: unknown; ofCancelledJob: boolean }
  | { status: 'stopped' }
  | { status: 'lease lost' }

/** How long a runner trusts its last look at whether a job was cancelled: a cancel is seen within about this, at one read per job and instance, not one per user. */
const CANCEL_LOOK_MS = 1000

/**
 * The job's creator's own account (a person's job listing its creator): deleted last, once every
 * other user of the job is settled and OWN_ACCOUNT_DWELL_MS more have passed (so the creator's CLI
 * reads that before it is locked out). Deleted earlier, it would lock the creator out at once (the
 * users after it failed as a single delete of theirs would be) and leave nobody able to read how
 * the job ended: a creator who administers no organisation has nobody else who may follow it.
 * A trusted consumer's job has no person behind it (its caller names the consumer).
 */
const isOwnAccount = (job: BatchJob, item: Pick<BatchItem, 'userId'>) => !job.caller.deleteAnyUser && item.userId === job.caller.userId

/** The slice's users in their order, the creator's own account moved last (see isOwnAccount). */
const ownAccountLast = (job: BatchJob, items: BatchItem[]) => [...items.filter((item) => !isOwnAccount(job, item)), ...items.filter((item) => isOwnAccount(job, item))]

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * A user deleted by a request in this state: owing steps unless it is completed (partial: a step owed
 * to a store that was down; unknown: the run handed it to the sweeper unfinished), retried until
 * done. A cancelled soft deletion (or one being cancelled) owes nothing of the job's.
 */
const deletedAs = (state: RequestState | undefined): Outcome => (state === 'completed' || (state !== undefined && cancelledSince(state)) ? { status: 'deleted' } : { status: 'deleted', owed: true })

/** A soft deletion (or a grace period) the person took back, or is taking back: it was carried out first. */
const cancelledSince = (state: RequestState) => state === 'cancelling' || state === 'cancelled'

/**
 * Works batch jobs on this instance, beside every other instance: each pass lists the open jobs and
 * takes free slices (a lease, the one lightweight transaction per slice) up to `concurrency`; a
 * slice's users are deleted one after another, each through the deletion engine with the job's
 * caller and a request id derived from job and user (so a slice taken over after a crash finishes
 * that user's request instead of opening a second one), its create fenced by the slice lease
 * while no earlier try can have opened it. Every deletion first takes a token of the
 * job's per-second budget shared in Cassandra. A breaker per job pauses the work when too many
 * attempts meet a dependency in trouble. A person's job runs on their authority only while the
 * lock-out would let them in: once it would refuse them, the users not begun are failed as a
 * single delete of theirs would be; so the creator's own account, when the job lists it, is
 * deleted last, OWN_ACCOUNT_DWELL_MS after every other user is settled (isOwnAccount). Once the job is cancelled, no deletion begins: a user whose
 * deletion an earlier try began is finished from its request, every other is recorded cancelled.
 * `stop()` ends the work after the deletions in flight and gives the slices back, so another
 * instance carries on at once.
 */
export class BatchRunner {
  private timer: NodeJS.Timeout | undefined
  private stopping = false
  /** The pass under way, if any: stop() waits for it, so none reads or takes a slice after the stores close. */
  private passInFlight: Promise<void> | undefined
  private readonly working = new Map<string, Promise<void>>()
  private readonly breakers = new Map<string, CircuitBreaker>()
  private readonly jobCache = new Map<string, BatchJob>()
  /** The last look at each job's cancel: when, and what it found. */
  private readonly cancelLooks = new Map<string, { at: number; cancelled: boolean; look: Promise<boolean> }>()
  /** Per cancelled job, its users whose unsettled outcome was reported, until they settle otherwise (reportUnsettled). */
  private readonly unsettledReported = new Map<string, Set<string>>()
  /**
   * Per job, the slice holding its creator's own account once this instance found it waiting, and
   * when (by this instance's clock) it first found every other user settled: the dwell is measured
   * from then on this clock alone, never against a time another instance's clock stamped (see ownAccountTurn).
   */
  private readonly ownAccountSlice = new Map<string, { slice: number; othersSettledSeenAt?: number }>()

  constructor(private readonly deps: BatchRunnerDeps) {}

  start(): void {
    if (this.deps.settings.pollIntervalMs <= 0) return
    this.timer = setInterval(() => void this.pass(), this.deps.settings.pollIntervalMs)
    this.timer.unref()
  }

  /** Looks for work now (e.g. right after a job is submitted). */
  kick(): void {
    if (this.timer) void this.pass()
  }

  async stop(): Promise<void> {
    this.stopping = true
    if (this.timer) clearInterval(this.timer)
    // A slice the pass takes meanwhile is seen stopping by its work, which gives it back at once.
    await this.passInFlight
    await Promise.all(this.working.values())
  }

  /** One look for work: takes free slices of open jobs up to the concurrency. Never throws. */
  async pass(): Promise<void> {
    if (this.stopping || this.passInFlight) return
    this.passInFlight = this.lookForWork().finally(() => {
      this.passInFlight = undefined
    })
    await this.passInFlight
  }

  private async lookForWork(): Promise<void> {
    try {
      // A full instance reads nothing: the scans cost the shared cluster on every pass.
      if (this.full()) return
      if (this.deps.schemaReady && !(await this.deps.schemaReady())) return
      if (this.stopping) return
      const open = await this.deps.jobs.listOpen()
      this.forgetClosed(open)
      for (const jobId of open) {
        if (this.stopping || this.full()) return
        // One job's trouble (a row that cannot be read, a compare-and-set timing out) does not keep the pass from the jobs after it.
        await this.lookAtJob(jobId).catch((err: unknown) => this.deps.onError?.(err))
      }
    } catch (err) {
      this.deps.onError?.(err)
    }
  }

  /** Completes the job when every slice is done, else takes its free slices up to this instance's concurrency. */
  private async lookAtJob(jobId: string): Promise<void> {
    const slices = await this.deps.jobs.slices(jobId)
    if (slices.every((slice) => slice.done)) {
      await this.deps.jobs.complete(jobId)
      this.forget(jobId)
      return
    }
    const now = this.deps.clock.now()
    // While the job's breaker is open no slice is taken (its cool-off ends with one that probes): a
    // dependency in trouble is not asked to lease, list and give back slices every pass. A cancelled
    // job is not held back (its users are settled without deletions): its cancel is looked at, at
    // most once per CANCEL_LOOK_MS (the job's row is cached once it has a breaker).
    if (this.breakers.get(jobId)?.state(now.getTime()) === 'open') {
      const cached = this.jobCache.get(jobId)
      if (!cached || !(await this.cancelledOrNotKnown(cached))) return
    }
    for (const slice of slices) {
      if (this.full() || this.stopping) return
      const key = `${jobId}/${slice.slice}`
      if (slice.done || this.working.has(key) || slice.leaseUntil > now) continue
      // The slice left with only the creator's own account pending is not taken (and given back) every
      // pass while the job's other slices are worked, nor during its dwell: its turn comes once they
      // are all done and the dwell is over. A cancel is looked at (at most once per CANCEL_LOOK_MS), so
      // a cancel during the dwell settles the own account at once.
      if (await this.ownAccountWaits(jobId, slice.slice, slices, now.getTime())) continue
      const until = leaseEnd(this.deps.clock, this.deps.settings.leaseMs)
      // A slice read never taken is taken as such only if it still is: its users' creates then
      // need no compare-and-set (attempt), as no try of theirs can exist, however stale the read.
      if (!(await this.deps.jobs.acquireSlice(jobId, slice.slice, this.deps.instanceId, now, until, !slice.taken))) continue
      // Taken but not worked (the job's row unreadable): given back at once, not held until the lease runs out.
      let job: BatchJob | undefined
      try {
        job = await this.job(jobId)
      } finally {
        if (!job) await this.deps.jobs.releaseSlice(jobId, slice.slice, this.deps.instanceId).catch(() => undefined)
      }
      // No job row (yet): its other slices are left alone this pass, not taken and given back each.
      if (!job) return
      const work = this.workSlice(job, slice.slice, slice.taken, until)
        .catch((err: unknown) => this.sliceFailed(jobId, err))
        .finally(() => this.working.delete(key))
      this.working.set(key, work)
    }
  }

  private full(): boolean {
    return this.working.size >= this.deps.settings.concurrency
  }

  private async job(jobId: string): Promise<BatchJob | undefined> {
    const cached = this.jobCache.get(jobId)
    if (cached) return cached
    const job = await this.deps.jobs.get(jobId)
    if (job) this.jobCache.set(jobId, job)
    return job
  }

  private forget(jobId: string): void {
    this.jobCache.delete(jobId)
    this.breakers.delete(jobId)
    this.cancelLooks.delete(jobId)
    this.unsettledReported.delete(jobId)
    this.ownAccountSlice.delete(jobId)
  }

  /**
   * Forgets the jobs no longer listed open that this instance holds no slice of: a job is completed
   * by whichever instance finds its last slice done, and every other that worked it would keep its
   * job and breaker for as long as it runs.
   */
  private forgetClosed(open: readonly string[]): void {
    const listed = new Set(open)
    const worked = new Set([...this.working.keys()].map((key) => key.slice(0, key.lastIndexOf('/'))))
    for (const jobId of new Set([...this.jobCache.keys(), ...this.breakers.keys(), ...this.cancelLooks.keys(), ...this.unsettledReported.keys(), ...this.ownAccountSlice.keys()])) {
      if (!listed.has(jobId) && !worked.has(jobId)) this.forget(jobId)
    }
  }

  private breaker(jobId: string): CircuitBreaker {
    let breaker = this.breakers.get(jobId)
    if (!breaker) {
      breaker = new CircuitBreaker(this.deps.settings.breaker)
      this.breakers.set(jobId, breaker)
    }
    return breaker
  }

  /**
   * Deletes the slice's pending users; gives the slice back when some stay pending (stop, breaker).
   * `takenBefore`: an instance worked the slice before (and may have died mid-user). `heldUntil`:
   * the end of the lease just taken, renewed as the work goes on, waits included. Once the lease is
   * lost (a renewal refused, or an outcome refused because the lease ran out during a deletion)
   * nothing more of the slice is written or tried: it may be another instance's now, which settles
   * that user from the request their deletion opened.
   */
  private async workSlice(job: BatchJob, slice: number, takenBefore: boolean, heldUntil: Date): Promise<void> {
    const { jobs, clock, settings } = this.deps
    const lease = new SliceLease({ jobs, clock, instanceId: this.deps.instanceId, leaseMs: settings.leaseMs }, job.id, slice, heldUntil)
    let settled = true
    let leaseLost = false
    let shownRunning = false
    // Every user's outcome, settled before or now: counted once the slice is done.
    const outcomes: BatchItem[] = []
    try {
      for (const item of ownAccountLast(job, await jobs.items(job.id, slice))) {
        if (item.status !== 'pending') {
          outcomes.push(item)
          continue
        }
        // The creator's own account waits for every other user of the job to settle, then for
        // OWN_ACCOUNT_DWELL_MS: the slice is given back meanwhile. Only a slice whose other users are
        // all settled is skipped while the job's other slices are worked (and during the dwell): one
        // with a user left pending (a fault) is taken again at the next pass, so that user is not kept waiting.
        if (isOwnAccount(job, item)) {
          const turn = settled ? await this.ownAccountTurn(job, slice) : 'others pending'
          if (turn !== 'now') {
            if (settled && turn === 'others pending') this.ownAccountSlice.set(job.id, { slice })
            settled = false
            continue
          }
        }
        const go = await this.waitForBreaker(job, lease)
        if (go === 'lease lost' || go === 'stopped') {
          if (go === 'lease lost')
            leaseLost = true // another instance has it now
          else settled = false
          return
        }
        // Only an attempt the breaker let through may hold its probe: a cancelled job's passes it by.
        const admission = go === 'cancelled' ? undefined : go
        const giveBackProbe = () => admission && this.breaker(job.id).abandon(admission)
        const outcome = await this.attempt(job, item, takenBefore || item.attempts > 0, lease)
        if (outcome.status === 'unread' || outcome.status === 'unsettled') {
          // The user stays pending with no try counted; the breaker hears the fault, as the attempt's
          // own (a probe's reopens it for another cool-off, not given back to be taken at once again).
          // A restarted job whose users all may have an earlier try meets an outage here: counted, it
          // pauses the job instead of asking the dependency again for every user. Not a cancelled
          // job's user, admitted or not: such a job begins no deletion, and its users spared by the
          // cancel give every probe back, so a breaker it opened might never close (the job paused,
          // its breaker reported open, for good); nor an outcome without admission, never the breaker's.
          if (admission && !(outcome.status === 'unsettled' && outcome.ofCancelledJob)) await this.recordForBreaker(job.id, true, admission)
          else giveBackProbe()
          if (outcome.status === 'unsettled') this.reportUnsettled(job.id, item.userId, outcome)
          settled = false
          continue
        }
        // Any other outcome: the outage, as this user met it, is over (reportUnsettled).
        this.unsettledReported.get(job.id)?.delete(item.userId)
        if (outcome.status === 'lease lost' || outcome.status === 'stopped' || outcome.status === 'busy') {
          // Not tried to the end: nothing to tell the breaker, and the user stays pending as they are.
          giveBackProbe()
          if (outcome.status === 'lease lost') {
            leaseLost = true
            return
          }
          settled = false
          if (outcome.status === 'stopped') return
          continue // busy: the others of the slice go on; this one is tried again when the slice is taken again
        }
        // Only an attempt the breaker let through tells it its outcome: not a user the cancel spared,
        // nor one settled past the breaker for a cancelled job.
        if (admission && outcome.status !== 'cancelled') await this.recordForBreaker(job.id, outcome.status === 'fault', admission)
        else giveBackProbe()
        // Another instance's breaker may have left the job reading paused (it stopped, or lost its
        // slices, before its breaker closed): this one deletes with its own closed, so the job runs.
        if (!shownRunning && admission === 'attempt' && outcome.status === 'deleted' && this.breaker(job.id).state(clock.now().getTime()) === 'closed') {
          shownRunning = true
          await jobs.setState(job.id, 'running').catch(() => undefined)
        }
        const attempts = item.attempts + (outcome.status === 'fault' ? 1 : 0)
        const gaveUp = outcome.status === 'fault' && attempts >= settings.maxAttempts
        const recorded: BatchItem =
          outcome.status === 'deleted' || outcome.status === 'cancelled'
            ? { ...item, status: outcome.status, attempts, at: clock.now(), ...(outcome.status === 'deleted' && outcome.owed && { owed: true }) }
            : outcome.status === 'failed' || gaveUp
              ? { ...item, status: 'failed', err: outcome.err, attempts, at: clock.now() }
              : { ...item, attempts }
        // An outcome not recorded leaves the item pending in the store: the slice is not done, and
        // the item's next try finds its request and records what became of it.
        const stored = await jobs.recordItem(job.id, recorded, lease.heldUntil).then(
          (landed) => (landed ? 'stored' : 'lease lost'),
          (err: unknown) => {
            this.deps.onError?.(err)
            return 'failed'
          },
        )
        if (stored === 'lease lost') {
          leaseLost = true
          return
        }
        if (recorded.status === 'pending' || stored === 'failed') settled = false
        else outcomes.push(recorded)
      }
      if (settled && !this.stopping && !(await jobs.finishSlice(job.id, slice, tally(outcomes), lease.heldUntil))) leaseLost = true
    } catch (err) {
      // Its users could not be listed, or its finish failed: given back at once for another pass,
      // not held idle until the lease runs out.
      settled = false
      throw err
    } finally {
      if (!leaseLost && (!settled || this.stopping)) await jobs.releaseSlice(job.id, slice, this.deps.instanceId).catch(() => undefined)
    }
  }

  /**
   * Whether the creator's own account, in `slice`, may be deleted now: every other slice of the job
   * done, read from the store (what every instance sees alike, before and after a restart, so it is
   * deleted after all the others whichever instance works which slice), and OWN_ACCOUNT_DWELL_MS
   * passed on this instance's clock since this instance first found them so. Measured on one clock,
   * the real time since the last of them settled is at least the dwell whatever the instances'
   * clocks (the times other instances stamped are never compared with this clock: one ahead would
   * hold the own account back by its lead, one behind would spare it the dwell); an instance that
   * restarts, or another, waits a whole dwell from its own first look. A cancelled job's own account
   * reaches no deletion (it is recorded cancelled): it does not wait out the dwell.
   */
  private async ownAccountTurn(job: BatchJob, slice: number): Promise<'now' | 'others pending' | 'dwelling'> {
    const now = this.deps.clock.now().getTime()
    let seenAt = this.ownAccountSlice.get(job.id)?.othersSettledSeenAt
    if (seenAt === undefined) {
      // A slice once done stays done: read until this instance has found them all so, not after.
      const others = (await this.deps.jobs.slices(job.id)).filter((other) => other.slice !== slice)
      if (!others.every((other) => other.done)) return 'others pending'
      seenAt = now
      this.ownAccountSlice.set(job.id, { slice, othersSettledSeenAt: seenAt })
    }
    return (await this.ownAccountMayGo(job, seenAt, now)) ? 'now' : 'dwelling'
  }

  /**
   * Whether the creator's own account, its other users found settled at `seenAt` on this instance's
   * clock, may go now (see ownAccountTurn): the dwell over by this clock, or the job cancelled or no
   * longer known (no deletion to hold back).
   */
  private async ownAccountMayGo(job: BatchJob, seenAt: number, now: number): Promise<boolean> {
    return now - seenAt >= OWN_ACCOUNT_DWELL_MS || (await this.cancelledOrNotKnown(job))
  }

  /**
   * Whether a pass leaves the creator's own slice alone (see ownAccountTurn): its other users
   * settled and another slice of the job still pending, or during the dwell unless the job is
   * cancelled. Jobs whose own account this instance never found waiting are not looked at.
   */
  private async ownAccountWaits(jobId: string, slice: number, slices: readonly BatchSliceState[], now: number): Promise<boolean> {
    const own = this.ownAccountSlice.get(jobId)
    if (own?.slice !== slice) return false
    if (own.othersSettledSeenAt === undefined) return slices.some((other) => other.slice !== slice && !other.done)
    const job = this.jobCache.get(jobId)
    return job !== undefined && !(await this.ownAccountMayGo(job, own.othersSettledSeenAt, now))
  }

  /**
   * The slice's own bookkeeping failed (listing its items, renewing its lease). A dependency fault
   * counts against the job's breaker as a failed deletion does: otherwise a Cassandra in trouble
   * that fails the bookkeeping before any deletion is tried would never pause the job.
   */
  private async sliceFailed(jobId: string, err: unknown): Promise<void> {
    this.deps.onError?.(err)
    if (!this.deps.classify(err).fault) return
    // Closed, it counts in the window; half-open, the slice's work after the cool-off was the probe,
    // and it failed: the breaker opens again (else it stayed half-open, the slice taken every pass).
    const admission = this.breaker(jobId).tryStart(this.deps.clock.now().getTime())
    if (admission) await this.recordForBreaker(jobId, true, admission)
  }

  /** One outcome into the job's breaker (an attempt's, or the bookkeeping's: no admission); a change (opened, closed) is reported and shown. */
  private async recordForBreaker(jobId: string, fault: boolean, admission?: Admission): Promise<void> {
    const change = this.breaker(jobId).record(fault, this.deps.clock.now().getTime(), admission)
    if (change) await this.breakerChanged(jobId, change)
  }

  /**
   * The slice's lease kept (renewed when due). The slice's own bookkeeping: a renewal that fails is
   * not the user's try. Nothing more of the slice is written then (its lease may be lost): false, as
   * for a lease lost, and another pass takes the slice once the lease runs out.
   */
  private async keepLease(jobId: string, lease: SliceLease): Promise<boolean> {
    return lease.keep().catch(async (err: unknown) => {
      await this.sliceFailed(jobId, err)
      return false
    })
  }

  /**
   * Waits while the job's breaker is open, keeping the slice's lease meanwhile (so no other
   * instance takes a slice this one still holds); the admission once an attempt may start (the probe,
   * when the breaker is half-open), 'cancelled' once the job is (its users are then settled without the breaker).
   */
  private async waitForBreaker(job: BatchJob, lease: SliceLease): Promise<Admission | 'cancelled' | 'stopped' | 'lease lost'> {
    const breaker = this.breaker(job.id)
    while (!this.stopping) {
      const admission = breaker.tryStart(this.deps.clock.now().getTime())
      if (admission) return admission
      // A cancelled job's users are settled without a deletion: nothing the breaker guards.
      if (await this.cancelledOrNotKnown(job)) return 'cancelled'
      await sleep(Math.min(250, this.deps.settings.breaker.coolOffMs))
      if (!(await this.keepLease(job.id, lease))) return 'lease lost'
    }
    return 'stopped'
  }

  /**
   * Reports the dependency fault that left a user unsettled. A running job reports each: its breaker
   * bounds them. A cancelled job's has no breaker pacing the passes that take its slices again, so
   * each user is reported once until they settle otherwise (the outage, as they met it, over): a
   * line per user per pass for as long as an outage lasts would flood the log, while none at all
   * would hide why a cancelled job does not complete.
   */
  private reportUnsettled(jobId: string, userId: string, outcome: { cause: unknown; ofCancelledJob: boolean }): void {
    if (outcome.ofCancelledJob) {
      const reported = this.unsettledReported.get(jobId) ?? new Set<string>()
      this.unsettledReported.set(jobId, reported)
      if (reported.has(userId)) return
      reported.add(userId)
    }
    this.deps.onError?.(outcome.cause)
  }

  private async breakerChanged(jobId: string, change: 'opened' | 'closed'): Promise<void> {
    this.deps.onBreaker?.(jobId, change)
    // Shown by the status route; best effort, as the store may be what is in trouble.
    await this.deps.jobs.setState(jobId, change === 'opened' ? 'paused' : 'running').catch(() => undefined)
  }

  /**
   * One user: their request finished if an earlier try opened it, else deleted as a single delete
   * would be. Only a user of a slice worked before, or tried before, can have an earlier try: the
   * others are spared the read (one per deletion of a bulk job), and their request's create is
   * fenced by the slice lease instead of a compare-and-set. A try that locked the user is
   * found all the same, by the "already deleted" below. The lease is checked once the pace token
   * is taken, right before the deletion: the wait for a token may outlast it.
   *
   * The caller (its consumer, its creator's standing: callerRefused) is checked before the pace
   * token, so the users of a refused caller are settled without waiting on the pace, and again
   * right before the deletion, as that wait may outlast the gate's trust in "active". A standing
   * that cannot be read is a fault, never a lock-out. The job's cancel is looked at likewise, first:
   * a cancelled job's users wait on neither; and once more right before the request is created
   * (mayBegin), so the engine's reads, however long, open no window for a cancel to be missed.
   */
  private async attempt(job: BatchJob, item: BatchItem, mayHaveEarlierTry: boolean, lease: SliceLease): Promise<Outcome> {
    const requestId = batchRequestId(job.id, item.userId)
    let callerRefused: boolean
    // The job is cancelled: no deletion begins.
    let withdrawn = false
    try {
      withdrawn = await this.cancelled(job)
      callerRefused = !withdrawn && (await this.callerRefused(job))
      const paced = withdrawn || callerRefused ? 'go' : await this.takePaceToken(job, lease)
      if (paced !== 'go') return { status: paced }
    } catch (err) {
      return this.jobReadFailed(err)
    }
    if (!(await this.keepLease(job.id, lease))) return { status: 'lease lost' }
    // The cancel is looked at once more right before the request is created, past the engine's reads
    // (which may take a while): a cancel this instance answered meanwhile withdraws the deletion. A
    // look that fails withdraws it too, that failure its cause: no deletion is begun on a guess.
    const mayBegin = () =>
      this.cancelled(job).then(
        (cancelled) => !cancelled,
        (err: unknown) => {
          throw new DeletionWithdrawnError(requestId, { cause: err })
        },
      )
    try {
      // A deletion already under way is finished, cancelled job or locked-out creator: the sweeper would finish it anyway.
      const earlier = mayHaveEarlierTry ? await this.settleEarlierIfOpened(job, requestId) : undefined
      if (earlier) return earlier.status === 'unsettled' ? { ...earlier, ofCancelledJob: withdrawn } : earlier
      // Looked at again: the wait for a pace token may have outlasted the last look.
      let refusedNow: boolean
      try {
        withdrawn = await this.cancelled(job)
        refusedNow = !withdrawn && (callerRefused || (await this.callerRefused(job)))
      } catch (err) {
        return this.jobReadFailed(err)
      }
      if (withdrawn) return { status: 'cancelled' }
      if (refusedNow) return this.failure(new CallerLockedOutError())
      // The id follows from job and user, so two runners of one item (a slice taken over while its
      // holder still works it) name the same id. Where an earlier try may exist, its create is the
      // compare-and-set, and the one that finds it taken settles the user from that request instead
      // of opening a second. Where none can, only the slice's next holder, past this lease, can name
      // it: the create is fenced by the lease instead (one lightweight transaction fewer per user).
      // Either way, a create not begun within the lease is not sent: past it, the slice's next holder
      // may have settled this user without a request (recorded cancelled) that this one would then open.
      const fence = mayHaveEarlierTry ? { sentWithin: lease.heldUntil } : { fencedBy: lease.heldUntil }
      const done = await this.deps.deleteAccount({
        requestId,
        requestIdChosenBy: 'derived',
        ...fence,
        mayBegin,
        userId: item.userId,
        caller: job.caller as Caller,
        ...(job.mode && { mode: job.mode }),
      })
      return deletedAs(done?.kind === 'deleted' ? done.state : undefined)
    } catch (err) {
      // Withdrawn right before its create: the job was cancelled meanwhile, or that look failed.
      if (err instanceof DeletionWithdrawnError) return 'cause' in err ? this.jobReadFailed(err.cause) : { status: 'cancelled' }
      // The create was not known in place before the slice lease ended: the slice may be another's.
      if (err instanceof FencePassedError) return { status: 'lease lost' }
      // Another runner of this item opened its request first; or an earlier try whose create was
      // settled late (Cassandra paused, then back) locked the user meanwhile, its request resumed by
      // the sweeper: either way the user is ours, settled from that request.
      const ours = err instanceof RequestAlreadyOpenedError || (err instanceof UserAlreadyDeletedError && (await this.deps.requests.get(requestId).catch(() => undefined)) !== undefined)
      if (ours) return this.settleEarlier(job, requestId).catch((settleErr: unknown) => this.failure(settleErr))
      // Already deleted, or not found at all (a hard deletion's tombstone): perhaps by their manager's deletion in this job.
      const byThisJob = err instanceof UserAlreadyDeletedError || err instanceof UserNotFoundError ? await this.deletedByThisJob(job, item.userId) : undefined
      if (byThisJob) return byThisJob
      // Never a cancelled job's: its users reach no deletion, and a fault looking for or finishing an earlier request is 'unsettled'.
      return this.failure(err)
    }
  }

  /**
   * A user found already deleted whom this job deleted after all: a managed user whose manager is in
   * the job too, erased with the manager (their deletion's managed-users step) before their own turn.
   * Deleted once the manager's request in this job has erased, busy while it is under way; undefined
   * for a user deleted otherwise (their own code, already deleted, stands), or when it cannot be told.
   */
  private async deletedByThisJob(job: BatchJob, userId: string): Promise<Outcome | undefined> {
    if (!this.deps.erasedBy) return undefined
    // A read in trouble is no answer: the user stays pending, tried again, never failed for it.
    try {
      const managers = await this.managersRequest(job, userId)
      // A soft deletion (or a grace period's soft phase) keeps the managed users: not that.
      if (!managers || managers.plan === 'soft') return undefined
      if (managers.state === 'completed' || managers.state === 'partial') return deletedAs(managers.state)
      return isFinished(managers.state) || cancelledSince(managers.state) ? undefined : { status: 'busy' }
    } catch (err) {
      this.deps.onError?.(err)
      return { status: 'busy' }
    }
  }

  /** The request of this job that deleted the user's manager with them: the one holding the user, else their manager's. */
  private async managersRequest(job: BatchJob, userId: string): Promise<DeletionRequest | undefined> {
    const { heldBy, managedBy } = (await this.deps.erasedBy?.(userId)) ?? {}
    if (heldBy && heldBy !== batchRequestId(job.id, userId)) {
      const holder = await this.deps.requests.get(heldBy)
      if (holder && holder.userId !== userId && batchRequestId(job.id, holder.userId) === holder.id) return holder
    }
    return managedBy ? this.deps.requests.get(batchRequestId(job.id, managedBy)) : undefined
  }

  /**
   * This instance recorded the job's cancel (its cancel route): its own slices stop beginning
   * deletions at once, without waiting CANCEL_LOOK_MS for their next look. Other instances see it at that look.
   */
  cancelSeen(jobId: string): void {
    this.cancelLooks.set(jobId, { at: this.deps.clock.now().getTime(), cancelled: true, look: Promise.resolve(true) })
  }

  /**
   * Whether the job was cancelled, as last looked at: looked at again at most once per
   * CANCEL_LOOK_MS per job, one look shared by every slice of it that asks meanwhile (a cancel
   * stands for good). A look that fails throws: no deletion is begun on a guess (the attempt counts
   * it against the breaker, not as a try of the user's), and the next ask looks again. A cancel
   * this instance recorded (cancelSeen) while a look was under way stands, whatever that look read
   * before it: no deletion begins here once the cancel route has answered.
   */
  private async cancelled(job: BatchJob): Promise<boolean> {
    if (job.cancelled) return true
    const seenCancelled = () => this.cancelLooks.get(job.id)?.cancelled === true
    try {
      return (await this.look(job)) || seenCancelled()
    } catch (err) {
      if (seenCancelled()) return true
      throw err
    }
  }

  /** The look itself (see cancelled): the last one while it is fresh, else a read of the job. */
  private async look(job: BatchJob): Promise<boolean> {
    const now = this.deps.clock.now().getTime()
    const last = this.cancelLooks.get(job.id)
    if (last && (now - last.at < CANCEL_LOOK_MS || last.cancelled)) return last.look
    const look = this.deps.jobs.get(job.id).then((stored) => stored?.cancelled !== undefined)
    const entry = { at: now, cancelled: false, look }
    this.cancelLooks.set(job.id, entry)
    try {
      entry.cancelled = await look
      return entry.cancelled
    } catch (err) {
      if (this.cancelLooks.get(job.id) === entry) this.cancelLooks.delete(job.id)
      throw err
    }
  }

  /** The same, for a wait (breaker, pace): a look that fails is reported and the wait goes on; the look right before a deletion is strict. */
  private cancelledOrNotKnown(job: BatchJob): Promise<boolean> {
    return this.cancelled(job).catch((err: unknown) => {
      this.deps.onError?.(err)
      return false
    })
  }

  /**
   * Whether a single delete by the job's caller would now be refused (401), as it was verified when
   * submitting: its API consumer taken out of the consumers file or no longer trusted with
   * deleteAnyUser when the job rests on that, or its creator locked out (see creatorLockedOut).
   */
  private async callerRefused(job: BatchJob): Promise<boolean> {
    if (this.deps.consumerAdmitted && !this.deps.consumerAdmitted(job.caller as Caller)) return true
    return this.creatorLockedOut(job)
  }

  /**
   * Whether the job's creator is locked out now: a person deleted, soft-deleted or being deleted
   * since the submit, whose single delete would be refused. A trusted consumer's job has no person
   * behind it (its caller names the consumer).
   */
  private async creatorLockedOut(job: BatchJob): Promise<boolean> {
    if (job.caller.deleteAnyUser) return false
    // Also when the job itself deleted them: an exception for that would let a stolen admin token
    // list the admin first and keep deleting after the organisation locked the admin out.
    return this.deps.isLockedOut(job.caller.userId)
  }

  /**
   * A read of the job's own (its cancel, its creator's standing, the pace budget) failed before the
   * user's deletion began: not a try of the user's, who stays pending with no try counted (a
   * cancelled job's user is never failed for an outage), but a dependency in trouble is still the
   * attempt's fault for the breaker ('unread': a probe's reopens it).
   */
  private jobReadFailed(err: unknown): Outcome {
    if (!this.deps.classify(err).fault) return this.failure(err)
    this.deps.onError?.(err)
    return { status: 'unread' }
  }

  /** A try that threw: a fault (a dependency in trouble) is tried again, anything else is the item's answer. */
  private failure(err: unknown): Outcome {
    const { code, fault } = this.deps.classify(err)
    return fault ? { status: 'fault', err: code } : { status: 'failed', err: code }
  }

  /**
   * An earlier try of this user opened its request (then the instance died): finish that one, never
   * a second. A dependency failing meanwhile is not a try of the user's: their deletion is under way
   * (the sweeper finishes it), so they stay pending with no try counted, never failed for it. It is
   * the dependency's failure all the same ('unsettled'): the breaker counts it, as it counts a
   * deletion meeting the outage, so a restarted job (every user with an earlier try) pauses too
   * (not a cancelled job's: see workSlice).
   */
  private async settleEarlier(job: BatchJob, requestId: string): Promise<Outcome> {
    try {
      return await this.settleFrom(job, requestId)
    } catch (err) {
      return this.unsettled(err)
    }
  }

  /**
   * The same for a user an earlier try may have opened a request for: undefined when none did. A
   * fault looking for it is met as one finishing it: that try may have opened it (a Cassandra read
   * timing out while writes land), the sweeper then finishes their deletion, and a try counted
   * for it would fail a user the sweeper deletes.
   */
  private async settleEarlierIfOpened(job: BatchJob, requestId: string): Promise<Outcome | undefined> {
    let opened: boolean
    try {
      opened = (await this.deps.requests.get(requestId)) !== undefined
    } catch (err) {
      return this.unsettled(err)
    }
    return opened ? this.settleEarlier(job, requestId) : undefined
  }

  /** A dependency fault about an earlier try's request: 'unsettled'; anything else is thrown, the item's answer. */
  private unsettled(err: unknown): Outcome {
    if (!this.deps.classify(err).fault) throw err
    return { status: 'unsettled', cause: err, ofCancelledJob: false }
  }

  private async settleFrom(job: BatchJob, requestId: string): Promise<Outcome> {
    let request = await this.deps.requests.get(requestId)
    if (request && !isFinished(request.state) && !cancelledSince(request.state)) {
      await this.deps.resumeDeletion(requestId)
      request = await this.deps.requests.get(requestId)
    }
    // A soft deletion cancelled since was done by this job, as the item would read had its outcome
    // been written before the cancel (a cancel never changes an item): never tried again for ever.
    // No request to read (gone since it was opened): deleted, with nothing owed it could point to.
    if (!request) return { status: 'deleted' }
    if (request.state === 'completed' || request.state === 'partial' || request.state === 'scheduled' || cancelledSince(request.state)) return deletedAs(request.state)
    if (request.state === 'failed') {
      // Found deleted (or tombstoned: not found) by another deletion: perhaps their manager's, in this job (see deletedByThisJob).
      const byThisJob = await this.deletedByThisJob(job, request.userId)
      return byThisJob ?? { status: 'failed', err: this.deps.classify(request.reason === 'not-found' ? new UserNotFoundError() : new UserAlreadyDeletedError()).code }
    }
    // Still another runner's (the sweeper, or an instance that died and whose lease has not run out
    // yet): not a failure of the user nor of a dependency; tried again when the slice is taken again.
    return { status: 'busy' }
  }

  /**
   * One token of the job's per-second budget, shared by every instance; waits for the next second
   * when it is spent, keeping the slice's lease meanwhile (the wait may outlast it when many runners
   * share a low budget). 'stopped' when the instance stops meanwhile: no deletion starts after a stop;
   * 'go' without a token once the job is cancelled.
   */
  private async takePaceToken(job: BatchJob, lease: SliceLease): Promise<'go' | 'stopped' | 'lease lost'> {
    const limit = this.deps.settings.maxDeletionsPerSecond
    if (limit <= 0) return 'go'
    while (!this.stopping) {
      // Cancelled (meanwhile): the attempt settles the user without a deletion, so without a token.
      if (await this.cancelledOrNotKnown(job)) return 'go'
      const nowMs = this.deps.clock.now().getTime()
      const second = Math.floor(nowMs / 1000)
      if ((await this.deps.jobs.takePaceToken(job.id, second)) <= limit) return 'go'
      await sleep(1000 - (nowMs % 1000) + Math.floor(Math.random() * 20))
      if (!(await this.keepLease(job.id, lease))) return 'lease lost'
    }
    return 'stopped'
  }
}
