import type { Logger } from '../logging/logger.js'
import type { ServiceMetrics } from '../metrics/service-metrics.js'
import type { OutboxEntry } from '../store/cassandra-event-outbox.js'
import { RetryBackoff } from './retry-backoff.js'

/** How many published events are recorded in Cassandra at a time. */
const RECORD_AT_ONCE = 16

/** An event Kafka acknowledged, and when. */
export interface Acknowledged {
  entry: OutboxEntry
  at: Date
}

/**
 * The relay's records of what Kafka acknowledged (`record`: the request's publication, then the
 * outbox entry's), RECORD_AT_ONCE at a time. Those Cassandra did not record, and those after them,
 * are owed: kept (at most the send in which a record failed), counted and warned of, and the relay
 * waits (`backoff`, growing while records keep failing) before it tries only their record again,
 * before anything new is sent, so an event on the topic is never sent again by this process for
 * want of its record.
 */
export class PublicationRecords {
  private owed: Acknowledged[] = []
  private readonly backoff: RetryBackoff

  constructor(
    private readonly record: (entry: OutboxEntry, at: Date) => Promise<void>,
    private readonly deps: { log: Logger; metrics?: Pick<ServiceMetrics, 'countEventPublishFailures'> },
    backoff: { firstMs: number; maxMs: number },
  ) {
    this.backoff = new RetryBackoff(backoff)
  }

  /** Whether some acknowledged events' records are owed: nothing new is sent until they are made. */
  owes(): boolean {
    return this.owed.length > 0
  }

  /** Whether the wait after records that failed is over (it is when none failed). */
  ready(nowMs: number): boolean {
    return this.backoff.ready(nowMs)
  }

  /** Tries the owed records again; returns the request ids recorded. Those still refused stay owed. */
  recordOwed(): Promise<string[]> {
    return this.recordAll(this.owed.splice(0))
  }

  /**
   * Records each publication in order, RECORD_AT_ONCE at a time; returns the request ids recorded. At
   * the first chunk with a record refused, that chunk's refused ones and every one after it become
   * owed, and the wait starts (or grows).
   */
  async recordAll(acknowledged: Acknowledged[]): Promise<string[]> {
    const recorded: string[] = []
    for (let from = 0; from < acknowledged.length; from += RECORD_AT_ONCE) {
      const chunk = acknowledged.slice(from, from + RECORD_AT_ONCE)
      const results = await Promise.allSettled(chunk.map(({ entry, at }) => this.record(entry, at)))
      recorded.push(...chunk.filter((_, i) => results[i]?.status === 'fulfilled').map(({ entry }) => entry.requestId))
      const refused = results.find((result): result is PromiseRejectedResult => result.status === 'rejected')
      if (refused) {
        this.owed = [...chunk.filter((_, i) => results[i]?.status === 'rejected'), ...acknowledged.slice(from + RECORD_AT_ONCE)]
        this.backoff.failed(Date.now())
        this.deps.metrics?.countEventPublishFailures('record', this.owed.length)
        // The error's name only: a driver's message may quote the values it was sent.
        const err = refused.reason instanceof Error ? refused.reason.name : 'error'
        for (const { entry } of this.owed) this.deps.log.warn({ requestId: entry.requestId, mid: entry.mid, err }, 'event on the topic; its publication not recorded yet')
        return recorded
      }
    }
    this.backoff.succeeded()
    return recorded
  }
}
