import { DependencyUnavailableError } from './deletion/errors.js'
import type { Logger } from './logging/logger.js'

export interface PeriodicJob {
  name: string
  intervalMs: number
  /**
   * One pass. `stopping` is aborted when stop() is called (at SIGTERM): a pass that works through
   * many items should end after the one in hand, so shutdown does not wait for, or cut, the rest.
   */
  run(stopping: AbortSignal): Promise<unknown>
}

/** The longest wait a Node timer keeps (2^31-1 ms, about 24.8 days): a longer interval fires after 1 ms instead. */
export const MAX_INTERVAL_MS = 2 ** 31 - 1

/**
 * Runs each job every interval, one pass at a time (a slow pass is never overlapped by the next),
 * once `ready` says so: a tick while it answers false starts no pass (a schema not yet migrated),
 * and one that rejects is logged as a failed pass.
 * An interval longer than MAX_INTERVAL_MS is refused (RangeError) before any job starts.
 * `stop()` cancels the timers at once (no pass starts after it is called), tells the passes in
 * flight to stop (their signal), and resolves once they have ended, so shutdown never cuts one in half.
 */
export function startPeriodicJobs(jobs: PeriodicJob[], logger: Logger, ready: () => Promise<boolean> = async () => true): { stop(): Promise<void> } {
  // Refused before any timer starts: Node would run such a job every millisecond, not rarely.
  const untimeable = jobs.find((job) => !(job.intervalMs <= MAX_INTERVAL_MS))
  if (untimeable) throw new RangeError(`${untimeable.name}: an interval of ${untimeable.intervalMs} ms is longer than a timer can wait (${MAX_INTERVAL_MS} ms)`)
  const inFlight = new Map<string, Promise<void>>()
  const stopping = new AbortController()
  const timers = jobs
    .filter((job) => job.intervalMs > 0)
    .map((job) => {
      const timer = setInterval(() => {
        if (stopping.signal.aborted || inFlight.has(job.name)) return
        // Through a promise even if run() throws synchronously, so no failure escapes the timer.
        const pass = Promise.resolve()
          .then(ready)
          .then((go) => (go && !stopping.signal.aborted ? job.run(stopping.signal) : 'not started'))
          .then((result) => logger.debug({ job: job.name, result }, 'background pass'))
          .catch((err: unknown) => logger.warn({ job: job.name, ...whyPassFailed(err) }, 'background pass failed'))
          .finally(() => inFlight.delete(job.name))
        inFlight.set(job.name, pass)
      }, job.intervalMs)
      timer.unref()
      return timer
    })
  return {
    async stop() {
      for (const timer of timers) clearInterval(timer)
      stopping.abort()
      await Promise.all(inFlight.values())
    },
  }
}

/**
 * What a failed pass logs: a dependency that is down by name and the kind of its error (every pass
 * meets it while the outage lasts, and a stack each time says nothing more); anything else whole,
 * with its stack, as the bug it is.
 */
function whyPassFailed(err: unknown): Record<string, unknown> {
  if (!(err instanceof DependencyUnavailableError)) return { err }
  return { dependency: err.dependency, ...(err.cause instanceof Error && { cause: err.cause.name }) }
}
