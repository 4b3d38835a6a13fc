import { type Admission, type BreakerSettings, CircuitBreaker } from './circuit-breaker.js'
import type { BatchJobStore, Clock } from './ports.js'

/**
 * This instance's circuit breaker per batch job, and what a change of one means: reported, and shown
 * as the job's state (paused while open). Kept apart from the runner so that "a breaker changed" is
 * told and shown in one place, whichever of the runner's paths recorded the outcome.
 */
export class JobBreakers {
  private readonly breakers = new Map<string, CircuitBreaker>()

  constructor(
    private readonly deps: {
      jobs: Pick<BatchJobStore, 'setState'>
      clock: Clock
      settings: BreakerSettings
      /** Told when a job's breaker opens or closes. */
      onBreaker?(jobId: string, change: 'opened' | 'closed'): void
    },
  ) {}

  /** The job's breaker, made closed on first use. */
  of(jobId: string): CircuitBreaker {
    let breaker = this.breakers.get(jobId)
    if (!breaker) {
      breaker = new CircuitBreaker(this.deps.settings)
      this.breakers.set(jobId, breaker)
    }
    return breaker
  }

  /** Whether the job has a breaker here and it is open now; a job with none is not given one. */
  isOpen(jobId: string, now: number): boolean {
    return this.breakers.get(jobId)?.state(now) === 'open'
  }

  /** One outcome into the job's breaker (an attempt's, or the bookkeeping's: no admission); a change (opened, closed) is reported and shown. */
  async record(jobId: string, fault: boolean, admission?: Admission): Promise<void> {
    const change = this.of(jobId).record(fault, this.deps.clock.now().getTime(), admission)
    if (change) await this.changed(jobId, change)
  }

  /** The jobs with a breaker, for the runner to forget those it no longer works. */
  jobIds(): IterableIterator<string> {
    return this.breakers.keys()
  }

  forget(jobId: string): void {
    this.breakers.delete(jobId)
  }

  private async changed(jobId: string, change: 'opened' | 'closed'): Promise<void> {
    this.deps.onBreaker?.(jobId, change)
    // Shown by the status route; best effort, as the store may be what is in trouble.
    await this.deps.jobs.setState(jobId, change === 'opened' ? 'paused' : 'running').catch(() => undefined)
  }
}
