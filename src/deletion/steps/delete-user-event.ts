import { buildDeleteUserEvent } from '../build-event.js'
import type { DeletionRequest } from '../deletion-request.js'
import { plainValue } from '../sunbird-decryption.js'
import { type DeletionStep, actionFor, recordedIds, stepOutcome } from './step.js'

const STORE = 'kafka (delete.user topic)'

/**
 * When the deletion took effect: the erasure's due time after a grace period, else when the lock
 * was taken. Kept on the request, so a run again builds the same event time and mid.
 */
function deletedAt(request: DeletionRequest): Date {
  if (request.schedule) return request.schedule.eraseAt
  const locked = request.steps.lock?.at
  return locked ? new Date(locked) : request.createdAt
}

/** Sunbird's delete-user instruction for downstream services, written to the outbox; a relay publishes it. */
export const deleteUserEvent = {
  name: 'event',
  store: STORE,
  why: 'BE_JOB_REQUEST delete-user event for downstream cleanup; ids only',
  plans: ['sunbird', 'hard'],
  kept: { action: 'not-sent', why: 'no delete-user event: downstream must not erase what a cancel may restore' },
  async run({ deps, request, plan, userName }) {
    const { users, clock } = deps
    const userId = request.userId
    const organisationId = request.target.rootOrgId
    // The managed-users step kept the ids it found (a hard deletion has cut their rows loose from this
    // user by now); only a request recorded before it kept them reads the index again.
    const recorded = request.steps.managedUsers?.ids
    const [managed, orgAdmins] = await Promise.all([
      recorded ? Promise.resolve([]) : users.findManagedUserIds(userId),
      organisationId ? users.findOrgAdminIds(organisationId, 250) : Promise.resolve([]),
    ])
    const managedUsers = [...new Set([...managed, ...recordedIds(request, 'managedUsers')])]
    const event = buildDeleteUserEvent({
      requestId: request.id,
      userId,
      organisationId,
      // Sunbird's event carries the username decrypted; the row holds it encrypted when Sunbird encrypts.
      userName: deps.eventIncludesUserName && userName ? plainValue(deps.decryptUserField, userName) : null,
      suggestedUsers: [{ role: 'ORG_ADMIN', users: orgAdmins.filter((id) => id !== userId) }],
      managedUsers,
      now: deletedAt(request),
    })
    await deps.outbox.append(request.id, event)
    return stepOutcome('done', 'queued', clock.now(), undefined, { plan })
  },
  async preview({ plan }) {
    const action = actionFor(plan, { sunbird: 'publish', hard: 'publish' })
    return [{ store: STORE, action: action === 'keep' ? 'none' : action, count: action === 'keep' ? 0 : 1 }]
  },
} as const satisfies DeletionStep
