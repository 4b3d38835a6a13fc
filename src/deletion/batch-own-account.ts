import { OWN_ACCOUNT_DWELL_MS } from './own-account-dwell.js'
import type { BatchItem, BatchJob, BatchJobStore, BatchSliceState, Clock } from './ports.js'

/**
 * The job's creator's own account (a person's job listing its creator): deleted last, once every
 * other user of the job is settled and OWN_ACCOUNT_DWELL_MS more have passed (so the creator's CLI
 * reads that before it is locked out). Deleted earlier, it would lock the creator out at once (the
 * users after it failed as a single delete of theirs would be) and leave nobody able to read how
 * the job ended: a creator who administers no organisation has nobody else who may follow it.
 * A trusted consumer's job has no person behind it (its caller names the consumer).
 */
export const isOwnAccount = (job: BatchJob, item: Pick<BatchItem, 'userId'>) => !job.caller.deleteAnyUser && item.userId === job.caller.userId

/** The slice's users in their order, the creator's own account moved last (see isOwnAccount). */
export const ownAccountLast = (job: BatchJob, items: BatchItem[]) => [...items.filter((item) => !isOwnAccount(job, item)), ...items.filter((item) => isOwnAccount(job, item))]

/**
 * When the creator's own account may be deleted, as this instance sees it: kept apart from the
 * runner because its rule (every other slice done, then a dwell measured on this instance's clock
 * alone) is one of its own, and the runner asks it both when it works the own slice and when a
 * pass decides whether to take that slice at all.
 */
export class OwnAccountTurns {
  /**
   * Per job, the slice holding its creator's own account once this instance found it waiting, and
   * when (by this instance's clock) it first found every other user settled: the dwell is measured
   * from then on this clock alone, never against a time another instance's clock stamped (see turn).
   */
  private readonly waiting = new Map<string, { slice: number; othersSettledSeenAt?: number }>()

  constructor(
    private readonly deps: {
      jobs: Pick<BatchJobStore, 'slices'>
      clock: Clock
      /** Whether the job was cancelled, a look that fails reading not cancelled (JobCancelLooks.cancelledOrNotKnown). */
      cancelledOrNotKnown(job: BatchJob): Promise<boolean>
    },
  ) {}

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
  async turn(job: BatchJob, slice: number): Promise<'now' | 'others pending' | 'dwelling'> {
    const now = this.deps.clock.now().getTime()
    let seenAt = this.waiting.get(job.id)?.othersSettledSeenAt
    if (seenAt === undefined) {
      // A slice once done stays done: read until this instance has found them all so, not after.
      const others = (await this.deps.jobs.slices(job.id)).filter((other) => other.slice !== slice)
      if (!others.every((other) => other.done)) return 'others pending'
      seenAt = now
      this.waiting.set(job.id, { slice, othersSettledSeenAt: seenAt })
    }
    return (await this.mayGo(job, seenAt, now)) ? 'now' : 'dwelling'
  }

  /** The own account's slice was given back with every other user of it settled: a pass leaves it alone while other slices are pending (see waits). */
  othersPending(jobId: string, slice: number): void {
    this.waiting.set(jobId, { slice })
  }

  /**
   * Whether a pass leaves the creator's own slice alone (see turn): its other users settled and
   * another slice of the job still pending, or during the dwell unless the job (`job`, as cached:
   * undefined when not) is cancelled. Jobs whose own account this instance never found waiting are not looked at.
   */
  async waits(jobId: string, job: BatchJob | undefined, slice: number, slices: readonly BatchSliceState[], now: number): Promise<boolean> {
    const own = this.waiting.get(jobId)
    if (own?.slice !== slice) return false
    if (own.othersSettledSeenAt === undefined) return slices.some((other) => other.slice !== slice && !other.done)
    return job !== undefined && !(await this.mayGo(job, own.othersSettledSeenAt, now))
  }

  /** The jobs whose own account was found waiting, for the runner to forget those it no longer works. */
  jobIds(): IterableIterator<string> {
    return this.waiting.keys()
  }

  forget(jobId: string): void {
    this.waiting.delete(jobId)
  }

  /**
   * Whether the creator's own account, its other users found settled at `seenAt` on this instance's
   * clock, may go now (see turn): the dwell over by this clock, or the job cancelled or no
   * longer known (no deletion to hold back).
   */
  private async mayGo(job: BatchJob, seenAt: number, now: number): Promise<boolean> {
    return now - seenAt >= OWN_ACCOUNT_DWELL_MS || (await this.deps.cancelledOrNotKnown(job))
  }
}
