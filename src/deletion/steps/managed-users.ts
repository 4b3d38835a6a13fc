import type { StepDeps } from './step.js'
import { type DeletionStep, actionFor, recordedIds, stepOutcome } from './step.js'

/** A managed user of a hard-deleted user goes the same way: tombstone, every side row, the Keycloak account, and marked hard-deleted. */
async function hardDelete(deps: StepDeps, childId: string, requestId: string, change: { requestedBy: string; at: Date }): Promise<'done' | 'pending'> {
  const { users } = deps
  await users.eraseLookups(childId)
  await users.eraseExternalIdentities(childId)
  await users.removeOrganisations(childId)
  await users.eraseRoles(childId)
  await users.reduceToTombstone(childId, change)
  const held = await deps.states.get(childId)
  if (held?.mode !== 'hard') await deps.states.swap(childId, held, { mode: 'hard', requestId })
  deps.listener.userDeleted(childId)
  try {
    await deps.identity.eraseAccount(childId)
    return 'done'
  } catch (err) {
    // Keycloak out of reach or refusing: the Cassandra side is done; the sweeper comes back for the account.
    deps.onStepError?.('managedUsers', err, requestId)
    return 'pending'
  }
}

const STORE = 'cassandra.user (managed users)'

/** Users managed by the deleted user (children) go with them, each locked out and erased the same way. */
export const managedUsers = {
  name: 'managedUsers',
  store: STORE,
  why: 'users managed by this user locked and scrubbed the same way, with their lookups and external identities',
  plans: ['sunbird', 'hard'],
  // A hard deletion cuts the children loose from this user: only this outcome still names them, for the event.
  checkpointAfter: (outcome) => (outcome.ids?.length ?? 0) > 0,
  kept: { action: 'kept', why: 'managed users untouched while the deletion can be cancelled' },
  async run({ deps, request, plan }) {
    const { users, clock } = deps
    // A rerun (Keycloak was down) finds the children it already cut loose in its own earlier outcome.
    const managed = [...new Set([...(await users.findManagedUserIds(request.userId)), ...recordedIds(request, 'managedUsers')])]
    if (plan === 'hard') {
      let owed = false
      for (const childId of managed) {
        if ((await hardDelete(deps, childId, request.id, { requestedBy: request.requestedBy, at: clock.now() })) === 'pending') owed = true
      }
      return stepOutcome(owed ? 'pending' : managed.length ? 'done' : 'skipped', 'hard-deleted', clock.now(), managed.length, { plan, ids: managed })
    }
    for (const childId of managed) {
      await users.scrubProfile(childId, { requestedBy: request.requestedBy, at: clock.now() })
      await users.eraseLookups(childId)
      await users.eraseExternalIdentities(childId)
      await users.leaveOrganisations(childId, clock.now())
      deps.listener.userDeleted(childId)
    }
    // The ids are kept for the event step, which then need not ask the index again.
    return stepOutcome(managed.length ? 'done' : 'skipped', 'scrubbed', clock.now(), managed.length, { ids: managed })
  },
  async preview({ deps, userId, plan }) {
    return [{ store: STORE, action: actionFor(plan, { sunbird: 'scrub', hard: 'hard-delete' }), count: (await deps.users.findManagedUserIds(userId)).length }]
  },
  async exportData({ deps, userId }) {
    return { managedUserIds: await deps.users.findManagedUserIds(userId) }
  },
} as const satisfies DeletionStep
