import { type DeletionStep, stepOutcome } from './step.js'

/** Users managed by the deleted user (children) go with them, each locked out and erased the same way. */
export const managedUsers = {
  name: 'managedUsers',
  store: 'cassandra.user (managed users)',
  why: 'users managed by this user locked and scrubbed the same way, with their lookups and external identities',
  plans: ['sunbird'],
  async run({ deps, request }) {
    const { users, clock } = deps
    const managed = await users.findManagedUserIds(request.userId)
    for (const childId of managed) {
      await users.scrubProfile(childId, { requestedBy: request.requestedBy, at: clock.now() })
      await users.eraseLookups(childId)
      await users.eraseExternalIdentities(childId)
      await users.leaveOrganisations(childId, clock.now())
      deps.listener.userDeleted(childId)
    }
    return stepOutcome(managed.length ? 'done' : 'skipped', 'scrubbed', clock.now(), managed.length)
  },
} as const satisfies DeletionStep
