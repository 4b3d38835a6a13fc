import type { Caller } from './caller.js'
import type { DeletionInput, DeletionOutcome } from './delete-account.js'
import { DeletionLimitReachedError } from './errors.js'
import type { Clock, MinuteCount, RequesterDeletionCounts } from './ports.js'

const MINUTE_MS = 60_000
/** The limit counts the last hour, to the minute: a deletion leaves the count 60 minutes after the minute it was made in. */
export const GUARD_WINDOW_MINUTES = 60
/** Minutes past the current one the count reads, for instances whose clocks run ahead. */
const CLOCK_SKEW_MINUTES = 1

/** Who a deletion is counted against: the person of the user token, or the trusted consumer on a route that has no person. */
export function requesterOf(caller: Caller): string {
  return caller.deleteAnyUser ? `consumer:${caller.consumer}` : `user:${caller.userId}`
}

const totalOf = (counts: readonly MinuteCount[]) => counts.reduce((sum, entry) => sum + entry.count, 0)

/**
 * The seconds until `places` places of the window are free again: the counted minutes leave it
 * oldest first. At least 1. When the minutes before this one do not fill the limit on their own,
 * the refusal rests on this minute's count, which may hold deletions still in flight (given back
 * in a moment if they fail, or reservations of a burst all refused together): the rest of this
 * minute, so a retry learns whether they stayed, not an hour for places perhaps free already.
 */
function secondsUntilFree(counts: readonly MinuteCount[], places: number, now: number, max: number): number {
  const minute = Math.floor(now / MINUTE_MS)
  const before = totalOf(counts.filter((entry) => entry.minute < minute))
  let freeAt = (minute + 1) * MINUTE_MS
  if (before >= max) {
    let freed = 0
    for (const entry of [...counts].sort((a, b) => a.minute - b.minute)) {
      freed += Math.max(0, entry.count)
      if (freed >= places) {
        freeAt = (entry.minute + GUARD_WINDOW_MINUTES) * MINUTE_MS
        break
      }
    }
  }
  return Math.max(1, Math.ceil((freeAt - now) / 1000))
}

/**
 * The mass-deletion guard (DELETION_MAX_PER_REQUESTER_PER_HOUR) around the single-delete engine.
 * It counts a requester's deletions over the last hour, a window that slides by the minute (a clock
 * hour would let the limit through at 10:59 and again at 11:00), in Cassandra, so every instance
 * and every route shares it. Each deletion first reserves its place in the current minute: one
 * increment, then one read of the window's minutes. Over `maxPerHour`, the reservation is given
 * back (one decrement) and the deletion refused before anything is read or written
 * (DeletionLimitReachedError, with the seconds until enough counted minutes have left the window,
 * or the rest of this minute while the refusal rests on this minute's count: see secondsUntilFree). A deletion that is refused or fails (throws) gives its reservation back too; one
 * that succeeded keeps it. So deletions in flight at once, on any instance, never pass the limit
 * together: each one's read sees its own increment and every increment acknowledged before it. A
 * burst right at the limit may refuse a few more than strictly needed (their reservations were
 * still held when the others read), never let more through; a give-back lost to a crash or an
 * outage costs the requester that place for the hour. An increment whose answer is lost may have
 * applied, so it is not given back either (the safe side). A counted deletion costs an increment
 * and a read; the decrement only a refusal or a failure. A dry run answers what the real call
 * would: it reads the window (no reservation, so it takes no place and gives none back) and is
 * refused the same way when the requester is at the limit, else runs uncounted. Self-deletion is
 * neither limited nor counted; 0 turns the guard off.
 */
export function guardMassDeletion(
  deps: { counts: RequesterDeletionCounts; clock: Clock; maxPerHour: number },
  deleteAccount: (input: DeletionInput) => Promise<DeletionOutcome>,
): (input: DeletionInput) => Promise<DeletionOutcome> {
  const max = deps.maxPerHour
  if (max <= 0) return deleteAccount
  return async (input) => {
    if (input.userId === input.caller.userId) return deleteAccount(input)
    const requester = requesterOf(input.caller)
    const now = deps.clock.now().getTime()
    const minute = Math.floor(now / MINUTE_MS)
    // One minute past this one too: an instance whose clock runs ahead reserves into it, and this
    // read must see that reservation (the safe side of a skew of up to a minute).
    const readWindow = () => deps.counts.countsBetween(requester, minute - GUARD_WINDOW_MINUTES + 1, minute + CLOCK_SKEW_MINUTES)
    if (input.dryRun) {
      // The real call's increment would make it count + 1, refused over the limit: at the limit already, so is the dry run.
      const counted = await readWindow()
      const total = totalOf(counted)
      if (total >= max) throw new DeletionLimitReachedError(secondsUntilFree(counted, total + 1 - max, now, max))
      return deleteAccount(input)
    }
    // Given back to the minute it was taken from; a give-back lost to an outage is a place lost for the hour.
    const giveBack = () => deps.counts.add(requester, minute, -1).catch(() => undefined)
    await deps.counts.add(requester, minute, 1)
    let counted: MinuteCount[]
    try {
      counted = await readWindow()
    } catch (err) {
      await giveBack()
      throw err
    }
    const reserved = totalOf(counted)
    if (reserved > max) {
      await giveBack()
      // Given back, the count is reserved - 1; the retry's own reservation fits once reserved - max places are free.
      throw new DeletionLimitReachedError(secondsUntilFree(counted, reserved - max, now, max))
    }
    try {
      return await deleteAccount(input)
    } catch (err) {
      await giveBack()
      throw err
    }
  }
}
