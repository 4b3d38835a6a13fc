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
 * The mass-deletion guard (DELETION_MAX_PER_REQUESTER_PER_HOUR) around the single-delete engine.
 * Each deletion first reserves its place in the requester's count for the current clock hour (in
 * Cassandra, so every instance and every route shares it): one increment, then a read of the count.
 * Over `maxPerHour`, the reservation is given back (one decrement) and the deletion refused before
 * anything is read or written (DeletionLimitReachedError, with the seconds until the hour ends, at
 * least 1). A deletion that is refused or fails (throws) gives its reservation back too; one that
 * succeeded keeps it. So deletions in flight at once, on any instance, never pass the limit
 * together: each one's read sees its own increment and every increment acknowledged before it. A
 * burst right at the limit may refuse a few more than strictly needed (their reservations were
 * still held when the others read), never let more through; a give-back lost to a crash or an
 * outage costs the requester that place until the hour ends. An increment whose answer is lost
 * may have applied, so it is not given back either (the safe side). A counted deletion costs an
 * increment and a read, as before; the decrement only a refusal or a failure. A dry run answers
 * what the real call would: it reads the count (no reservation, so it takes no place and gives
 * none back) and is refused the same way when the requester is at the limit, else runs uncounted.
 * Self-deletion is neither limited nor counted; 0 turns the guard off.
 */
export function guardMassDeletion(
  deps: { counts: RequesterDeletionCounts; clock: Clock; maxPerHour: number },
  deleteAccount: (input: DeletionInput) => Promise<DeletionOutcome>,
): (input: DeletionInput) => Promise<DeletionOutcome> {
  if (deps.maxPerHour <= 0) return deleteAccount
  return async (input) => {
    if (input.userId === input.caller.userId) return deleteAccount(input)
    const requester = requesterOf(input.caller)
    const now = deps.clock.now().getTime()
    const hour = Math.floor(now / HOUR_MS)
    const limitReached = () => new DeletionLimitReachedError(Math.max(1, Math.ceil(((hour + 1) * HOUR_MS - now) / 1000)))
    if (input.dryRun) {
      // The real call's increment would make it count + 1, refused over the limit: at the limit already, so is the dry run.
      if ((await deps.counts.count(requester, hour)) >= deps.maxPerHour) throw limitReached()
      return deleteAccount(input)
    }
    // Given back to the hour it was taken from; a give-back lost to an outage is a place lost until the hour ends.
    const giveBack = () => deps.counts.add(requester, hour, -1).catch(() => undefined)
    await deps.counts.add(requester, hour, 1)
    let reserved: number
    try {
      reserved = await deps.counts.count(requester, hour)
    } catch (err) {
      await giveBack()
      throw err
    }
    if (reserved > deps.maxPerHour) {
      await giveBack()
      throw limitReached()
    }
    try {
      return await deleteAccount(input)
    } catch (err) {
      await giveBack()
      throw err
    }
  }
}
