import type { Caller } from './caller.js'
import type { DeletionRequest } from './deletion-request.js'
import { CallerLockedOutError } from './errors.js'
import type { UserCondition } from './user-condition.js'

/**
 * The persons whose tokens a deletion came with: the caller, and the managed user a managing
 * parent acts for (X-Authenticated-For); and whether the call's lock-out refuses a soft-deleted one.
 */
export interface TokenHolders {
  userIds: readonly string[]
  softDeletedRefused: boolean
}

/** A call's token holders, as its lock-out judged them (lockOutPerson). A trusted consumer's `userId` names the consumer, which no user id matches. */
export function tokenHoldersOf(caller: Caller): TokenHolders {
  return { userIds: caller.managedUser ? [caller.userId, caller.managedUser.userId] : [caller.userId], softDeletedRefused: caller.softDeletedRefused === true }
}

/** A request the sweeper takes up: its requester only (the managed user and the call's lock-out are not stored), admitted while soft-deleted as on the person routes. */
export function tokenHoldersOfRequest(request: Pick<DeletionRequest, 'requestedBy'>): TokenHolders {
  return { userIds: [request.requestedBy], softDeletedRefused: false }
}

/**
 * The lock-out's answer, had the deletion that `condition` shows (another request's, or one that
 * ended) landed before the call, when the user deleted is one of its token holders: refused
 * (401 in the route's dialect) under a final deletion (Sunbird's, hard, or one holding the user to
 * do either), and under a soft one where the call refuses a soft-deleted person. The lock-out
 * before the call could not see a deletion that landed after it, so the deletion judges it again
 * wherever it reads the user to go ahead: of a person's own deletions sent at once exactly one
 * goes ahead, as when sent one after the other. A hold not yet followed by its lock counts as
 * landed: its holder locks the row or gives the hold back, and a read after that judges again.
 */
export function lockedOutBy(holders: TokenHolders, userId: string, condition: UserCondition): CallerLockedOutError | undefined {
  if (!holders.userIds.includes(userId)) return undefined
  const refused = condition.kind === 'sunbird' || condition.kind === 'hard' || (condition.kind === 'soft' && holders.softDeletedRefused)
  return refused ? new CallerLockedOutError('locked out by a deletion of their account that landed first') : undefined
}
