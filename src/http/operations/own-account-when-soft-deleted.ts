import type { Caller } from '../../deletion/caller.js'
import { ApiError } from '../api-error.js'

/**
 * A soft-deleted person is let through the lock-out (an operation's `admitSoftDeleted`) for their
 * own account only: to finish their own deletion on a REST deletion route (the repeat rules decide
 * what that does), or to get it back on the cancel. Any other account is refused 401.
 */
export function ownAccountOnlyWhenSoftDeleted(caller: Caller, userId: string): void {
  if (caller.softDeleted && userId !== caller.userId) throw new ApiError('UNAUTHORIZED', { reason: 'soft-deleted caller, not their own account' })
}
