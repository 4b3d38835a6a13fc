import type { StepOutcome } from '../deletion-request.js'
import { type DeletionStep, NOT_CONFIGURED_HERE, type StepContext } from './step.js'

/**
 * What a resumed run records where it found nothing to erase: an account found absent, or a
 * removal that removed nothing. The run it resumes stopped before its outcomes were written (they
 * are written at a few checkpoints, not step by step), so it may have erased that very data: "absent"
 * would tell an auditor the person never had it. Counts as erasing in the receipt (its physical
 * horizon applies): nothing personal is kept either way.
 */
export const ABSENT_ON_RESUME = 'absent on resume'

/** What the receipt adds to the step's why on such a line. */
export const ABSENT_ON_RESUME_WHY = 'not found when the deletion resumed: an earlier attempt of it, cut short before its outcome was recorded, may have erased it'

/**
 * A removal that removed nothing (`deleted`, count 0). Only removals: a step that blanks, scrubs or
 * marks rows it keeps finds them again however often it runs, so its 0 says they never were there.
 */
const removedNothing = (line: { action: string; count?: number }): boolean => line.action === 'deleted' && line.count === 0

/** A receipt line of a step with a line per store (extra targets), as a resumed run records it. */
export function lineOnResume<Line extends { action: string; count?: number }>(line: Line): Line {
  return removedNothing(line) ? { ...line, action: ABSENT_ON_RESUME } : line
}

/**
 * Runs a step (its `run`); in a resumed run (StepContext.resumed), a removal that found nothing is
 * recorded ABSENT_ON_RESUME. A step that says "absent" where it would erase (the Keycloak account)
 * and one with a line per store mark themselves, from the same context.
 */
export async function runStep(run: NonNullable<DeletionStep['run']>, context: StepContext): Promise<StepOutcome> {
  const outcome = await run(context)
  return context.resumed && outcome.status === 'done' && removedNothing(outcome) ? { ...outcome, action: ABSENT_ON_RESUME } : outcome
}

/** Owed outcomes that record no attempt at the store: it refused the call, or the instance had none configured. */
const NO_ATTEMPT: ReadonlySet<string> = new Set(['refused', NOT_CONFIGURED_HERE])

/**
 * Whether the run a resumed run follows may have erased part of this step's store without its
 * outcome saying so: it recorded none (cut short first), an intent, or an unreachable store (a call
 * that timed out may have acted). Not when its owed outcome records that no call was made: a store
 * found empty then was empty.
 */
export function mayHaveActedUnrecorded(recorded: StepOutcome | undefined): boolean {
  return recorded === undefined || !(recorded.status === 'pending' && NO_ATTEMPT.has(recorded.action))
}
