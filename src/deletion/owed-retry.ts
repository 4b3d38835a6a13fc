import { type DeletionRequest, STEPS, type StepOutcome } from './deletion-request.js'

/**
 * How long a request owed for want of a dependency waits before the sweeper tries it again, by the
 * runs in a row that left it so (composed from DELETION_OWED_RETRY_FIRST_MS and
 * DELETION_OWED_RETRY_MAX_MS: a RetryBackoff's doubling, with jitter). Absent: due at once, pass after pass.
 */
export interface OwedRetry {
  /** The wait after `runs` such runs in a row (1 or more). */
  waitMs(runs: number): number
}

/** What a run saw of one step, which countOwedRun decides by. */
interface StepRunFacts {
  /** It told of a dependency it could not reach (onStepError: the search engine, Redis, Keycloak down or refusing, a store this instance lacks). */
  toldOfADependency: boolean
  /** Part of its work is owed past a per-run bound only, more of it left to do at once (StepContext.owesPastABound: a managed user's). */
  owesPastABound: boolean
  /** It changed something (StepContext.progressed: it, or its runs for the managed users, added to it). */
  changedSomething: boolean
}

/**
 * The owed outcome as recorded, counting the runs in a row it has been owed for want of a
 * dependency (`owedRuns`, which owedDueAt waits by):
 * - none when no dependency was told of (owed past a per-run bound: `unfinished`), or when part of
 *   the work is owed so (a managed user's search past its bound while another's Keycloak failed):
 *   that part can go on at once, and waiting would hold it back for nothing;
 * - 1 (the shortest wait) after a run that made progress on the step (changed something, or owes
 *   fewer stores than before: a search that rewrote hundreds of documents, a managed user's Keycloak
 *   account or cached copy removed while another's is still owed, a store the managed users owed
 *   done now, before a dependency timed out): the dependency answers, only not for all
 *   of it, and a wait climbing to its longest between productive runs would slow the work for nothing;
 * - else one more than the outcome it replaces when that was owed too: a long outage costs the
 *   dependency fewer and fewer tries.
 */
export function countOwedRun(outcome: StepOutcome, before: StepOutcome | undefined, run: StepRunFacts): StepOutcome {
  if (outcome.status !== 'pending' || !run.toldOfADependency || run.owesPastABound) return outcome
  const progressed = run.changedSomething || owesFewerStores(outcome, before)
  const runsBefore = !progressed && before?.status === 'pending' ? (before.owedRuns ?? 0) : 0
  return { ...outcome, owedRuns: runsBefore + 1 }
}

/** Whether a store line owed by the outcome before is no longer owed (done now), for a step with a line per store. */
function owesFewerStores(outcome: StepOutcome, before: StepOutcome | undefined): boolean {
  if (before?.status !== 'pending') return false
  const owedNow = new Set((outcome.entries ?? []).filter((entry) => entry.action === 'pending').map((entry) => entry.store))
  const nowStores = new Set((outcome.entries ?? []).map((entry) => entry.store))
  return (before.entries ?? []).some((entry) => entry.action === 'pending' && nowStores.has(entry.store) && !owedNow.has(entry.store))
}

/**
 * The one rule of when a request left owing steps (partial, or a grace period's soft phase) is due
 * again, written with its settle under the run's lease:
 * - undefined: no retry delay configured, nothing is written (due at once, as it always was);
 * - null (due at once): some owed step can go on now (owed past a per-run bound, or for anything
 *   not known to be a dependency's outage), or nothing is owed;
 * - else, every owed step waits on a dependency: after a delay that doubles with the runs in a row
 *   it has been owed (the most any owed step counts), up to DELETION_OWED_RETRY_MAX_MS (retry.waitMs).
 * The request stays listed either way; `npm run deletion:resume` takes it up without waiting.
 */
export function owedDueAt(steps: DeletionRequest['steps'], retry: OwedRetry | undefined, now: Date): Date | null | undefined {
  if (!retry) return undefined
  const owed = STEPS.map((step) => steps[step]).filter((outcome) => outcome?.status === 'pending')
  if (owed.length === 0 || owed.some((outcome) => outcome?.owedRuns === undefined)) return null
  const runs = Math.max(...owed.map((outcome) => outcome?.owedRuns ?? 1))
  return new Date(now.getTime() + retry.waitMs(runs))
}
