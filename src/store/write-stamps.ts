import { leaseHoldsAt } from '../deletion/lease.js'

/**
 * Write timestamps for writes fenced by a lease: microseconds since the epoch, as the driver stamps
 * writes (a number is exact until the year 2255), but strictly increasing, so a runner's own writes
 * keep their order within a millisecond. A write stamped while its lease holds carries a time
 * before the lease's end; whoever takes over does so only past that end, so every write of the taker
 * is later and wins, however late the earlier one lands.
 */
export class WriteStamps {
  private last = 0

  next(): number {
    const now = Date.now() * 1000
    this.last = now > this.last ? now : this.last + 1
    return this.last
  }
}

/**
 * Whether a write stamped `stamp` (µs) was stamped while a lease ending at `heldUntil` still held
 * (the domain's rule, leaseHoldsAt, at the stamp's millisecond: a whole-millisecond end makes that
 * exact).
 */
export const stampedWithin = (stamp: number, heldUntil: Date): boolean => leaseHoldsAt(heldUntil, new Date(Math.floor(stamp / 1000)))
