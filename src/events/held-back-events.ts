import { RetryBackoff } from './retry-backoff.js'

/**
 * The relay's bookkeeping of events Kafka refused alone as too large for the topic, by request id:
 * each waits (a RetryBackoff of `backoff`, its waits spread at random by `random`) before it is sent
 * again, and the listing passes it by unread meanwhile; of those whose wait is over, a pass sends at
 * most `retriesPerPass` again, the ones ready longest, so they never hold up the others long.
 *
 * Bookkeeping only: it sends, reads, logs and counts nothing; times are ms since the epoch, given by the caller.
 */
export class HeldBackEvents {
  private readonly waits = new Map<string, RetryBackoff>()

  constructor(
    private readonly backoff: { firstMs: number; maxMs: number; jitter: number },
    private readonly retriesPerPass: number,
    private readonly random: () => number,
  ) {}

  /** How many events are held back. */
  get size(): number {
    return this.waits.size
  }

  /** The event was refused alone as too large: it waits, longer if it was held back already. Returns whether it is held back for the first time (the relay reports it then only). */
  hold(requestId: string, nowMs: number): boolean {
    const wait = this.waits.get(requestId)
    if (wait) {
      wait.failed(nowMs)
      return false
    }
    const first = new RetryBackoff(this.backoff, this.random)
    first.failed(nowMs)
    this.waits.set(requestId, first)
    return true
  }

  /** The request ids a pass passes by unread: those still waiting, and those whose wait is over beyond the retriesPerPass ready longest, which wait for a later pass. */
  *passedBy(nowMs: number): Generator<string> {
    const ready: [string, number][] = []
    for (const [requestId, wait] of this.waits) {
      if (wait.ready(nowMs)) ready.push([requestId, wait.readyAt()])
      else yield requestId
    }
    ready.sort(([, a], [, b]) => a - b)
    for (const [requestId] of ready.slice(this.retriesPerPass)) yield requestId
  }

  /** The event was published: no longer held back. Returns whether it was. */
  forget(requestId: string): boolean {
    return this.waits.delete(requestId)
  }

  /** After a read to the end of the listing (`listed`: every id it gave): an event not in it is no longer listed (published elsewhere), and no longer held back. */
  forgetUnlisted(listed: ReadonlySet<string>): void {
    for (const requestId of this.waits.keys()) if (!listed.has(requestId)) this.waits.delete(requestId)
  }
}
