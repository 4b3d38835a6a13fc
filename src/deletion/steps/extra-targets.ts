import type { ExtraTarget } from '../ports.js'
import { type DeletionStep, actionFor, stepOutcome } from './step.js'

/** How the receipt names a table of another keyspace. */
export const extraTargetStore = (target: ExtraTarget) => `cassandra.${target.keyspace}.${target.table}`

/**
 * Tables of other services' keyspaces keyed by user id (ERASURE_EXTRA_TARGETS), for a deployment
 * that wants them erased here rather than by their owner: rows deleted or columns blanked when the
 * deletion erases (Sunbird's, a hard one, the end of a grace period), one receipt line per table.
 * A soft deletion (and a grace period until it ends) touches none of them: a cancel must find them
 * as they were, and nothing brings a deleted row back. It only records, one line per table, that
 * they are kept; the erasure that ends a grace period runs the step again under its own plan.
 * Empty by default.
 */
export const extraTargets = {
  name: 'extraTargets',
  store: 'cassandra (ERASURE_EXTRA_TARGETS)',
  why: 'tables of other keyspaces keyed by user id, as configured: rows deleted or columns blanked once the deletion erases; kept while it can be cancelled',
  plans: ['sunbird', 'soft', 'hard'],
  async run({ deps, request, plan }) {
    const entries: { store: string; action: string; count?: number }[] = []
    if (plan === 'soft') {
      for (const target of deps.extraTargets) entries.push({ store: extraTargetStore(target), action: 'kept' })
      return stepOutcome('skipped', entries.length > 0 ? 'kept' : 'none configured', deps.clock.now(), undefined, { plan, entries })
    }
    for (const target of deps.extraTargets) {
      const count = await deps.tables.eraseExtra(target, request.userId)
      entries.push(
        count === undefined ? { store: extraTargetStore(target), action: 'table not found' } : { store: extraTargetStore(target), action: target.action === 'delete' ? 'deleted' : 'blanked', count },
      )
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
