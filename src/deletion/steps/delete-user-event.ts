import { buildDeleteUserEvent } from '../build-event.js'
import { type DeletionStep, stepOutcome } from './step.js'

/** Sunbird's delete-user instruction for downstream services, written to the outbox; a relay publishes it. */
export const deleteUserEvent = {
  name: 'event',
  store: 'kafka (delete.user topic)',
  why: 'BE_JOB_REQUEST delete-user event for downstream cleanup; ids only',
  plans: ['sunbird'],
  async run({ deps, request, userName }) {
    const { users, clock } = deps
    const userId = request.userId
    const organisationId = request.target.rootOrgId
    const [managedUsers, orgAdmins] = await Promise.all([users.findManagedUserIds(userId), organisationId ? users.findOrgAdminIds(organisationId, 250) : Promise.resolve([])])
    const event = buildDeleteUserEvent({
      requestId: request.id,
      userId,
      organisationId,
      userName: deps.eventIncludesUserName ? userName : null,
      suggestedUsers: [{ role: 'ORG_ADMIN', users: orgAdmins.filter((id) => id !== userId) }],
      managedUsers,
      now: clock.now(),
    })
    await deps.outbox.append(request.id, event)
    return stepOutcome('done', 'queued', clock.now())
  },
} as const satisfies DeletionStep
