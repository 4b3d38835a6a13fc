import { Kafka, logLevel, type Producer } from 'kafkajs'
import type { Logger } from '../logging/logger.js'
import type { CassandraEventOutbox, OutboxEntry } from '../store/cassandra-event-outbox.js'
import { RetryBackoff } from './retry-backoff.js'

/** Wait for every in-sync replica (Kafka's acks=all). */
const ACKS_ALL = -1

/** How many pages one relay tick publishes at most when the outbox holds a backlog. */
const MAX_PASSES = 10

/** How many published events are recorded in Cassandra at a time. */
const RECORD_AT_ONCE = 16

/** The waits between sends while Kafka keeps failing them: 1 s, 2 s, 4 s … at most 30 s. */
const BACKOFF = { firstMs: 1000, maxMs: 30_000 }

export interface KafkaRelayOptions {
  brokers: string[]
  topic: string
  clientId: string
  /** Bound on connecting and on one send. */
  timeoutMs: number
}

export interface RelayDeps {
  outbox: Pick<CassandraEventOutbox, 'pending' | 'markPublished' | 'attemptFailed'>
  /** Told when an event reached the topic (the deletion request records it). */
  published(requestId: string, at: Date): Promise<void>
  log: Logger
}

/**
 * Publishes what the outbox holds, oldest listing first, a pass's entries in one send, and marks
 * each entry (its request, then the entry) only after Kafka acknowledged them. A crash in between republishes the same payload, with the same mid, so
 * consumers can drop the duplicate; the producer is idempotent, so its own retries add none.
 * Kafka being down only means the entries wait: for a pass after a wait that grows while it stays
 * down (RetryBackoff), so the outbox is not read and marked every tick meanwhile.
 */
export class KafkaRelay {
  private producer: Producer | undefined
  private connecting: Promise<Producer> | undefined
  private running: Promise<number> | undefined
  private readonly kafka: Kafka
  private readonly backoff = new RetryBackoff(BACKOFF)

  constructor(
    private readonly options: KafkaRelayOptions,
    private readonly deps: RelayDeps,
  ) {
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: options.timeoutMs,
      requestTimeout: options.timeoutMs,
      retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1000 },
      logLevel: logLevel.NOTHING,
    })
  }

  /**
   * Passes over the outbox while each finds a full page (up to MAX_PASSES), so a backlog drains
   * faster than one page per interval; concurrent calls share the work in flight. Returns how
   * many were published.
   */
  publishPending(limit = 100): Promise<number> {
    this.running ??= this.drain(limit).finally(() => {
      this.running = undefined
    })
    return this.running
  }

  async close(): Promise<void> {
    await this.running?.catch(() => undefined)
    await this.producer?.disconnect().catch(() => undefined)
    this.producer = undefined
  }

  private async drain(limit: number): Promise<number> {
    let published = 0
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const count = await this.pass(limit)
      published += count
      if (count < limit) break
    }
    return published
  }

  private async pass(limit: number): Promise<number> {
    if (!this.backoff.ready(Date.now())) return 0
    const entries = await this.deps.outbox.pending(limit)
    if (entries.length === 0) return 0
    try {
      const producer = await this.connect()
      // One send for the pass: one acknowledgement instead of one per event (the relay fell behind a
      // batch deletion at one send each). acks=all: acknowledged once every in-sync replica has them
      // (min.insync.replicas 2 of 3 on a cluster), so a broker lost right after cannot take them along.
      const messages = entries.map((entry) => ({ key: entry.userId, value: entry.payload }))
      await producer.send({ topic: this.options.topic, acks: ACKS_ALL, timeout: this.options.timeoutMs, messages })
    } catch (err) {
      // Some may have reached the topic: they are sent again after the wait, with the same mid.
      this.backoff.failed(Date.now())
      for (const entry of entries) {
        await this.deps.outbox.attemptFailed(entry)
        this.deps.log.warn({ requestId: entry.requestId, mid: entry.mid, err: err instanceof Error ? err.message : String(err) }, 'event not published yet')
      }
      await this.reset()
      return 0
    }
    this.backoff.succeeded()
    const at = new Date()
    for (let from = 0; from < entries.length; from += RECORD_AT_ONCE) {
      await Promise.all(entries.slice(from, from + RECORD_AT_ONCE).map((entry) => this.record(entry, at)))
    }
    return entries.length
  }

  /**
   * The request first, the outbox entry after: an entry stays listed until its request says
   * published, so a failure between the two (Cassandra gone for a moment) only republishes it,
   * with the same mid, and never leaves a request whose event is on the topic saying "queued".
   */
  private async record(entry: OutboxEntry, at: Date): Promise<void> {
    await this.deps.published(entry.requestId, at)
    await this.deps.outbox.markPublished(entry.requestId, at)
    this.deps.log.info({ requestId: entry.requestId, mid: entry.mid, topic: this.options.topic }, 'event published')
  }

  private async connect(): Promise<Producer> {
    if (this.producer) return this.producer
    this.connecting ??= (async () => {
      const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
      await producer.connect()
      this.producer = producer
      return producer
    })().finally(() => {
      this.connecting = undefined
    })
    return this.connecting
  }

  private async reset(): Promise<void> {
    const producer = this.producer
    this.producer = undefined
    await producer?.disconnect().catch(() => undefined)
  }
}
