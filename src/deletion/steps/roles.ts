import { type DeletionStep, actionFor, stepOutcome } from './step.js'

const STORE = 'cassandra.user_roles'

/** Sunbird keeps user_roles after a deletion; a hard deletion removes them. */
export const roles = {
  name: 'roles',
  store: STORE,
  why: 'role rows removed (Sunbird keeps them)',
  plans: ['hard'],
  kept: { action: 'kept', why: 'role names and ids only; kept as Sunbird keeps them' },
  async run({ deps, request, plan }) {
    return stepOutcome('done', 'deleted', deps.clock.now(), await deps.users.eraseRoles(request.userId), { plan })
  },
  async preview({ deps, userId, plan }) {
    return [{ store: STORE, action: actionFor(plan, { hard: 'delete' }), count: (await deps.users.readRoles(userId)).length }]
  },
  async exportData({ deps, userId }) {
    return { roles: await deps.users.readRoles(userId) }
  },
} as const satisfies DeletionStep
