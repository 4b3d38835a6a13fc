import type { Caller } from './caller.js'
import type { DeletionInput, DeletionOutcome } from './delete-account.js'
import { DeletionLimitReachedError } from './errors.js'
import type { Clock, RequesterDeletionCounts } from './ports.js'

const HOUR_MS = 3_600_000

/** Who a deletion is counted against: the person of the user token, or the trusted consumer on a route that has no person. */
export function requesterOf(caller: Caller): string {
  return caller.deleteAnyUser ? `consumer:${caller.consumer}` : `user:${caller.userId}`
}

/**
 * The mass-deletion guard (DELETION_MAX_PER_REQUESTER_PER_HOUR) around the single-delete engine: a
 * requester who has deleted `maxPerHour` users in the current clock hour is refused
 * (DeletionLimitReachedError, with the seconds until the hour ends) before anything is read or
 * written. Only deletions that succeeded are counted, in Cassandra, so every instance and every
 * route shares the count. Self-deletion and dry runs are neither limited nor counted; 0 turns the
 * guard off. Deletions in flight at once may pass the limit by their number: the count is read,
 * not reserved, so an answer costs no lightweight transaction.
 */
export function guardMassDeletion(
  deps: { counts: RequesterDeletionCounts; clock: Clock; maxPerHour: number },
  deleteAccount: (input: DeletionInput) => Promise<DeletionOutcome>,
): (input: DeletionInput) => Promise<DeletionOutcome> {
  if (deps.maxPerHour <= 0) return deleteAccount
  return async (input) => {
    if (input.dryRun || input.userId === input.caller.userId) return deleteAccount(input)
    const requester = requesterOf(input.caller)
    const now = deps.clock.now().getTime()
    const hour = Math.floor(now / HOUR_MS)
    if ((await deps.counts.count(requester, hour)) >= deps.maxPerHour) {
      throw new DeletionLimitReachedError(Math.max(1, Math.ceil(((hour + 1) * HOUR_MS - now) / 1000)))
    }
    const outcome = await deleteAccount(input)
    // Counted once it happened; a count lost to an outage is one deletion the guard does not see.
    await deps.counts.add(requester, hour).catch(() => undefined)
    return outcome
  }
}
