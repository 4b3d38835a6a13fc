import { type DeletionStep, actionFor, stepOutcome } from './step.js'

const STORE = 'cassandra.user_organisation'

/** Sunbird's deletion marks memberships left (organisation history reads them); a hard deletion removes the rows. */
export const organisations = {
  name: 'organisations',
  store: STORE,
  why: 'memberships marked left (isdeleted, orgleftdate); ids only, kept for the organisation history Sunbird jobs read',
  hardWhy: 'memberships removed: a hard deletion keeps no organisation history of the person',
  plans: ['sunbird', 'hard'],
  kept: { action: 'kept', why: 'memberships kept while the deletion can be cancelled' },
  async run({ deps, request, plan }) {
    if (plan === 'hard') return stepOutcome('done', 'deleted', deps.clock.now(), await deps.users.removeOrganisations(request.userId), { plan })
    return stepOutcome('done', 'marked-left', deps.clock.now(), await deps.users.leaveOrganisations(request.userId, deps.clock.now()), { plan })
  },
  async preview({ deps, userId, plan }) {
    return [{ store: STORE, action: actionFor(plan, { sunbird: 'mark-left', hard: 'delete' }), count: (await deps.users.readOrganisations(userId)).length }]
  },
  async exportData({ deps, userId }) {
    return { organisations: await deps.users.readOrganisations(userId) }
  },
} as const satisfies DeletionStep
