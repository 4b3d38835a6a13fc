import type { DeletionRequest } from './deletion-request.js'
import { type DeletionError, UserAlreadyDeletedError, UserNotFoundError } from './errors.js'
import type { UserCondition } from './user-condition.js'

/**
 * What a deletion request asks for, as the repeat rules read it: Sunbird's deletion (`default`),
 * `soft`, `hard`, or a grace period ending in Sunbird's deletion (`grace`) or in a hard one
 * (`grace-hard`).
 */
export type DeletionIntent = 'default' | 'soft' | 'hard' | 'grace' | 'grace-hard'

export function intentOf(request: Pick<DeletionRequest, 'plan' | 'schedule'>): DeletionIntent {
  if (request.schedule) return request.schedule.plan === 'hard' ? 'grace-hard' : 'grace'
  return request.plan === 'sunbird' ? 'default' : request.plan
}

/**
 * The repeat rules (seed 003), in one place: given where the user stands, the refusal a request of
 * this intent answers, or undefined when it goes ahead.
 *
 * | request   | soft-deleted | hard-deleted | deleted by Sunbird's deletion |
 * |-----------|--------------|--------------|-------------------------------|
 * | soft      | 0008         | 404          | 404                           |
 * | hard      | goes ahead   | 404          | goes ahead                    |
 * | no mode   | 0008         | 0008         | 0008                          |
 *
 * A grace period starts with a soft deletion, so it needs an active user: on any deleted user it
 * answers 0008, except that a hard one meets a hard-deleted user as one that does not exist.
 */
export function refusalFor(intent: DeletionIntent, condition: UserCondition): DeletionError | undefined {
  switch (condition.kind) {
    case 'missing':
      return new UserNotFoundError()
    case 'active':
      return undefined
    case 'soft':
      return intent === 'hard' ? undefined : new UserAlreadyDeletedError()
    case 'sunbird':
      if (intent === 'hard') return undefined
      return intent === 'soft' ? new UserNotFoundError() : new UserAlreadyDeletedError()
    case 'hard':
      return intent === 'default' || intent === 'grace' ? new UserAlreadyDeletedError() : new UserNotFoundError()
  }
}

/** Whether a hard-deleted user is, to this intent, a user that does not exist (answered before any authorization check, since the tombstone names no organisation). */
export const hardDeletedIsMissing = (intent: DeletionIntent) => intent === 'soft' || intent === 'hard' || intent === 'grace-hard'
