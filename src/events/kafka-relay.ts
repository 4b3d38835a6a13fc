import { Kafka, logLevel, type Producer } from 'kafkajs'
import type { Logger } from '../logging/logger.js'
import type { ServiceMetrics } from '../metrics/service-metrics.js'
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

/**
 * The waits before an event Kafka refused as too large for the topic is sent again: 1 min, 2 min …
 * at most 15 min, each shortened by up to a quarter at random, so events refused together (a pass
 * of large events, all held back at once) do not all come back at the same pass.
 */
export const TOO_LARGE_BACKOFF = { firstMs: 60_000, maxMs: 15 * 60_000, jitter: 0.25 }

/** Most held-back events whose wait is over one pass sends again; the others are passed by until a later pass. */
export const HELD_BACK_RETRIES_PER_PASS = 4

/**
 * What Kafka counts of a record batch besides the records (offset, length, epoch, magic, CRC,
 * attributes, offsets, timestamps, producer id, epoch and sequence, count: record batch format v2).
 */
const BATCH_HEADER_BYTES = 61
/** The most a record adds to its key and value: its length, attributes, timestamp and offset deltas, key and value lengths, header count (varints at their longest). */
const RECORD_FRAMING_BYTES = 32

/** Kafka's codes for a send larger than the broker or topic takes: MESSAGE_TOO_LARGE (a record batch over `max.message.bytes`) and RECORD_LIST_TOO_LARGE (over the segment size). */
const TOO_LARGE_TYPES = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE'])
const TOO_LARGE_CODES = new Set([10, 18])

export interface KafkaRelayOptions {
  brokers: string[]
  topic: string
  clientId: string
  /** Bound on connecting and on one send. */
  timeoutMs: number
  /** Most bytes of events in one send (recordBatchBytes of its entries); an event larger than this goes alone. */
  maxSendBytes: number
}

/** What the relay needs of a Kafka producer: kafkajs's, or a test's. */
export type RelayProducer = Pick<Producer, 'connect' | 'send' | 'disconnect'>

export interface RelayDeps {
  outbox: Pick<CassandraEventOutbox, 'pending' | 'markPublished' | 'attemptFailed'>
  /** Told when an event reached the topic (the deletion request records it). */
  published(requestId: string, at: Date): Promise<void>
  log: Logger
  /** Events refused as too large for the topic: counted once each, and how many are held back now. */
  metrics?: Pick<ServiceMetrics, 'countEventTooLarge' | 'setEventsHeldBack'>
  /** The producer to connect; kafkajs's idempotent producer by default. */
  createProducer?: () => RelayProducer
  /** Uniform in [0, 1): spreads the waits of held-back events (TOO_LARGE_BACKOFF.jitter); Math.random by default. */
  random?: () => number
}

/** The bytes of a record batch of these entries, as Kafka measures it against `max.message.bytes` (at most). */
export function recordBatchBytes(entries: readonly Pick<OutboxEntry, 'userId' | 'payload'>[]): number {
  let bytes = BATCH_HEADER_BYTES
  for (const entry of entries) bytes += messageBytes(entry)
  return bytes
}

function messageBytes(entry: Pick<OutboxEntry, 'userId' | 'payload'>): number {
  return (entry.userId ? Buffer.byteLength(entry.userId) : 0) + Buffer.byteLength(entry.payload) + RECORD_FRAMING_BYTES
}

/**
 * The entries cut into sends in their order, each of at most `maxBytes` (recordBatchBytes), but
 * never empty: an entry larger than that alone goes in a send of its own.
 */
export function sendsOf<T extends Pick<OutboxEntry, 'userId' | 'payload'>>(entries: readonly T[], maxBytes: number): T[][] {
  const sends: T[][] = []
  let current: T[] = []
  let bytes = BATCH_HEADER_BYTES
  for (const entry of entries) {
    const size = messageBytes(entry)
    if (current.length > 0 && bytes + size > maxBytes) {
      sends.push(current)
      current = []
      bytes = BATCH_HEADER_BYTES
    }
    current.push(entry)
    bytes += size
  }
  if (current.length > 0) sends.push(current)
  return sends
}

/**
 * Whether Kafka refused a send as too large (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE): kafkajs
 * rejects the send with the broker's KafkaJSProtocolError (`type`, `code`), not retried; its
 * causes are looked through too, should a wrapper (KafkaJSNonRetriableError) carry it.
 */
export function isTooLarge(err: unknown): boolean {
  let current: unknown = err
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { name, type, code, cause } = current as { name?: unknown; type?: unknown; code?: unknown; cause?: unknown }
    if (typeof type === 'string' && TOO_LARGE_TYPES.has(type)) return true
    if (name === 'KafkaJSProtocolError' && typeof code === 'number' && TOO_LARGE_CODES.has(code)) return true
    current = cause
  }
  return false
}

/** kafkajs's idempotent producer, on one client for the relay's life. */
function kafkaProducer(options: KafkaRelayOptions): () => RelayProducer {
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: options.timeoutMs,
    requestTimeout: options.timeoutMs,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1000 },
    logLevel: logLevel.NOTHING,
  })
  return () => kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
}

/**
 * Publishes what the outbox holds, a page at a time in listing order, in sends of at most
 * `maxSendBytes`, and marks each entry (its request, then the entry) only after Kafka acknowledged
 * its send. A crash in between republishes the same payload, with the same mid, so consumers can
 * drop the duplicate; so does a send of several events refused as too large, of which some
 * partitions may have taken theirs before the split sends them again. The producer is idempotent,
 * so its own retries add none.
 * Kafka being down only means the entries wait: for a pass after a wait that grows while it stays
 * down (RetryBackoff), so the outbox is not read and marked every tick meanwhile.
 * A send Kafka refuses as too large is split in two, down to single events; an event refused alone
 * (larger than the topic's `max.message.bytes`) stays in the outbox, is reported once, and is held
 * back: passed by without being read, and sent again after TOO_LARGE_BACKOFF, while the others go on;
 * a pass sends at most HELD_BACK_RETRIES_PER_PASS of them again, so they never hold up the others long.
 */
export class KafkaRelay {
  private producer: RelayProducer | undefined
  private connecting: Promise<RelayProducer> | undefined
  private running: Promise<number> | undefined
  private readonly createProducer: () => RelayProducer
  private readonly random: () => number
  private readonly backoff = new RetryBackoff(BACKOFF)
  /** Events Kafka refused as too large, by request id: when each may be sent again. */
  private readonly heldBack = new Map<string, RetryBackoff>()
  /** options.maxSendBytes, lowered when the topic refused a send of several events as too large. */
  private maxSendBytes: number

  constructor(
    private readonly options: KafkaRelayOptions,
    private readonly deps: RelayDeps,
  ) {
    this.createProducer = deps.createProducer ?? kafkaProducer(options)
    this.random = deps.random ?? Math.random
    this.maxSendBytes = options.maxSendBytes
  }

  /**
   * Passes over the outbox while the listing holds more than a page (up to MAX_PASSES), so a backlog drains
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
      const { count, more } = await this.pass(limit)
      published += count
      if (!more) break
    }
    return published
  }

  private async pass(limit: number): Promise<{ count: number; more: boolean }> {
    const now = Date.now()
    if (!this.backoff.ready(now)) return { count: 0, more: false }
    const { entries, complete, more, listed } = await this.deps.outbox.pending(limit, this.passedBy(now))
    // Every id the listing gave, read or not (passed by, or past the page), so that a held-back event
    // cut off by the page is not taken for one gone from the listing, and reported again.
    if (complete) this.forgetUnlisted(listed)
    if (entries.length === 0) return { count: 0, more: false }
    // Sends of at most maxSendBytes, one after another in listing order: one acknowledgement per
    // send instead of one per event (the relay fell behind a batch deletion at one send each), and
    // none larger than a broker takes (a record batch over the topic's max.message.bytes is refused
    // whole, every time). acks=all: acknowledged once every in-sync replica has them
    // (min.insync.replicas 2 of 3 on a cluster), so a broker lost right after cannot take them along.
    const sends = sendsOf(entries, this.maxSendBytes)
    let count = 0
    for (let send = sends.shift(); send; send = sends.shift()) {
      try {
        const producer = await this.connect()
        await producer.send({ topic: this.options.topic, acks: ACKS_ALL, timeout: this.options.timeoutMs, messages: send.map((entry) => ({ key: entry.userId, value: entry.payload })) })
      } catch (err) {
        const tooLarge = isTooLarge(err)
        // A send of several events may span partitions (leaders): some may have reached the topic
        // (another partition's records) and are sent again, with the same mid, by a producer started
        // afresh, whose sequence numbers the broker cannot take for those of the refused send (kafkajs
        // steps each partition's sequence back when a produce request fails, appended or not).
        // One event refused as too large is one partition's batch the broker appended nothing of, and
        // kafkajs stepped its sequence back to where the broker expects it: the producer is kept, so a
        // held-back event's refusal costs no reconnect.
        if (!(tooLarge && send.length === 1)) await this.reset()
        if (tooLarge) {
          const [only] = send
          if (send.length === 1 && only) await this.holdBack(only, now)
          else {
            this.lowerSendBytes(recordBatchBytes(send))
            const half = Math.ceil(send.length / 2)
            sends.unshift(send.slice(0, half), send.slice(half))
          }
          continue
        }
        this.backoff.failed(Date.now())
        for (const entry of [send, ...sends].flat()) {
          await this.deps.outbox.attemptFailed(entry)
          this.deps.log.warn({ requestId: entry.requestId, mid: entry.mid, err: err instanceof Error ? err.message : String(err) }, 'event not published yet')
        }
        return { count, more: false }
      }
      const at = new Date()
      for (let from = 0; from < send.length; from += RECORD_AT_ONCE) {
        await Promise.all(send.slice(from, from + RECORD_AT_ONCE).map((entry) => this.record(entry, at)))
      }
      count += send.length
    }
    this.backoff.succeeded()
    return { count, more }
  }

  /**
   * The topic takes less than maxSendBytes (its max.message.bytes, or a broker's, is lower): the
   * sends that follow are cut to half of the one refused, so each pass does not meet the refusal
   * again. Kept until the process restarts; reported so that EVENT_RELAY_MAX_SEND_BYTES is set right.
   */
  private lowerSendBytes(refusedBytes: number): void {
    const lowered = Math.max(BATCH_HEADER_BYTES + RECORD_FRAMING_BYTES, Math.floor(refusedBytes / 2))
    if (lowered >= this.maxSendBytes) return
    this.maxSendBytes = lowered
    this.deps.log.warn({ refusedBytes, maxSendBytes: lowered }, "a send was too large for the topic; sending less at a time (lower EVENT_RELAY_MAX_SEND_BYTES below the topic's max.message.bytes)")
  }

  /**
   * The held-back events this pass passes by unread: those still waiting, and those whose wait is
   * over beyond the HELD_BACK_RETRIES_PER_PASS ready longest, which wait for a later pass.
   */
  private passedBy(now: number): Set<string> {
    const skip = new Set<string>()
    const ready: [string, number][] = []
    for (const [requestId, backoff] of this.heldBack) {
      if (backoff.ready(now)) ready.push([requestId, backoff.readyAt()])
      else skip.add(requestId)
    }
    ready.sort(([, a], [, b]) => a - b)
    for (const [requestId] of ready.slice(HELD_BACK_RETRIES_PER_PASS)) skip.add(requestId)
    return skip
  }

  /**
   * An event Kafka refused alone as too large: it stays in the outbox (its attempts counted), is
   * reported once (its request id and size, nothing of its content), and waits TOO_LARGE_BACKOFF
   * (spread at random) before it is sent again, e.g. once the topic's max.message.bytes is raised.
   */
  private async holdBack(entry: OutboxEntry, now: number): Promise<void> {
    const backoff = this.heldBack.get(entry.requestId)
    if (backoff) backoff.failed(now)
    else {
      const first = new RetryBackoff(TOO_LARGE_BACKOFF, this.random)
      first.failed(now)
      this.heldBack.set(entry.requestId, first)
      this.deps.log.error({ requestId: entry.requestId, bytes: recordBatchBytes([entry]) }, 'event too large for the topic; held back in the outbox')
      this.deps.metrics?.countEventTooLarge()
      this.deps.metrics?.setEventsHeldBack(this.heldBack.size)
    }
    await this.deps.outbox.attemptFailed(entry)
  }

  /**
   * After a page read to the end of the listing (`listed`: every id it gave, read, passed by or past
   * the page): a held-back event not in it is no longer listed
   * (published by another instance, or by `npm run deletion:resume`), and no longer held back.
   */
  private forgetUnlisted(listed: readonly string[]): void {
    if (this.heldBack.size === 0) return
    const still = new Set(listed)
    for (const requestId of this.heldBack.keys()) if (!still.has(requestId)) this.heldBack.delete(requestId)
    this.deps.metrics?.setEventsHeldBack(this.heldBack.size)
  }

  /**
   * The request first, the outbox entry after: an entry stays listed until its request says
   * published, so a failure between the two (Cassandra gone for a moment) only republishes it,
   * with the same mid, and never leaves a request whose event is on the topic saying "queued".
   */
  private async record(entry: OutboxEntry, at: Date): Promise<void> {
    await this.deps.published(entry.requestId, at)
    await this.deps.outbox.markPublished(entry.requestId, at)
    if (this.heldBack.delete(entry.requestId)) this.deps.metrics?.setEventsHeldBack(this.heldBack.size)
    this.deps.log.info({ requestId: entry.requestId, mid: entry.mid, topic: this.options.topic }, 'event published')
  }

  private async connect(): Promise<RelayProducer> {
    if (this.producer) return this.producer
    this.connecting ??= (async () => {
      const producer = this.createProducer()
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
