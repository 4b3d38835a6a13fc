import { createHmac } from 'node:crypto'
import type { DeletionReceipt, DeletionRequest, RequestState, StepName } from './deletion-request.js'

/** A keyed hash of an id: lets an operator match a receipt to a user they already know, and nobody else. */
export function pseudonymise(key: string, id: string): string {
  return createHmac('sha256', key).update(id).digest('hex')
}

const WHY: Record<StepName, { store: string; why: string }> = {
  lock: { store: 'cassandra.user (status)', why: 'status 2 and isdeleted set in one lightweight transaction: the user is deleted for every reader and locked out' },
  keycloak: { store: 'keycloak', why: 'every session ended, then the account removed (disabled and blanked if removal was refused)' },
  lookups: { store: 'cassandra.user_lookup', why: 'login and search keys (username, email, phone, external ids) removed' },
  externalIdentities: { store: 'cassandra.usr_external_identity', why: 'links to external identity providers removed' },
  organisations: { store: 'cassandra.user_organisation', why: 'memberships marked left (isdeleted, orgleftdate); ids only, kept for the organisation history Sunbird jobs read' },
  userRow: { store: 'cassandra.user (profile)', why: 'every personal column blanked; the row stays as a tombstone because other Sunbird data refers to its id' },
  managedUsers: { store: 'cassandra.user (managed users)', why: 'users managed by this user locked and scrubbed the same way, with their lookups and external identities' },
  event: { store: `kafka (delete.user topic)`, why: 'BE_JOB_REQUEST delete-user event for downstream cleanup; ids only' },
}

/** What was done per store and why. No personal data: the subject appears only as a keyed hash. */
export function buildReceipt(request: DeletionRequest, state: RequestState, key: string, completedAt: Date): DeletionReceipt {
  const stores: DeletionReceipt['stores'] = []
  for (const [step, meta] of Object.entries(WHY) as [StepName, (typeof WHY)[StepName]][]) {
    const outcome = request.steps[step]
    if (!outcome) continue
    stores.push({ store: meta.store, action: outcome.status === 'pending' ? 'pending' : outcome.action, ...(outcome.count !== undefined && { count: outcome.count }), why: meta.why })
  }
  stores.push({ store: 'cassandra.user_roles', action: 'kept', why: 'role names and ids only; kept as Sunbird keeps them' })
  stores.push({ store: 'cassandra.user_deletion_audit', action: 'appended', why: 'who asked, for whom (ids), outcome and time, hash-chained; kept for accountability' })
  return { requestId: request.id, subject: pseudonymise(key, request.userId), state, completedAt: completedAt.toISOString(), stores }
}
