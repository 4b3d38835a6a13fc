import type { ExtraTarget } from '../ports.js'
import { lineOnResume } from './absent-on-resume.js'
import { type DeletionStep, actionFor, owedNotConfiguredHere, type RecordedOutcomes, stepOutcome } from './step.js'

/** How the receipt names a table of another keyspace. */
export const extraTargetStore = (target: ExtraTarget) => `cassandra.${target.keyspace}.${target.table}`

/**
 * The tables an earlier run of this deletion was configured with (its own outcome: a grace period's
 * soft phase lists those it kept; for a managed user, the deleted user's) that this process's
 * ERASURE_EXTRA_TARGETS does not name: still owed, and this process cannot erase them (it does not
 * know their column or action).
 */
function owedElsewhere(recorded: RecordedOutcomes, here: readonly string[]): string[] {
  const earlier = recorded.extraTargets?.entries?.map((entry) => entry.store) ?? []
  return [...new Set(earlier)].filter((store) => !here.includes(store))
}

/**
 * Tables of other services' keyspaces keyed by user id (ERASURE_EXTRA_TARGETS), for a deployment
 * that wants them erased here rather than by their owner: rows deleted or columns blanked when the
 * deletion erases (Sunbird's, a hard one, the end of a grace period), one receipt line per table.
 * A soft deletion (and a grace period until it ends) touches none of them: a cancel must find them
 * as they were, and nothing brings a deleted row back. It only records, one line per table, that
 * they are kept; the erasure that ends a grace period runs the step again under its own plan.
 * A table the deletion was run with that this process is not configured with stays owed: the step
 * pending, the request partial, for an instance (or `npm run deletion:resume`) that names it.
 * Empty by default.
 */
export const extraTargets = {
  name: 'extraTargets',
  store: 'cassandra (ERASURE_EXTRA_TARGETS)',
  why: 'tables of other keyspaces keyed by user id, as configured: rows deleted or columns blanked once the deletion erases; kept while it can be cancelled',
  plans: ['sunbird', 'soft', 'hard'],
  async run({ deps, request, plan, recorded, resumed }) {
    const entries: { store: string; action: string; count?: number }[] = []
    if (plan === 'soft') {
      for (const target of deps.extraTargets) entries.push({ store: extraTargetStore(target), action: 'kept' })
      return stepOutcome('skipped', entries.length > 0 ? 'kept' : 'none configured', deps.clock.now(), undefined, { plan, entries })
    }
    for (const target of deps.extraTargets) {
      const count = await deps.tables.eraseExtra(target, request.userId)
      const entry =
        count === undefined ? { store: extraTargetStore(target), action: 'table not found' } : { store: extraTargetStore(target), action: target.action === 'delete' ? 'deleted' : 'blanked', count }
      entries.push(resumed ? lineOnResume(entry) : entry)
    }
    const owed = owedElsewhere(recorded ?? request.steps, deps.extraTargets.map(extraTargetStore))
    if (owed.length > 0) {
      const why = `ERASURE_EXTRA_TARGETS of this process does not name ${owed.join(', ')}, which the deletion was run with: left pending for an instance that names it`
      return { ...owedNotConfiguredHere(deps, 'extraTargets', why, 'cassandra', plan, request.id), entries: [...entries, ...owed.map((store) => ({ store, action: 'pending' }))] }
    }
    return stepOutcome(entries.length > 0 ? 'done' : 'skipped', entries.length > 0 ? 'erased' : 'none configured', deps.clock.now(), undefined, { plan, entries })
  },
  async preview({ deps, userId, plan }) {
    const entries = []
    for (const target of deps.extraTargets) {
      const count = await deps.tables.countExtra(target, userId)
      entries.push({ store: extraTargetStore(target), action: count === undefined ? 'table not found' : actionFor(plan, { sunbird: target.action, hard: target.action }), count: count ?? 0 })
    }
    return entries
  },
} as const satisfies DeletionStep
