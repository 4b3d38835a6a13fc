/**
 * How long a store settles a lightweight transaction whose answer was lost (a serial read, and the
 * transaction sent again while the row is unchanged) while its caller waits. Bounded by time, not
 * by a count: a Cassandra that was paused answers a burst of queued transactions first, and a racer
 * left unsettled is answered as if it had won where a few more rounds would have shown it lost.
 */
export const SETTLE_BUDGET_MS = 6000

/** The pauses between settle rounds: 200 ms, 400 ms, 800 ms, then 1 s each. */
const SETTLE_BACKOFF_MS = [200, 400, 800, 1000]

/** The pause before settle round `round` (0 first). */
export function pauseBeforeSettleRound(round: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, SETTLE_BACKOFF_MS[Math.min(round, SETTLE_BACKOFF_MS.length - 1)]))
}
