import { type DeletionStep, actionFor, stepOutcome } from './step.js'

const STORE = 'cassandra.shadow_user'

/** Legacy bulk-migration rows (found by their userid index): Sunbird's deletion blanks name, email and phone; a hard one removes the rows. */
export const shadowUser = {
  name: 'shadowUser',
  store: STORE,
  why: 'legacy migration rows: name, email and phone blanked (hard: rows removed)',
  plans: ['sunbird', 'hard'],
  kept: { action: 'kept', why: 'kept while the deletion can be cancelled' },
  async run({ deps, request, plan }) {
    if (plan === 'hard') return stepOutcome('done', 'deleted', deps.clock.now(), await deps.tables.deleteRows('shadow_user', request.userId), { plan })
    return stepOutcome('done', 'blanked', deps.clock.now(), await deps.tables.blankShadowUsers(request.userId), { plan })
  },
  async preview({ deps, userId, plan }) {
    return [{ store: STORE, action: actionFor(plan, { sunbird: 'blank', hard: 'delete' }), count: (await deps.tables.readRows('shadow_user', userId)).length }]
  },
  async exportData({ deps, userId }) {
    return { shadow_user: await deps.tables.readRows('shadow_user', userId) }
  },
} as const satisfies DeletionStep
