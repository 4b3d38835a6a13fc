import type { BatchJob, BatchJobStore, Clock } from './ports.js'

/** How long a runner trusts its last look at whether a job was cancelled: a cancel is seen within about this, at one read per job and instance, not one per user. */
const CANCEL_LOOK_MS = 1000

/**
 * This instance's looks at whether its batch jobs were cancelled: kept apart from the runner so
 * that every wait and every deletion of a job asks one shared, rate-bounded look instead of
 * reading the job's row per user.
 */
export class JobCancelLooks {
  /** The last look at each job's cancel: when, and what it found. */
  private readonly looks = new Map<string, { at: number; cancelled: boolean; look: Promise<boolean> }>()

  constructor(private readonly deps: { jobs: Pick<BatchJobStore, 'get'>; clock: Clock; onError?(err: unknown): void }) {}

  /**
   * This instance recorded the job's cancel (its cancel route): its own slices stop beginning
   * deletions at once, without waiting CANCEL_LOOK_MS for their next look. Other instances see it at that look.
   */
  seen(jobId: string): void {
    this.looks.set(jobId, { at: this.deps.clock.now().getTime(), cancelled: true, look: Promise.resolve(true) })
  }

  /**
   * Whether the job was cancelled, as last looked at: looked at again at most once per
   * CANCEL_LOOK_MS per job, one look shared by every slice of it that asks meanwhile (a cancel
   * stands for good). A look that fails throws: no deletion is begun on a guess (the attempt counts
   * it against the breaker, not as a try of the user's), and the next ask looks again. A cancel
   * this instance recorded (seen) while a look was under way stands, whatever that look read
   * before it: no deletion begins here once the cancel route has answered.
   */
  async cancelled(job: BatchJob): Promise<boolean> {
    if (job.cancelled) return true
    const seenCancelled = () => this.looks.get(job.id)?.cancelled === true
    try {
      return (await this.look(job)) || seenCancelled()
    } catch (err) {
      if (seenCancelled()) return true
      throw err
    }
  }

  /** The same, for a wait (breaker, pace): a look that fails is reported and the wait goes on; the look right before a deletion is strict. */
  cancelledOrNotKnown(job: BatchJob): Promise<boolean> {
    return this.cancelled(job).catch((err: unknown) => {
      this.deps.onError?.(err)
      return false
    })
  }

  /** The jobs looked at, for the runner to forget those it no longer works. */
  jobIds(): IterableIterator<string> {
    return this.looks.keys()
  }

  forget(jobId: string): void {
    this.looks.delete(jobId)
  }

  /** The look itself (see cancelled): the last one while it is fresh, else a read of the job. */
  private async look(job: BatchJob): Promise<boolean> {
    const now = this.deps.clock.now().getTime()
    const last = this.looks.get(job.id)
    if (last && (now - last.at < CANCEL_LOOK_MS || last.cancelled)) return last.look
    const look = this.deps.jobs.get(job.id).then((stored) => stored?.cancelled !== undefined)
    const entry = { at: now, cancelled: false, look }
    this.looks.set(job.id, entry)
    try {
      entry.cancelled = await look
      return entry.cancelled
    } catch (err) {
      if (this.looks.get(job.id) === entry) this.looks.delete(job.id)
      throw err
    }
  }
}
