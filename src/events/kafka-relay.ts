import { Kafka, logLevel, type Producer } from 'kafkajs'
import type { Logger } from '../logging/logger.js'
import type { CassandraEventOutbox } from '../store/cassandra-event-outbox.js'

/** Wait for every in-sync replica (Kafka's acks=all). */
const ACKS_ALL = -1

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
 * Publishes what the outbox holds, oldest listing first, and marks each entry (its request, then
 * the entry) only after Kafka acknowledged it. A crash in between republishes the same payload, with the same mid, so
 * consumers can drop the duplicate; the producer is idempotent, so its own retries add none.
 * Kafka being down only means the entries wait for the next pass.
 */
export class KafkaRelay {
  private producer: Producer | undefined
  private connecting: Promise<Producer> | undefined
  private running: Promise<number> | undefined
  private readonly kafka: Kafka

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

  /** One pass over the outbox; concurrent calls share the pass in flight. Returns how many were published. */
  publishPending(limit = 100): Promise<number> {
    this.running ??= this.pass(limit).finally(() => {
      this.running = undefined
    })
    return this.running
  }

  async close(): Promise<void> {
    await this.running?.catch(() => undefined)
    await this.producer?.disconnect().catch(() => undefined)
    this.producer = undefined
  }

  private async pass(limit: number): Promise<number> {
    const entries = await this.deps.outbox.pending(limit)
    if (entries.length === 0) return 0
    let published = 0
    for (const entry of entries) {
      try {
        const producer = await this.connect()
        // acks=all: acknowledged once every in-sync replica has it (min.insync.replicas 2 of 3 on a cluster), so a broker lost right after cannot take it along.
        await producer.send({ topic: this.options.topic, acks: ACKS_ALL, timeout: this.options.timeoutMs, messages: [{ key: entry.userId, value: entry.payload }] })
      } catch (err) {
        await this.deps.outbox.attemptFailed(entry)
        this.deps.log.warn({ requestId: entry.requestId, mid: entry.mid, err: err instanceof Error ? err.message : String(err) }, 'event not published yet')
        await this.reset()
        break
      }
      const at = new Date()
      // The request first, the outbox entry after: an entry stays listed until its request says
      // published, so a failure between the two (Cassandra gone for a moment) only republishes it,
      // with the same mid, and never leaves a request whose event is on the topic saying "queued".
      await this.deps.published(entry.requestId, at)
      await this.deps.outbox.markPublished(entry.requestId, at)
      this.deps.log.info({ requestId: entry.requestId, mid: entry.mid, topic: this.options.topic }, 'event published')
      published++
    }
    return published
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
