import { type DeletionRequest, STEPS, type StepOutcome } from './deletion-request.js'

/**
 * How long a request owed for want of a dependency waits before the sweeper tries it again, by the
 * runs in a row that left it so (composed from DELETION_OWED_RETRY_FIRST_MS and
 * DELETION_OWED_RETRY_MAX_MS: a RetryBackoff's doubling, with jitter). Absent: due at once, pass after pass.
 */
export interface OwedRetry {
  /** The wait after `runs` such runs in a row (1 or more). */
  waitMs(runs: number): number
  /** The longest wait (0: none, due at once). */
  maxMs: number
}

/**
 * A step the run left owed after telling of a dependency it could not reach (onStepError: the
 * search engine, Redis, Keycloak down or refusing, a store this instance lacks): its outcome counts
 * the runs in a row it has been owed so (`owedRuns`, one more than the outcome it replaces when that
 * was owed too). A step owed without that (past a per-run bound, more work left) counts none.
 */
export function countOwedRun(outcome: StepOutcome, before: StepOutcome | undefined): StepOutcome {
  const runsBefore = before?.status === 'pending' ? (before.owedRuns ?? 0) : 0
  return { ...outcome, owedRuns: runsBefore + 1 }
}

/**
 * The one rule of when a request left owing steps (partial, or a grace period's soft phase) is due
 * again, written with its settle under the run's lease:
 * - undefined: no retry delay configured, nothing is written (due at once, as it always was);
 * - null (due at once): some owed step can go on now (owed past a per-run bound, or for anything
 *   not known to be a dependency's outage), or nothing is owed;
 * - else, every owed step waits on a dependency: after a delay that doubles with the runs in a row
 *   it has been owed (the most any owed step counts), up to `maxMs` (retry.waitMs).
 * The request stays listed either way; `npm run deletion:resume` takes it up without waiting.
 */
export function owedDueAt(steps: DeletionRequest['steps'], retry: OwedRetry | undefined, now: Date): Date | null | undefined {
  if (!retry || retry.maxMs <= 0) return undefined
  const owed = STEPS.map((step) => steps[step]).filter((outcome) => outcome?.status === 'pending')
  if (owed.length === 0 || owed.some((outcome) => outcome?.owedRuns === undefined)) return null
  const runs = Math.max(...owed.map((outcome) => outcome?.owedRuns ?? 1))
  return new Date(now.getTime() + retry.waitMs(runs))
}
