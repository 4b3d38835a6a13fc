import { type AttemptOutcome, BatchAttempts, type BatchAttemptDeps, itemAfter } from './batch-attempt.js'
import { JobBreakers } from './batch-breakers.js'
import { JobCancelLooks } from './batch-cancel-looks.js'
import { tally } from './batch-job.js'
import { isOwnAccount, OwnAccountTurns, ownAccountLast } from './batch-own-account.js'
import type { Admission, BreakerSettings } from './circuit-breaker.js'
import type { BatchItem, BatchJob, BatchJobStore, Clock } from './ports.js'
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

/** What the runner needs of the service: what one user's try needs (BatchAttemptDeps), and its own. */
export interface BatchRunnerDeps extends BatchAttemptDeps {
  jobs: BatchJobStore
  clock: Clock
  /** This instance's name in the slice leases. */
  instanceId: string
  settings: BatchRunnerSettings
  /** Whether the keyspace has this build's schema: no slice is taken before it has (schemaGate). */
  schemaReady?(): Promise<boolean>
  /** Told when a job's breaker opens or closes. */
  onBreaker?(jobId: string, change: 'opened' | 'closed'): void
}

/** What one slice's work has come to so far: each step reads and updates it, and its end acts on it. */
interface SliceWork {
  /** No user of the slice is left pending so far: the slice is finished at the end, not given back. */
  settled: boolean
  /** The lease was lost (another instance may hold the slice): nothing more of it is written, not even given back. */
  leaseLost: boolean
  /** The job was shown running again after another instance's breaker (showRunning): once per slice, not per user. */
  shownRunning: boolean
  /** Every user's outcome, settled before or now: counted once the slice is done. */
  outcomes: BatchItem[]
}

/** An attempt tried to the end: its outcome is the breaker's to hear and the item's to record. */
type TriedOutcome = Extract<AttemptOutcome, { status: 'deleted' | 'cancelled' | 'failed' | 'fault' }>

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

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
  private readonly jobCache = new Map<string, BatchJob>()
  private readonly breakers: JobBreakers
  private readonly cancelLooks: JobCancelLooks
  private readonly ownAccount: OwnAccountTurns
  private readonly attempts: BatchAttempts
  /** Per cancelled job, its users whose unsettled outcome was reported, until they settle otherwise (reportUnsettled). */
  private readonly unsettledReported = new Map<string, Set<string>>()

  constructor(private readonly deps: BatchRunnerDeps) {
    const { jobs, clock } = deps
    this.breakers = new JobBreakers({ jobs, clock, settings: deps.settings.breaker, onBreaker: (jobId, change) => deps.onBreaker?.(jobId, change) })
    this.cancelLooks = new JobCancelLooks({ jobs, clock, onError: (err) => deps.onError?.(err) })
    this.ownAccount = new OwnAccountTurns({ jobs, clock, cancelledOrNotKnown: (job) => this.cancelLooks.cancelledOrNotKnown(job) })
    this.attempts = new BatchAttempts(deps, {
      cancelLooks: this.cancelLooks,
      takePaceToken: (job, lease) => this.takePaceToken(job, lease),
      keepLease: (jobId, lease) => this.keepLease(jobId, lease),
    })
  }

  start(): void {
    if (this.deps.settings.pollIntervalMs <= 0) return
    this.timer = setInterval(() => void this.pass(), this.deps.settings.pollIntervalMs)
    this.timer.unref()
  }

  /** Looks for work now (e.g. right after a job is submitted). */
  kick(): void {
    if (this.timer) void this.pass()
  }

  /**
   * This instance recorded the job's cancel (its cancel route): its own slices stop beginning
   * deletions at once, without waiting for their next look at the job (JobCancelLooks).
   */
  cancelSeen(jobId: string): void {
    this.cancelLooks.seen(jobId)
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
    if (this.breakers.isOpen(jobId, now.getTime())) {
      const cached = this.jobCache.get(jobId)
      if (!cached || !(await this.cancelLooks.cancelledOrNotKnown(cached))) return
    }
    for (const slice of slices) {
      if (this.full() || this.stopping) return
      const key = `${jobId}/${slice.slice}`
      if (slice.done || this.working.has(key) || slice.leaseUntil > now) continue
      // The slice left with only the creator's own account pending is not taken (and given back) every
      // pass while the job's other slices are worked, nor during its dwell: its turn comes once they
      // are all done and the dwell is over. A cancel is looked at (at most once per CANCEL_LOOK_MS), so
      // a cancel during the dwell settles the own account at once.
      if (await this.ownAccount.waits(jobId, this.jobCache.get(jobId), slice.slice, slices, now.getTime())) continue
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
    this.breakers.forget(jobId)
    this.cancelLooks.forget(jobId)
    this.unsettledReported.delete(jobId)
    this.ownAccount.forget(jobId)
  }

  /**
   * Forgets the jobs no longer listed open that this instance holds no slice of: a job is completed
   * by whichever instance finds its last slice done, and every other that worked it would keep its
   * job and breaker for as long as it runs.
   */
  private forgetClosed(open: readonly string[]): void {
    const listed = new Set(open)
    const worked = new Set([...this.working.keys()].map((key) => key.slice(0, key.lastIndexOf('/'))))
    for (const jobId of new Set([...this.jobCache.keys(), ...this.breakers.jobIds(), ...this.cancelLooks.jobIds(), ...this.unsettledReported.keys(), ...this.ownAccount.jobIds()])) {
      if (!listed.has(jobId) && !worked.has(jobId)) this.forget(jobId)
    }
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
    const work: SliceWork = { settled: true, leaseLost: false, shownRunning: false, outcomes: [] }
    try {
      for (const item of ownAccountLast(job, await jobs.items(job.id, slice))) {
        if (item.status !== 'pending') {
          work.outcomes.push(item)
          continue
        }
        if (isOwnAccount(job, item) && !(await this.ownAccountTurnNow(job, slice, work))) continue
        if ((await this.workUser(job, item, takenBefore, lease, work)) === 'slice ends') return
      }
      if (work.settled && !this.stopping && !(await jobs.finishSlice(job.id, slice, tally(work.outcomes), lease.heldUntil))) work.leaseLost = true
    } catch (err) {
      // Its users could not be listed, or its finish failed: given back at once for another pass,
      // not held idle until the lease runs out.
      work.settled = false
      throw err
    } finally {
      if (!work.leaseLost && (!work.settled || this.stopping)) await jobs.releaseSlice(job.id, slice, this.deps.instanceId).catch(() => undefined)
    }
  }

  /**
   * The creator's own account waits for every other user of the job to settle, then for
   * OWN_ACCOUNT_DWELL_MS: the slice is given back meanwhile. Only a slice whose other users are
   * all settled is skipped while the job's other slices are worked (and during the dwell): one
   * with a user left pending (a fault) is taken again at the next pass, so that user is not kept waiting.
   */
  private async ownAccountTurnNow(job: BatchJob, slice: number, work: SliceWork): Promise<boolean> {
    const turn = work.settled ? await this.ownAccount.turn(job, slice) : 'others pending'
    if (turn === 'now') return true
    if (work.settled && turn === 'others pending') this.ownAccount.othersPending(job.id, slice)
    work.settled = false
    return false
  }

  /** One pending user: waits for the breaker, tries them, and settles what their try came to. */
  private async workUser(job: BatchJob, item: BatchItem, takenBefore: boolean, lease: SliceLease, work: SliceWork): Promise<'next user' | 'slice ends'> {
    const go = await this.waitForBreaker(job, lease)
    if (go === 'lease lost' || go === 'stopped') {
      if (go === 'lease lost')
        work.leaseLost = true // another instance has it now
      else work.settled = false
      return 'slice ends'
    }
    // Only an attempt the breaker let through may hold its probe: a cancelled job's passes it by.
    const admission = go === 'cancelled' ? undefined : go
    const outcome = await this.attempts.attempt(job, item, takenBefore || item.attempts > 0, lease)
    if (outcome.status === 'unread' || outcome.status === 'unsettled') {
      await this.leftUnsettled(job.id, item, outcome, admission)
      work.settled = false
      return 'next user'
    }
    // Any other outcome: the outage, as this user met it, is over (reportUnsettled).
    this.unsettledReported.get(job.id)?.delete(item.userId)
    if (outcome.status === 'lease lost' || outcome.status === 'stopped' || outcome.status === 'busy') return this.notTriedToTheEnd(job.id, outcome.status, admission, work)
    await this.tellBreaker(job.id, outcome, admission)
    await this.showRunning(job.id, outcome, admission, work)
    return this.recordOutcome(job.id, item, outcome, lease, work)
  }

  /**
   * The user stays pending with no try counted; the breaker hears the fault, as the attempt's
   * own (a probe's reopens it for another cool-off, not given back to be taken at once again).
   * A restarted job whose users all may have an earlier try meets an outage here: counted, it
   * pauses the job instead of asking the dependency again for every user. Not a cancelled
   * job's user, admitted or not: such a job begins no deletion, and its users spared by the
   * cancel give every probe back, so a breaker it opened might never close (the job paused,
   * its breaker reported open, for good); nor an outcome without admission, never the breaker's.
   */
  private async leftUnsettled(jobId: string, item: BatchItem, outcome: Extract<AttemptOutcome, { status: 'unread' | 'unsettled' }>, admission: Admission | undefined): Promise<void> {
    if (admission && !(outcome.status === 'unsettled' && outcome.ofCancelledJob)) await this.breakers.record(jobId, true, admission)
    else this.giveBackProbe(jobId, admission)
    if (outcome.status === 'unsettled') this.reportUnsettled(jobId, item.userId, outcome)
  }

  /** Not tried to the end: nothing to tell the breaker, and the user stays pending as they are. */
  private notTriedToTheEnd(jobId: string, status: 'lease lost' | 'stopped' | 'busy', admission: Admission | undefined, work: SliceWork): 'next user' | 'slice ends' {
    this.giveBackProbe(jobId, admission)
    if (status === 'lease lost') {
      work.leaseLost = true
      return 'slice ends'
    }
    work.settled = false
    if (status === 'stopped') return 'slice ends'
    return 'next user' // busy: the others of the slice go on; this one is tried again when the slice is taken again
  }

  /**
   * Only an attempt the breaker let through tells it its outcome: not a user the cancel spared,
   * nor one settled past the breaker for a cancelled job.
   */
  private async tellBreaker(jobId: string, outcome: TriedOutcome, admission: Admission | undefined): Promise<void> {
    if (admission && outcome.status !== 'cancelled') await this.breakers.record(jobId, outcome.status === 'fault', admission)
    else this.giveBackProbe(jobId, admission)
  }

  /**
   * Another instance's breaker may have left the job reading paused (it stopped, or lost its
   * slices, before its breaker closed): this one deletes with its own closed, so the job runs.
   */
  private async showRunning(jobId: string, outcome: TriedOutcome, admission: Admission | undefined, work: SliceWork): Promise<void> {
    if (!work.shownRunning && admission === 'attempt' && outcome.status === 'deleted' && this.breakers.of(jobId).state(this.deps.clock.now().getTime()) === 'closed') {
      work.shownRunning = true
      await this.deps.jobs.setState(jobId, 'running').catch(() => undefined)
    }
  }

  /**
   * Records what became of the user. An outcome not recorded leaves the item pending in the store:
   * the slice is not done, and the item's next try finds its request and records what became of it.
   */
  private async recordOutcome(jobId: string, item: BatchItem, outcome: TriedOutcome, lease: SliceLease, work: SliceWork): Promise<'next user' | 'slice ends'> {
    const recorded = itemAfter(item, outcome, this.deps.settings.maxAttempts, this.deps.clock)
    const stored = await this.deps.jobs.recordItem(jobId, recorded, lease.heldUntil).then(
      (landed) => (landed ? 'stored' : 'lease lost'),
      (err: unknown) => {
        this.deps.onError?.(err)
        return 'failed'
      },
    )
    if (stored === 'lease lost') {
      work.leaseLost = true
      return 'slice ends'
    }
    if (recorded.status === 'pending' || stored === 'failed') work.settled = false
    else work.outcomes.push(recorded)
    return 'next user'
  }

  /** An admitted attempt that tells the breaker nothing gives its admission (a probe) back. */
  private giveBackProbe(jobId: string, admission: Admission | undefined): void {
    if (admission) this.breakers.of(jobId).abandon(admission)
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
    const admission = this.breakers.of(jobId).tryStart(this.deps.clock.now().getTime())
    if (admission) await this.breakers.record(jobId, true, admission)
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
    const breaker = this.breakers.of(job.id)
    while (!this.stopping) {
      const admission = breaker.tryStart(this.deps.clock.now().getTime())
      if (admission) return admission
      // A cancelled job's users are settled without a deletion: nothing the breaker guards.
      if (await this.cancelLooks.cancelledOrNotKnown(job)) return 'cancelled'
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
      if (await this.cancelLooks.cancelledOrNotKnown(job)) return 'go'
      const nowMs = this.deps.clock.now().getTime()
      const second = Math.floor(nowMs / 1000)
      if ((await this.deps.jobs.takePaceToken(job.id, second)) <= limit) return 'go'
      await sleep(1000 - (nowMs % 1000) + Math.floor(Math.random() * 20))
      if (!(await this.keepLease(job.id, lease))) return 'lease lost'
    }
    return 'stopped'
  }
}
