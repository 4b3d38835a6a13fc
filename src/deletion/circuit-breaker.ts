export interface BreakerSettings {
  /** The window the failure rate is measured over. */
  windowMs: number
  /** Fewer attempts than this in the window never open the breaker (one unlucky call is not an outage). */
  minAttempts: number
  /** Share of attempts (0–1) that met a dependency in trouble, at or above which the breaker opens. */
  failureRate: number
  /** How long an open breaker waits before letting one attempt through to probe. */
  coolOffMs: number
}

export type BreakerState = 'closed' | 'open' | 'half-open'

/** What tryStart lets through: an ordinary attempt (the breaker closed), or the one probe of a half-open breaker. */
export type Admission = 'attempt' | 'probe'

/**
 * A circuit breaker over the attempts of one batch job on this instance: it opens when the share of
 * attempts that met an unavailable dependency in the last window reaches the threshold, lets one
 * probe through after the cool-off, and closes when that probe succeeds (or opens again if not).
 * Only the probe decides: an attempt let through before the breaker opened may end while the probe
 * runs, and its outcome says nothing of the dependency now.
 */
export class CircuitBreaker {
  private attempts: { at: number; fault: boolean }[] = []
  private openedAt: number | undefined
  private probing = false

  constructor(private readonly settings: BreakerSettings) {}

  state(now: number): BreakerState {
    if (this.openedAt === undefined) return 'closed'
    return now - this.openedAt >= this.settings.coolOffMs ? 'half-open' : 'open'
  }

  /** Whether an attempt may start now: always when closed, one probe at a time when half-open, never when open. */
  tryStart(now: number): Admission | undefined {
    const state = this.state(now)
    if (state === 'closed') return 'attempt'
    if (state === 'open' || this.probing) return undefined
    this.probing = true
    return 'probe'
  }

  /**
   * An attempt tryStart let through did not run after all (the slice was lost, the instance stops,
   * the user's request is still another runner's): a probe it was is given back, so the next
   * attempt probes instead of waiting for an outcome that never comes. An ordinary attempt holds
   * nothing to give back (nor may it free the probe running now).
   */
  abandon(admission: Admission): void {
    if (admission === 'probe') this.probing = false
  }

  /**
   * Records an outcome: of an attempt tryStart let through (`admission`), or of the job's own
   * bookkeeping (none), which counts while the breaker is closed only. Says when the breaker changed
   * (opened or closed) because of it.
   */
  record(fault: boolean, now: number, admission?: Admission): 'opened' | 'closed' | undefined {
    if (this.openedAt !== undefined) {
      // Open: the probe decides, nothing else.
      if (admission !== 'probe' || !this.probing) return undefined
      this.probing = false
      if (fault) {
        this.openedAt = now
        return undefined
      }
      this.openedAt = undefined
      this.attempts = []
      return 'closed'
    }
    this.attempts.push({ at: now, fault })
    this.attempts = this.attempts.filter((attempt) => now - attempt.at <= this.settings.windowMs)
    // Only a fault opens it: a success is the latest word that the dependencies answer.
    if (!fault) return undefined
    const faults = this.attempts.filter((attempt) => attempt.fault).length
    if (this.attempts.length >= this.settings.minAttempts && faults / this.attempts.length >= this.settings.failureRate) {
      this.openedAt = now
      return 'opened'
    }
    return undefined
  }
}
