import { createHmac } from 'node:crypto'
import type { DeletionReceipt, DeletionRequest, RequestState } from './deletion-request.js'
import { deletionSteps } from './steps/index.js'
import { roles } from './steps/roles.js'

/** A keyed hash of an id: lets an operator match a receipt to a user they already know, and nobody else. */
export function pseudonymise(key: string, id: string): string {
  return createHmac('sha256', key).update(id).digest('hex')
}

/**
 * What was done per store and why, from each step's own declaration. No personal data: the subject
 * appears only as a keyed hash. A store the request's plan keeps (a soft deletion keeps nearly
 * everything, to be restorable) is listed as kept, with the step's own reason.
 */
export function buildReceipt(request: DeletionRequest, state: RequestState, key: string, completedAt: Date): DeletionReceipt {
  const stores: DeletionReceipt['stores'] = []
  for (const step of deletionSteps) {
    const outcome = request.steps[step.name]
    if (outcome) {
      stores.push({ store: step.store, action: outcome.status === 'pending' ? 'pending' : outcome.action, ...(outcome.count !== undefined && { count: outcome.count }), why: step.why })
    } else if (request.plan === 'soft' && 'kept' in step && step !== roles) {
      stores.push({ store: step.store, action: step.kept.action, why: step.kept.why })
    }
  }
  // Sunbird's deletion (and a soft one) leaves user_roles as Sunbird does; a hard deletion has its own step for them.
  if (request.plan !== 'hard') stores.push({ store: roles.store, action: roles.kept.action, why: roles.kept.why })
  stores.push({ store: 'cassandra.user_deletion_audit', action: 'appended', why: 'who asked, for whom (ids), outcome and time, hash-chained; kept for accountability' })
  return { requestId: request.id, subject: pseudonymise(key, request.userId), state, completedAt: completedAt.toISOString(), stores }
}
