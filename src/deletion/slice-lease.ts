import type { BatchJobStore, Clock } from './ports.js'

/** Where a slice lease taken or renewed now ends. */
export function leaseEnd(clock: Clock, leaseMs: number): Date {
  return new Date(clock.now().getTime() + leaseMs)
}

/**
 * The lease this instance holds on one slice of a batch job: renewed once a third of it has passed,
 * so the holder keeps it through long waits (an open breaker, a spent pace budget) as well as long
 * slices; lost for good once a renewal is refused, as another instance holds the slice then.
 */
export class SliceLease {
  private renewAt: number
  private lost = false

  constructor(
    private readonly deps: { jobs: Pick<BatchJobStore, 'renewSlice'>; clock: Clock; instanceId: string; leaseMs: number },
    private readonly jobId: string,
    private readonly slice: number,
    /** The end of the lease just taken. */
    private until: Date,
  ) {
    this.renewAt = this.renewalDue()
  }

  /** Where the holder's writes are fenced: none is stamped after it. */
  get heldUntil(): Date {
    return this.until
  }

  /** Renews the lease when due; false once another instance holds the slice. A store in trouble throws. */
  async keep(): Promise<boolean> {
    if (this.lost) return false
    if (this.deps.clock.now().getTime() < this.renewAt) return true
    const until = leaseEnd(this.deps.clock, this.deps.leaseMs)
    if (!(await this.deps.jobs.renewSlice(this.jobId, this.slice, this.deps.instanceId, until))) {
      this.lost = true
      return false
    }
    this.until = until
    this.renewAt = this.renewalDue()
    return true
  }

  private renewalDue(): number {
    return this.deps.clock.now().getTime() + this.deps.leaseMs / 3
  }
}
