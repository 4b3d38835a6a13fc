import { RetryBackoff } from './retry-backoff.js'

/** Most events remembered as waiting for a failing partition (see PartitionWaits): about a megabyte of ids, and as many listing rows read past per pass. */
export const MAX_WAITING_EVENTS = 10_000

/** A partition whose send failed: when it may be tried again, and the events read for it meanwhile (passed by in the listing until then). */
interface PartitionWait {
  backoff: RetryBackoff
  waiting: Set<string>
}

/**
 * The relay's bookkeeping of partitions whose last send failed. Each waits (a RetryBackoff that
 * grows while its sends keep failing) before it is tried again, and the events of it met meanwhile
 * are remembered by request id, so that the listing passes them by unread while the other
 * partitions' events behind them go on.
 *
 * At most `maxEvents` are remembered in all. Past that (one partition down for long, a backlog
 * behind it) the relay backs off as a whole after the pass (`endPass`), as it does when Kafka is
 * unreachable, so the memory held and the listing rows each pass reads past stay bounded: events
 * listed behind those not remembered then wait for the partition too.
 *
 * Bookkeeping only: it sends, reads and logs nothing; times are ms since the epoch, given by the caller.
 */
export class PartitionWaits {
  private readonly waits = new Map<number, PartitionWait>()
  /** A pass met more events of failing partitions than maxEvents: the relay backs off as a whole after it. */
  private full = false
  /** More events of failing partitions than remembered: nothing is read or sent until the wait is over, longer while it lasts. */
  private readonly overflowBackoff: RetryBackoff
  /** The partition count the waits are numbered by: that of the connection they were met on. */
  private partitionCount: number | undefined

  /** `backoff`: each failing partition's waits, and the relay's as a whole past `maxEvents`. */
  constructor(
    readonly maxEvents: number,
    private readonly backoff: { firstMs: number; maxMs: number },
  ) {
    this.overflowBackoff = new RetryBackoff(backoff)
  }

  /** Whether the partition's last send failed and its wait is not over yet: its events are not sent. */
  isWaiting(partition: number, nowMs: number): boolean {
    const wait = this.waits.get(partition)
    return wait !== undefined && !wait.backoff.ready(nowMs)
  }

  /** Whether the partition's last send failed, its wait over or not: it is tried after the partitions with no failure behind them. */
  hasFailed(partition: number): boolean {
    return this.waits.has(partition)
  }

  /** Whether any partition's wait is not over yet. */
  anyWaiting(nowMs: number): boolean {
    return [...this.waits.values()].some((wait) => !wait.backoff.ready(nowMs))
  }

  /** A failing partition's events met again while it waits: remembered (within maxEvents). A partition that has not failed has none to remember. */
  remember(partition: number, events: readonly { requestId: string }[]): void {
    const wait = this.waits.get(partition)
    if (wait) this.keep(wait, events)
  }

  /** A send of the partition's events failed: it waits (longer than before if it was already failing), and these events are remembered (within maxEvents). */
  failed(partition: number, events: readonly { requestId: string }[], nowMs: number): void {
    const wait = this.waits.get(partition) ?? { backoff: new RetryBackoff(this.backoff), waiting: new Set<string>() }
    wait.backoff.failed(nowMs)
    this.keep(wait, events)
    this.waits.set(partition, wait)
  }

  /** The partition's events of a pass all went: it no longer waits, and its events are no longer remembered. */
  sent(partition: number): void {
    this.waits.delete(partition)
  }

  /** The request ids a pass passes by unread in the listing: those of the partitions still waiting. */
  *passedBy(nowMs: number): Generator<string> {
    for (const wait of this.waits.values()) if (!wait.backoff.ready(nowMs)) yield* wait.waiting
  }

  /**
   * Whether the topic's partition count differs from the one the partition waits were numbered by,
   * while some waited: those waits are dropped (clear), and the relay does not send the page and
   * reads the listing again from its start, so that the next pass reads it with nothing passed by.
   * What that keeps of a user key's order (its events are few: one per deletion request, the same
   * mid when sent again): the relay sends one request at a time (maxInFlightRequests 1), so every
   * event of the key sent to its old partition was acknowledged before the first goes to its new
   * one; and an event waiting for its failing old partition is not overtaken by a later one of the
   * key that the new count places elsewhere: both are read again, in listing order, and go to the
   * new partition together (unless it fails too). Kafka orders a partition only: a consumer reading
   * both partitions may still read the new one's event first, as with any producer when partitions
   * are added (and the listing is not deletion order: events were never promised in it).
   * Without a renumbering, a partition's events that waited are sent when the relay's read, going on
   * from where it stands (round to its start), meets them once the wait is over: one of the key
   * listed after them that the read meets first goes first, on the same partition.
   */
  renumbered(count: number): boolean {
    const before = this.partitionCount
    this.partitionCount = count
    return before !== undefined && before !== count && this.clear()
  }

  /** The topic's partitions were numbered anew (another count): every wait is dropped, and its events read again. Returns whether any partition waited. */
  clear(): boolean {
    const any = this.waits.size > 0
    this.waits.clear()
    return any
  }

  /** An event published (by this relay, whichever partition it went to): no longer remembered. */
  forget(requestId: string): void {
    for (const wait of this.waits.values()) wait.waiting.delete(requestId)
  }

  /** After a read to the end of the listing (`listed`: every id it gave): a remembered event not in it is no longer listed (published elsewhere), and forgotten. */
  forgetUnlisted(listed: ReadonlySet<string>): void {
    for (const wait of this.waits.values()) for (const requestId of wait.waiting) if (!listed.has(requestId)) wait.waiting.delete(requestId)
  }

  /** Whether the relay's wait as a whole, after a pass that met more waiting events than maxEvents, is over (it is when no pass did). */
  overflowWaitOver(nowMs: number): boolean {
    return this.overflowBackoff.ready(nowMs)
  }

  /**
   * After a pass's sends: `overflowed` when it met more events of failing partitions than
   * maxEvents. The relay then waits as a whole (overflowWaitOver), longer after each pass in a row
   * that overflows; `first` when the one before did not (the relay says so once). A pass within the
   * cap ends that growth.
   */
  endPass(nowMs: number): { overflowed: boolean; first: boolean } {
    if (!this.full) {
      this.overflowBackoff.succeeded()
      return { overflowed: false, first: false }
    }
    this.full = false
    const first = this.overflowBackoff.readyAt() === 0
    this.overflowBackoff.failed(nowMs)
    return { overflowed: true, first }
  }

  private keep(wait: PartitionWait, events: readonly { requestId: string }[]): void {
    let room = this.maxEvents - [...this.waits.values()].reduce((sum, each) => sum + each.waiting.size, 0)
    for (const { requestId } of events) {
      if (wait.waiting.has(requestId)) continue
      if (room <= 0) {
        this.full = true
        return
      }
      wait.waiting.add(requestId)
      room--
    }
  }
}
