import { createRequire } from 'node:module'
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, type Message, type PartitionMetadata, Partitioners, type ProducerRecord } from 'kafkajs'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DependencyUnavailableError } from '../deletion/errors.js'
import { createLogger } from '../logging/logger.js'
import type { OutboxEntry } from '../store/cassandra-event-outbox.js'
import { InMemoryRelayOutbox } from '../../test/support/fakes/in-memory-relay-outbox.js'
import { outboxDriver } from '../../test/support/fakes/outbox-driver.js'
import { CassandraEventOutbox } from '../store/cassandra-event-outbox.js'
import { BACKOFF, HELD_BACK_RETRIES_PER_PASS, KafkaRelay, type KafkaRelayOptions, MAX_PARTITION_FAILURES_PER_PASS, type RelayDeps, TOO_LARGE_BACKOFF, TOPIC_RECHECK_MS } from './kafka-relay.js'
import type { RelayProducer } from './relay-kafka-client.js'
import { recordBatchBytes } from './send-sizes.js'

// The error kafkajs builds from a produce response's error code: what producer.send rejects with.
const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error') as { createErrorFromCode(code: number): Error & { type: string; code: number } }
const MESSAGE_TOO_LARGE = 10
const NOT_ENOUGH_REPLICAS = 19
const TOPIC = 'local.delete.user'
/** The relay's timeoutMs (KAFKA_TIMEOUT_MS) in these tests. */
const KAFKA_TIMEOUT_MS = 1000

let serial = 0
function entry(payloadBytes: number): OutboxEntry {
  const n = ++serial
  const requestId = `req-${n}`
  const head = JSON.stringify({ mid: `LP.1.${n}`, pad: '' })
  return { requestId, mid: `LP.1.${n}`, userId: `user-${n}`, payload: head.replace('""', `"${'x'.repeat(Math.max(0, payloadBytes - head.length))}"`), attempts: 0 }
}

/**
 * A broker in memory, as kafkajs 2.2.4's producer meets it (producer/sendMessages.js): a send's
 * messages go to their partitions (the one a message names, else kafkajs's default partitioner's
 * for its key); each partition's record batch is appended or refused on its own, and the send
 * rejects whole when any was refused, the others' records appended all the same. A batch over
 * `maxMessageBytes` is refused as Kafka does (MESSAGE_TOO_LARGE); a partition in `failing` takes
 * nothing (its leader short of in-sync replicas, after kafkajs's retries); while `down`, nothing connects.
 */
class FakeBroker {
  maxMessageBytes = Number.POSITIVE_INFINITY
  down = false
  partitionCount = 1
  /** Replicas of each partition, as the metadata lists them. */
  replicationFactor = 1
  /** The partitions the producer's own metadata knows, when it lags the admin's (partitions being added): kafkajs's producer places messages by these. */
  producerPartitionCount: number | undefined
  readonly failing = new Set<number>()
  readonly topic: { key: string; value: string; partition: number }[] = []
  readonly sends: { messages: number; bytes: number; refused: boolean; failed: boolean; partitions: number[] }[] = []
  connects = 0
  disconnects = 0
  metadataReads = 0
  private readonly partitioner = Partitioners.DefaultPartitioner()

  metadata(count = this.partitionCount): PartitionMetadata[] {
    return Array.from({ length: count }, (_, partitionId) => ({
      partitionErrorCode: 0,
      partitionId,
      leader: 0,
      replicas: Array.from({ length: this.replicationFactor }, (_, replica) => replica),
      isr: [0],
    }))
  }

  /** Where kafkajs's producer puts a message with this key and no partition named (over `count` partitions: the topic's now by default). */
  partitionOf(key: string, count = this.partitionCount): number {
    return this.partitioner({ topic: TOPIC, partitionMetadata: this.metadata(count), message: { key, value: null } })
  }

  async topicPartitions(): Promise<PartitionMetadata[]> {
    if (this.down) throw new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:19092')
    this.metadataReads++
    return this.metadata()
  }

  producer(): RelayProducer {
    return {
      connect: async () => {
        if (this.down) throw new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:19092')
        this.connects++
      },
      disconnect: async () => {
        this.disconnects++
      },
      send: async (record: ProducerRecord) => {
        const messages = record.messages as (Message & { key: string; value: string })[]
        const batches = new Map<number, typeof messages>()
        const known = this.producerPartitionCount ?? this.partitionCount
        const producerMetadata = this.metadata().slice(0, known)
        for (const m of messages) {
          // kafkajs drops a message naming a partition its metadata does not hold, with no request, and the send resolves.
          if (m.partition !== undefined && m.partition >= known) continue
          const partition = m.partition ?? this.partitioner({ topic: TOPIC, partitionMetadata: producerMetadata, message: { key: m.key, value: null } })
          batches.set(partition, [...(batches.get(partition) ?? []), m])
        }
        let error: Error | undefined
        let refused = false
        let failed = false
        for (const [partition, batch] of batches) {
          if (recordBatchBytes(batch.map((m) => ({ userId: m.key, payload: m.value }))) > this.maxMessageBytes) {
            refused = true
            error ??= createErrorFromCode(MESSAGE_TOO_LARGE)
          } else if (this.failing.has(partition)) {
            failed = true
            error ??= new KafkaJSNumberOfRetriesExceeded(createErrorFromCode(NOT_ENOUGH_REPLICAS), { retryCount: 2, retryTime: 1000 })
          } else this.topic.push(...batch.map((m) => ({ key: m.key, value: m.value, partition })))
        }
        const bytes = recordBatchBytes(messages.map((m) => ({ userId: m.key, payload: m.value })))
        this.sends.push({ messages: messages.length, bytes, refused, failed, partitions: [...batches.keys()] })
        if (error) throw error
        return []
      },
    }
  }
}

/**
 * The relay over the outbox and broker; `random` spreads held-back waits (none by default: each
 * wait is the whole of TOO_LARGE_BACKOFF's). While `cassandra.down`, the request's record of a
 * publication fails, as the store's would.
 */
function relayOver(
  outbox: RelayDeps['outbox'],
  broker: FakeBroker,
  maxSendBytes: number,
  random: () => number = () => 0,
  { topicRecheckMs, ...extra }: Pick<RelayDeps, 'maxWaitingEvents' | 'topicSettings'> & Pick<KafkaRelayOptions, 'topicRecheckMs'> = {},
) {
  const lines: Record<string, unknown>[] = []
  const log = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) })
  const metrics = {
    tooLarge: 0,
    heldBack: 0,
    failures: { kafka: 0, record: 0 },
    waiting: { count: 0, oldest: undefined as Date | undefined },
    topicAtRisk: undefined as boolean | undefined,
    countEventTooLarge() {
      metrics.tooLarge++
    },
    setEventsHeldBack(count: number) {
      metrics.heldBack = count
    },
    countEventPublishFailures(reason: 'kafka' | 'record', events: number) {
      metrics.failures[reason] += events
    },
    setEventsWaiting(count: number, oldest: Date | undefined) {
      metrics.waiting = { count, oldest }
    },
    setEventsTopicAtRisk(atRisk: boolean) {
      metrics.topicAtRisk = atRisk
    },
  }
  const recorded: string[] = []
  const cassandra = { down: false }
  const relay = new KafkaRelay(
    { brokers: ['unused:9092'], topic: TOPIC, clientId: 'test', timeoutMs: KAFKA_TIMEOUT_MS, maxSendBytes, ...(topicRecheckMs !== undefined && { topicRecheckMs }) },
    {
      outbox,
      published: async (requestId) => {
        if (cassandra.down) throw new DependencyUnavailableError('cassandra')
        recorded.push(requestId)
      },
      log,
      metrics,
      createProducer: () => broker.producer(),
      topicPartitions: () => broker.topicPartitions(),
      random,
      ...extra,
    },
  )
  return { relay, lines, metrics, recorded, cassandra }
}

const midsOn = (broker: FakeBroker) => broker.topic.map((m) => (JSON.parse(m.value) as { mid: string }).mid)
const TOO_LARGE_LINE = 'event too large for the topic; held back in the outbox'
const refusals = (broker: FakeBroker) => broker.sends.filter((s) => s.refused).length

/** The describe block's tests run on a fake date (Date only: timers stay real), from the same moment each. */
function onAFakeDate(): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2026-12-01T10:00:00Z'))
  })
  afterEach(() => {
    vi.useRealTimers()
  })
}

describe('KafkaRelay', () => {
  onAFakeDate()

  it('when a page of events is larger than the send cap, then it goes in several sends, each within the cap, in listing order, all recorded', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    const entries = Array.from({ length: 100 }, () => entry(20_000))
    outbox.add(...entries)
    const { relay, recorded } = relayOver(outbox, broker, 256 * 1024)

    expect(await relay.publishPending()).toBe(100)

    expect(broker.sends.length).toBeGreaterThan(1)
    for (const send of broker.sends) expect(send.bytes).toBeLessThanOrEqual(256 * 1024)
    expect(midsOn(broker)).toEqual(entries.map((e) => e.mid))
    expect(recorded).toEqual(entries.map((e) => e.requestId))
    expect(outbox.listed()).toEqual([])
  })

  it('when one event is larger than the topic takes, then the others are published, it stays in the outbox, and it is reported once by its request id and size', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.maxMessageBytes = 50_000
    const before = [entry(2000), entry(2000)]
    const big = entry(80_000)
    const after = [entry(2000), entry(2000)]
    outbox.add(...before, big, ...after)
    const { relay, lines, metrics, recorded } = relayOver(outbox, broker, 40_000)

    expect(await relay.publishPending()).toBe(4)

    expect(midsOn(broker)).toEqual([...before, ...after].map((e) => e.mid))
    expect(recorded).toEqual([...before, ...after].map((e) => e.requestId))
    expect(outbox.listed()).toEqual([big.requestId])
    expect(outbox.publishedAt(big.requestId)).toBeUndefined()
    expect(outbox.attemptsOf(big.requestId)).toBe(1)
    const reports = lines.filter((l) => l.msg === 'event too large for the topic; held back in the outbox')
    expect(reports).toHaveLength(1)
    const { level, time, service, msg, ...fields } = reports[0] as Record<string, unknown>
    expect(fields).toEqual({ requestId: big.requestId, bytes: recordBatchBytes([big]) })
    expect(JSON.stringify(reports[0])).not.toContain(big.userId)
    expect(lines.filter((l) => l.msg === 'event not published yet')).toEqual([])
    expect(metrics).toMatchObject({ tooLarge: 1, heldBack: 1 })
  })

  it('when an event was refused as too large, then later passes neither read nor send it until its wait is over; it is then sent again, reported no more, and published once the topic takes it', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.maxMessageBytes = 50_000
    const big = entry(80_000)
    outbox.add(big)
    const { relay, lines, metrics, recorded } = relayOver(outbox, broker, 40_000)
    await relay.publishPending()
    expect(broker.sends).toHaveLength(1)

    // Later events are not held up by it, and it is not tried (nor read) on every tick.
    const later = entry(2000)
    outbox.add(later)
    vi.setSystemTime(Date.now() + TOO_LARGE_BACKOFF.firstMs - 1000)
    expect(await relay.publishPending()).toBe(1)
    expect(outbox.reads.at(-1)).toEqual([later.requestId])
    expect(broker.sends.filter((s) => s.refused)).toHaveLength(1)

    vi.setSystemTime(Date.now() + 1000)
    expect(await relay.publishPending()).toBe(0)
    expect(broker.sends.filter((s) => s.refused)).toHaveLength(2)
    expect(outbox.attemptsOf(big.requestId)).toBe(2)
    // The wait doubles: not tried again a first wait later.
    vi.setSystemTime(Date.now() + TOO_LARGE_BACKOFF.firstMs)
    await relay.publishPending()
    expect(broker.sends.filter((s) => s.refused)).toHaveLength(2)

    // The operator raises the topic's max.message.bytes.
    broker.maxMessageBytes = 1_048_588
    vi.setSystemTime(Date.now() + TOO_LARGE_BACKOFF.firstMs)
    expect(await relay.publishPending()).toBe(1)
    expect(recorded).toEqual([later.requestId, big.requestId])
    expect(midsOn(broker)).toEqual([later.mid, big.mid])
    expect(lines.filter((l) => l.msg === 'event too large for the topic; held back in the outbox')).toHaveLength(1)
    expect(metrics).toMatchObject({ tooLarge: 1, heldBack: 0 })
  })

  it('when more events are held back than a page holds, then the events listed after them are still published', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.maxMessageBytes = 5000
    const bigs = Array.from({ length: 5 }, () => entry(8000))
    const small = Array.from({ length: 3 }, () => entry(500))
    outbox.add(...bigs, ...small)
    const { relay, metrics } = relayOver(outbox, broker, 4000)

    expect(await relay.publishPending(4)).toBe(3)
    expect(midsOn(broker)).toEqual(small.map((e) => e.mid))
    expect(outbox.listed()).toEqual(bigs.map((e) => e.requestId))
    expect(metrics).toMatchObject({ tooLarge: 5, heldBack: 5 })
  })

  it('when the topic takes less than the send cap, then a refused send is split until every event that fits is published, and later sends are cut smaller', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.maxMessageBytes = 10_000
    const entries = Array.from({ length: 20 }, () => entry(1000))
    outbox.add(...entries)
    const { relay, lines, metrics } = relayOver(outbox, broker, 100_000)

    expect(await relay.publishPending()).toBe(20)
    expect(midsOn(broker)).toEqual(entries.map((e) => e.mid))
    expect(metrics.tooLarge).toBe(0)
    expect(lines.some((l) => l.msg === 'event too large for the topic; held back in the outbox')).toBe(false)
    expect(lines.filter((l) => String(l.msg).startsWith('a send was too large for the topic')).length).toBeGreaterThan(0)

    const refusedBefore = broker.sends.filter((s) => s.refused).length
    const more = Array.from({ length: 20 }, () => entry(1000))
    outbox.add(...more)
    expect(await relay.publishPending()).toBe(20)
    expect(broker.sends.filter((s) => s.refused).length).toBe(refusedBefore)
  })

  it('when Kafka is down, then nothing is held back as too large: every entry waits, counted and warned of, and the relay backs off as before', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.down = true
    const entries = [entry(1000), entry(1000)]
    outbox.add(...entries)
    const { relay, lines, metrics } = relayOver(outbox, broker, 100_000)

    expect(await relay.publishPending()).toBe(0)
    expect(entries.map((e) => outbox.attemptsOf(e.requestId))).toEqual([1, 1])
    expect(lines.filter((l) => l.msg === 'event not published yet')).toHaveLength(2)
    expect(metrics.tooLarge).toBe(0)
    broker.down = false
    expect(await relay.publishPending()).toBe(0)
    vi.setSystemTime(Date.now() + 1000)
    expect(await relay.publishPending()).toBe(2)
  })

  it('when a held-back event leaves the listing (published elsewhere), then it is no longer counted as held back, before its wait is over', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.maxMessageBytes = 5000
    const big = entry(8000)
    outbox.add(big)
    const { relay, metrics } = relayOver(outbox, broker, 4000)
    await relay.publishPending()
    expect(metrics.heldBack).toBe(1)

    await relay.publishPending()
    expect(metrics.heldBack).toBe(1)
    await outbox.markPublished(big.requestId)
    await relay.publishPending()
    expect(metrics.heldBack).toBe(0)
    expect(broker.sends).toHaveLength(1)
  })

  it('when more events are held back than one read of the driver gives (5,000), then the listing is paged past them: the events after them are published, and none is forgotten or reported again', async () => {
    const db = outboxDriver()
    const outbox = new CassandraEventOutbox(db.client, 'ks')
    const broker = new FakeBroker()
    broker.maxMessageBytes = 500
    const bigs = Array.from({ length: 5050 }, () => entry(600))
    db.add(...bigs)
    const { relay, lines, metrics, recorded } = relayOver(outbox, broker, 4000)
    for (let tick = 0; tick < 10 && metrics.heldBack < bigs.length; tick++) await relay.publishPending()
    expect(metrics).toMatchObject({ tooLarge: bigs.length, heldBack: bigs.length })

    const small = Array.from({ length: 3 }, () => entry(100))
    db.add(...small)
    const refusedBefore = refusals(broker)
    expect(await relay.publishPending()).toBe(3)

    expect(recorded).toEqual(small.map((e) => e.requestId))
    expect(db.listed()).toEqual(bigs.map((e) => e.requestId))
    expect(refusals(broker)).toBe(refusedBefore)
    expect(metrics).toMatchObject({ tooLarge: bigs.length, heldBack: bigs.length })
    expect(lines.filter((l) => l.msg === TOO_LARGE_LINE)).toHaveLength(bigs.length)
  }, 30_000)

  it('when thousands of events are held back and a backlog follows them within the last read, then the backlog drains at the full rate (every pass of the tick), not one page a tick', async () => {
    const db = outboxDriver()
    const outbox = new CassandraEventOutbox(db.client, 'ks')
    const broker = new FakeBroker()
    broker.maxMessageBytes = 500
    const bigs = Array.from({ length: 5050 }, () => entry(600))
    db.add(...bigs)
    const { relay, metrics } = relayOver(outbox, broker, 4000)
    for (let tick = 0; tick < 10 && metrics.heldBack < bigs.length; tick++) await relay.publishPending()

    const backlog = Array.from({ length: 250 }, () => entry(100))
    db.add(...backlog)

    expect(await relay.publishPending()).toBe(250)
    expect(db.listed()).toEqual(bigs.map((e) => e.requestId))
  }, 30_000)

  it('when a held-back event whose wait is over is listed past the page, then it is not forgotten: it is reported once however many passes', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.maxMessageBytes = 5000
    const [x, y, z] = [entry(8000), entry(8000), entry(8000)]
    const [a, b] = [entry(100), entry(100)]
    const { relay, lines } = relayOver(outbox, broker, 4000)
    const t0 = Date.now()
    outbox.add(z)
    await relay.publishPending(2)
    vi.setSystemTime(t0 + TOO_LARGE_BACKOFF.firstMs / 2)
    outbox.add(x, y)
    await relay.publishPending(2)
    expect(lines.filter((l) => l.msg === TOO_LARGE_LINE).map((l) => l.requestId)).toEqual([z.requestId, x.requestId, y.requestId])

    // Z's wait is over, X's and Y's are not, and they leave the listing (published elsewhere); A and B are listed before Z.
    vi.setSystemTime(t0 + TOO_LARGE_BACKOFF.firstMs)
    await outbox.markPublished(x.requestId)
    await outbox.markPublished(y.requestId)
    outbox.addFirst(a, b)
    expect(await relay.publishPending(2)).toBe(2)

    // A and B on the first pass, Z (past that page) on the next pass of the same tick.
    expect(outbox.reads.slice(-2)).toEqual([[a.requestId, b.requestId], [z.requestId]])
    expect(lines.filter((l) => l.msg === TOO_LARGE_LINE && l.requestId === z.requestId)).toHaveLength(1)
    expect(outbox.attemptsOf(z.requestId)).toBe(2)
  })

  it("when Kafka refuses a send as too large, of one event or of several, then the producer is kept: each send is one partition's batch, of which the broker appended nothing", async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.maxMessageBytes = 5000
    const bigs = [entry(8000), entry(8000), entry(8000)]
    outbox.add(...bigs)
    const { relay } = relayOver(outbox, broker, 100_000)

    // One send of the three, refused, split; then each alone, refused: the same producer throughout.
    await relay.publishPending()
    expect(broker.sends.map((s) => s.messages)).toEqual([3, 2, 1, 1, 1])
    expect(broker.disconnects).toBe(0)
    expect(broker.connects).toBe(1)
  })

  it('when events are held back together, then their waits are spread: they come back over several passes, not all at once', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.maxMessageBytes = 5000
    const bigs = Array.from({ length: 4 }, () => entry(8000))
    outbox.add(...bigs)
    const spread = [0, 0.3, 0.6, 0.9]
    let draw = 0
    const { relay } = relayOver(outbox, broker, 4000, () => spread[draw++ % spread.length] as number)
    const t0 = Date.now()
    await relay.publishPending()
    expect(refusals(broker)).toBe(4)

    // Each wait is the first wait shortened by up to TOO_LARGE_BACKOFF.jitter of it.
    const shortest = TOO_LARGE_BACKOFF.firstMs * (1 - TOO_LARGE_BACKOFF.jitter)
    vi.setSystemTime(t0 + shortest - 1)
    await relay.publishPending()
    expect(refusals(broker)).toBe(4)
    const triedBy = (ms: number) => {
      vi.setSystemTime(t0 + ms)
      return relay.publishPending().then(() => refusals(broker) - 4)
    }
    expect(await triedBy(TOO_LARGE_BACKOFF.firstMs * (1 - 0.9 * TOO_LARGE_BACKOFF.jitter))).toBe(1)
    expect(await triedBy(TOO_LARGE_BACKOFF.firstMs * (1 - 0.6 * TOO_LARGE_BACKOFF.jitter))).toBe(2)
    expect(await triedBy(TOO_LARGE_BACKOFF.firstMs * (1 - 0.3 * TOO_LARGE_BACKOFF.jitter))).toBe(3)
    expect(await triedBy(TOO_LARGE_BACKOFF.firstMs)).toBe(4)
  })

  it('when many held-back events are ready at once, then a pass sends only a few of them again, the ones ready longest, and the ordinary events go first; the others follow in later passes', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.maxMessageBytes = 5000
    const bigs = Array.from({ length: 10 }, () => entry(8000))
    outbox.add(...bigs)
    const { relay, lines, metrics } = relayOver(outbox, broker, 4000)
    await relay.publishPending()
    expect(refusals(broker)).toBe(10)

    vi.setSystemTime(Date.now() + TOO_LARGE_BACKOFF.firstMs)
    const small = [entry(100), entry(100)]
    outbox.add(...small)
    expect(await relay.publishPending()).toBe(2)
    expect(refusals(broker)).toBe(10 + HELD_BACK_RETRIES_PER_PASS)
    expect(outbox.reads.at(-1)).toEqual([...bigs.slice(0, HELD_BACK_RETRIES_PER_PASS), ...small].map((e) => e.requestId))

    await relay.publishPending()
    expect(refusals(broker)).toBe(10 + 2 * HELD_BACK_RETRIES_PER_PASS)
    expect(outbox.reads.at(-1)).toEqual(bigs.slice(HELD_BACK_RETRIES_PER_PASS, 2 * HELD_BACK_RETRIES_PER_PASS).map((e) => e.requestId))
    await relay.publishPending()
    expect(refusals(broker)).toBe(20)
    // None is tried twice before each is tried once, nor reported again, nor forgotten.
    await relay.publishPending()
    expect(refusals(broker)).toBe(20)
    expect(lines.filter((l) => l.msg === TOO_LARGE_LINE)).toHaveLength(10)
    expect(metrics).toMatchObject({ tooLarge: 10, heldBack: 10 })
    expect(broker.disconnects).toBe(0)
  })
})

describe('KafkaRelay: a partition whose sends fail', () => {
  onAFakeDate()

  /** `count` events on a topic of `partitions` partitions, the first event's partition failing: its events and the others'. */
  function withOnePartitionFailing(broker: FakeBroker, partitions: number, count: number) {
    broker.partitionCount = partitions
    const entries = Array.from({ length: count }, () => entry(200))
    const failing = broker.partitionOf((entries[0] as OutboxEntry).userId)
    broker.failing.add(failing)
    const stuck = entries.filter((e) => broker.partitionOf(e.userId) === failing)
    const healthy = entries.filter((e) => !stuck.includes(e))
    expect(stuck.length).toBeGreaterThan(0)
    expect(healthy.length).toBeGreaterThan(0)
    return { entries, failing, stuck, healthy }
  }

  const ids = (entries: readonly OutboxEntry[]) => entries.map((e) => e.requestId)
  const sorted = (values: readonly string[]) => [...values].sort()

  it('when one partition takes nothing for ten minutes, then the events of the others are published and recorded once each, and only its events wait, their attempts counted', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    const { entries, stuck, healthy } = withOnePartitionFailing(broker, 3, 12)
    outbox.add(...entries)
    const { relay, recorded, lines, metrics } = relayOver(outbox, broker, 100_000)

    for (let minute = 0; minute < 10; minute++) {
      await relay.publishPending()
      vi.setSystemTime(Date.now() + 60_000)
    }

    // Before, the page went in one send across partitions, which kafkajs rejected whole: none was
    // recorded, and the healthy partitions' events reached the topic again at every try.
    expect(sorted(midsOn(broker))).toEqual(sorted(healthy.map((e) => e.mid)))
    expect(sorted(recorded)).toEqual(sorted(ids(healthy)))
    expect(sorted(outbox.listed())).toEqual(sorted(ids(stuck)))
    // Tried again once its wait (at most 30 s) was over: once a minute.
    expect(stuck.map((e) => outbox.attemptsOf(e.requestId))).toEqual(stuck.map(() => 10))
    for (const send of broker.sends) expect(send.partitions).toHaveLength(1)
    expect(sorted([...new Set(lines.filter((l) => l.msg === 'event not published yet').map((l) => String(l.requestId)))])).toEqual(sorted(ids(stuck)))
    expect(metrics.failures.kafka).toBe(10 * stuck.length)
  })

  it('when one failing partition has more events waiting than the relay remembers (maxWaitingEvents), then the listing is never read past more than that, the relay backs off as a whole, and once the partition takes events again every event is published', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    const { entries, stuck } = withOnePartitionFailing(broker, 2, 600)
    const maxWaitingEvents = 50
    expect(stuck.length).toBeGreaterThan(maxWaitingEvents)
    outbox.add(...entries)
    const { relay, recorded, lines } = relayOver(outbox, broker, 100_000, () => 0, { maxWaitingEvents })
    const skipped: number[] = []
    const pending = outbox.pending.bind(outbox)
    outbox.pending = (limit, skip) => {
      skipped.push(skip?.size ?? 0)
      return pending(limit, skip)
    }

    for (let tick = 0; tick < 60; tick++) {
      await relay.publishPending()
      vi.setSystemTime(Date.now() + 2_000)
    }
    expect(Math.max(...skipped)).toBeLessThanOrEqual(maxWaitingEvents)
    expect(lines.filter((l) => String(l.msg).startsWith('more events wait for failing partitions than the relay remembers'))).toHaveLength(1)
    // Waiting as a whole, longer while it lasts: a tick (2 s) after a pass that met the cap again reads nothing.
    vi.setSystemTime(Date.now() + 60_000)
    await relay.publishPending()
    const readsWhileFull = outbox.reads.length
    vi.setSystemTime(Date.now() + 2_000)
    await relay.publishPending()
    expect(outbox.reads.length).toBe(readsWhileFull)

    broker.failing.clear()
    for (let tick = 0; tick < 60 && outbox.listed().length > 0; tick++) {
      vi.setSystemTime(Date.now() + 30_000)
      await relay.publishPending()
    }
    expect(sorted(recorded)).toEqual(sorted(ids(entries)))
  })

  it("when one failing partition has more events waiting than the relay remembers, then the other partitions' events listed anywhere behind them are still published while it keeps failing: each pass reads on from where the last stopped", async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    const { entries, stuck, healthy } = withOnePartitionFailing(broker, 2, 400)
    const maxWaitingEvents = 20
    expect(stuck.length).toBeGreaterThan(maxWaitingEvents + 100)
    outbox.add(...entries)
    const { relay, recorded } = relayOver(outbox, broker, 100_000, () => 0, { maxWaitingEvents })

    // The partition never takes an event; each tick comes once the relay's wait (at most 30 s) is over.
    for (let tick = 0; tick < 60 && recorded.length < healthy.length; tick++) {
      await relay.publishPending(20)
      vi.setSystemTime(Date.now() + 31_000)
    }

    // Before, every pass read the listing from its start: once its first page held only the failing
    // partition's events the relay does not remember, no event behind them was reached again.
    expect(sorted(recorded)).toEqual(sorted(ids(healthy)))
    expect(sorted(outbox.listed())).toEqual(sorted(ids(stuck)))
    expect(midsOn(broker).filter((mid) => stuck.some((e) => e.mid === mid))).toEqual([])
  })

  it("when more partitions fail than a pass tries and the relay ticks no faster than their waits, then the other partitions' events listed after the first page are still published: a page cut short with only partitions that failed before left is passed", async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.partitionCount = 6
    const entries = Array.from({ length: 120 }, () => entry(200))
    for (const e of entries) if (broker.failing.size <= MAX_PARTITION_FAILURES_PER_PASS) broker.failing.add(broker.partitionOf(e.userId))
    const healthy = entries.filter((e) => !broker.failing.has(broker.partitionOf(e.userId)))
    outbox.add(...entries)
    const { relay, recorded } = relayOver(outbox, broker, 100_000)

    // Each tick comes once every failing partition's wait (at most 30 s) is over: all are tried again, two fail, the pass stops.
    for (let tick = 0; tick < 60 && recorded.length < healthy.length; tick++) {
      await relay.publishPending(20)
      vi.setSystemTime(Date.now() + 31_000)
    }

    // Before, such a pass kept its place: every tick read the first page again, and nothing listed after it was reached.
    expect(sorted(recorded)).toEqual(sorted(ids(healthy)))
    expect(outbox.listed()).toHaveLength(entries.length - healthy.length)
  })

  it('when a page of the listing holds only entries that cannot be sent (listed before their entry landed), then the events listed after them are published within the same tick', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    for (let n = 0; n < 5; n++) outbox.listWithoutEntry(`without-entry-${n}`)
    const entries = Array.from({ length: 12 }, () => entry(200))
    outbox.add(...entries)
    const { relay, recorded } = relayOver(outbox, broker, 100_000)

    // Before, a pass whose page of 5 gave no entry ended the tick, and the next read the same page.
    expect(await relay.publishPending(5)).toBe(entries.length)
    expect(sorted(recorded)).toEqual(sorted(ids(entries)))
    expect(outbox.listed().filter((id) => id.startsWith('without-entry-'))).toHaveLength(5)
  })

  it("when a partition's send failed, then its events are passed by until its wait is over while the other partitions' new events go at once; then they are sent again, in listing order, and published once it takes them", async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    const { entries, failing, stuck } = withOnePartitionFailing(broker, 3, 9)
    outbox.add(...entries)
    const { relay, recorded } = relayOver(outbox, broker, 100_000)
    await relay.publishPending()
    const triesOfFailing = () => broker.sends.filter((s) => s.partitions.includes(failing)).length
    expect(triesOfFailing()).toBe(1)

    // Within its wait: not read, not sent; the others' new events are published at the next tick.
    const later = Array.from({ length: 6 }, () => entry(200))
    const laterHealthy = later.filter((e) => broker.partitionOf(e.userId) !== failing)
    outbox.add(...later)
    vi.setSystemTime(Date.now() + BACKOFF.firstMs - 1)
    expect(await relay.publishPending()).toBe(laterHealthy.length)
    expect(outbox.reads.at(-1)).not.toContain(stuck[0]?.requestId)
    expect(triesOfFailing()).toBe(1)

    // Its wait over: sent again (and failing again, its wait doubled).
    vi.setSystemTime(Date.now() + 1)
    await relay.publishPending()
    expect(triesOfFailing()).toBe(2)
    vi.setSystemTime(Date.now() + BACKOFF.firstMs)
    await relay.publishPending()
    expect(triesOfFailing()).toBe(2)

    broker.failing.clear()
    vi.setSystemTime(Date.now() + BACKOFF.firstMs)
    await relay.publishPending()
    expect(outbox.listed()).toEqual([])
    const onFailing = [...entries, ...later].filter((e) => broker.partitionOf(e.userId) === failing)
    expect(broker.topic.filter((m) => m.partition === failing).map((m) => (JSON.parse(m.value) as { mid: string }).mid)).toEqual(onFailing.map((e) => e.mid))
    expect(sorted(recorded)).toEqual(sorted(ids([...entries, ...later])))
  })

  it("when the topic's partition count changes while a key's event waits for its failing partition, then the pass that sees the change sends nothing and reads the listing again, so the key's later event does not overtake it: both go, in order, to the key's partition under the new count", async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.partitionCount = 3
    // A key the new count (6) places on another partition than the old one's (3), which fails.
    const key = Array.from({ length: 50 }, (_, n) => `user-k-${n}`).find((k) => broker.partitionOf(k, 6) !== broker.partitionOf(k, 3)) as string
    const failing = broker.partitionOf(key, 3)
    broker.failing.add(failing)
    const onHealthy = () => {
      for (;;) {
        const other = entry(200)
        if (broker.partitionOf(other.userId) !== failing) return other
      }
    }
    const older = { ...entry(200), userId: key }
    const newer = { ...entry(200), userId: key }
    const { relay } = relayOver(outbox, broker, 100_000, () => 0, { topicRecheckMs: 0 })
    // What the relay did, in order: each page it read (request ids) and each send (mids).
    const timeline: string[] = []
    const pending = outbox.pending.bind(outbox)
    outbox.pending = async (limit, skip) => {
      const page = await pending(limit, skip)
      timeline.push(`read ${page.entries.map((e) => e.requestId).join(' ')}`)
      return page
    }
    const producer = broker.producer.bind(broker)
    broker.producer = () => {
      const inner = producer()
      return {
        ...inner,
        send: (record: ProducerRecord) => {
          timeline.push(`send ${record.messages.map((m) => (JSON.parse(String(m.value)) as { mid: string }).mid).join(' ')}`)
          return inner.send(record)
        },
      }
    }

    // The older event fails on its partition and waits; another key's event goes meanwhile, on a connection over 3 partitions.
    outbox.add(older, onHealthy())
    expect(await relay.publishPending()).toBe(1)
    vi.setSystemTime(Date.now() + 10)
    outbox.add(onHealthy())
    expect(await relay.publishPending()).toBe(1)
    expect(outbox.listed()).toEqual([older.requestId])

    // Within the older event's wait: the topic now has 6 partitions, and the key's newer event is queued.
    broker.partitionCount = 6
    outbox.add(newer)
    vi.setSystemTime(Date.now() + 10)
    timeline.length = 0
    await relay.publishPending()
    const afterChange = [...timeline]
    vi.setSystemTime(Date.now() + BACKOFF.maxMs)
    await relay.publishPending()

    const ofKey = broker.topic.filter((m) => m.key === key)
    expect(ofKey.map((m) => (JSON.parse(m.value) as { mid: string }).mid)).toEqual([older.mid, newer.mid])
    expect(ofKey.map((m) => m.partition)).toEqual([broker.partitionOf(key), broker.partitionOf(key)])
    expect(outbox.listed()).toEqual([])
    // The pass that saw the change read the newer event alone (the older passed by) and sent nothing; the listing was read again at once.
    expect(afterChange).toEqual([`read ${newer.requestId}`, `read ${older.requestId} ${newer.requestId}`, `send ${older.mid} ${newer.mid}`])
  })

  it("when the topic's partition count changes while a key's event waits for its failing partition and the relay's read stands past it, then the key's later event listed past that place does not overtake it: the listing is read again from its start", async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.partitionCount = 3
    // A key the new count (6) places on another partition than the old one's (3), which fails.
    const key = Array.from({ length: 50 }, (_, n) => `user-k-${n}`).find((k) => broker.partitionOf(k, 6) !== broker.partitionOf(k, 3)) as string
    const failing = broker.partitionOf(key, 3)
    broker.failing.add(failing)
    const onHealthy = () => {
      for (;;) {
        const other = entry(200)
        if (broker.partitionOf(other.userId, 3) !== failing && broker.partitionOf(other.userId, 6) !== failing) return other
      }
    }
    const older = { ...entry(200), userId: key }
    const newer = { ...entry(200), userId: key }
    const { relay } = relayOver(outbox, broker, 100_000, () => 0, { topicRecheckMs: 0 })

    // A tick of ten pages of 2: the older event fails and waits, and the read stops within the listing, past it.
    const others = Array.from({ length: 25 }, onHealthy)
    outbox.add(older, ...others)
    expect(await relay.publishPending(2)).toBe(19)
    // Within its wait: the topic now has 6 partitions, and the key's newer event is listed past where the read stands.
    broker.partitionCount = 6
    outbox.add(newer)
    vi.setSystemTime(Date.now() + 10)
    await relay.publishPending(2)

    // Before, the pass after the change read on from where the read stood: the newer event went first, the older when the read came round.
    const ofKey = broker.topic.filter((m) => m.key === key)
    expect(ofKey.map((m) => (JSON.parse(m.value) as { mid: string }).mid)).toEqual([older.mid, newer.mid])
    expect(ofKey.map((m) => m.partition)).toEqual([broker.partitionOf(key), broker.partitionOf(key)])
    expect(outbox.listed()).toEqual([])
  })

  it("when the topic's partitions were read as more than the producer's metadata holds yet (partitions being added), then every event still reaches the topic: none is taken for sent while kafkajs dropped it", async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.partitionCount = 5
    broker.producerPartitionCount = 3
    const entries = Array.from({ length: 40 }, () => entry(200))
    outbox.add(...entries)
    const { relay } = relayOver(outbox, broker, 100_000)

    expect(await relay.publishPending()).toBe(40)

    expect(broker.topic.map((m) => m.key).sort()).toEqual(entries.map((e) => e.userId).sort())
  })

  it('when the process is stopping during a pass, then no further partition is sent and no further pass starts; what was sent is recorded', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.partitionCount = 3
    const entries = Array.from({ length: 30 }, () => entry(200))
    outbox.add(...entries)
    const { relay, recorded } = relayOver(outbox, broker, 100_000)
    const stopping = new AbortController()
    const producer = broker.producer.bind(broker)
    broker.producer = () => {
      const inner = producer()
      return {
        ...inner,
        send: async (record: ProducerRecord) => {
          stopping.abort()
          return inner.send(record)
        },
      }
    }

    await relay.publishPending(10, stopping.signal)

    // One page read, one send: no further partition, and no further pass (whose read alone would show).
    expect(outbox.reads).toHaveLength(1)
    expect(broker.sends).toHaveLength(1)
    expect(recorded.length).toBeGreaterThan(0)
    expect(recorded.length).toBe(broker.topic.length)
    expect(outbox.listed()).toHaveLength(30 - recorded.length)
  })

  it("when events go to a topic of several partitions, then each send holds one partition's events, each where kafkajs's producer puts its key, and the topic's partitions are asked once per connect", async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.partitionCount = 5
    const entries = Array.from({ length: 40 }, () => entry(200))
    outbox.add(...entries)
    const { relay } = relayOver(outbox, broker, 100_000)

    expect(await relay.publishPending()).toBe(40)

    expect(broker.sends.length).toBeGreaterThan(1)
    for (const send of broker.sends) expect(send.partitions).toHaveLength(1)
    for (const m of broker.topic) expect(m.partition).toBe(broker.partitionOf(m.key))
    expect(broker.metadataReads).toBe(broker.connects)
  })

  it('when several partitions fail, then a pass gives up after MAX_PARTITION_FAILURES_PER_PASS failed sends, and the healthy partition is published by the next tick', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.partitionCount = 4
    const entries = Array.from({ length: 40 }, () => entry(200))
    outbox.add(...entries)
    const healthyPartition = broker.partitionOf((entries[0] as OutboxEntry).userId)
    for (let p = 0; p < 4; p++) if (p !== healthyPartition) broker.failing.add(p)
    const healthy = entries.filter((e) => broker.partitionOf(e.userId) === healthyPartition)
    const { relay, recorded } = relayOver(outbox, broker, 100_000)
    const failedSends = () => broker.sends.filter((s) => s.failed).length

    await relay.publishPending()
    expect(failedSends()).toBeLessThanOrEqual(MAX_PARTITION_FAILURES_PER_PASS)
    await relay.publishPending()

    expect(sorted(recorded)).toEqual(sorted(ids(healthy)))
    expect(failedSends()).toBe(3)
  })

  it('when Kafka cannot be reached after a partition failed (the producer started afresh), then the rest of the page waits, counted, and the relay backs off as a whole', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    const { entries, failing } = withOnePartitionFailing(broker, 3, 12)
    outbox.add(...entries)
    const { relay } = relayOver(outbox, broker, 100_000)
    // The broker goes away with the failing partition's send: the reconnect that follows fails.
    const producer = broker.producer.bind(broker)
    broker.producer = () => {
      const inner = producer()
      return {
        ...inner,
        send: async (record: ProducerRecord) => {
          if (broker.partitionOf(String((record.messages[0] as Message).key)) === failing) broker.down = true
          return inner.send(record)
        },
      }
    }

    await relay.publishPending()
    const sendsBefore = broker.sends.length
    expect(entries.filter((e) => outbox.attemptsOf(e.requestId) === 1).length).toBe(outbox.listed().length)

    // No read, no connect, no send until the wait is over.
    broker.down = false
    const reads = outbox.reads.length
    await relay.publishPending()
    expect(outbox.reads.length).toBe(reads)
    vi.setSystemTime(Date.now() + BACKOFF.firstMs)
    await relay.publishPending()
    expect(broker.sends.length).toBeGreaterThan(sendsBefore)
  })
})

describe("KafkaRelay: the topic's durability, judged at each connect", () => {
  const LOSES = 'event topic can lose an event Kafka acknowledged'
  const STOPS = 'event topic refuses events while any one of its brokers is down'
  const LOCAL = 'event topic has a single replica on a single broker: fine for a local setup, not for production'
  const NOT_CHECKED = "event topic's replication not checked: could not read it"
  const topicLines = (lines: Record<string, unknown>[]) => lines.filter((l) => [LOSES, STOPS, LOCAL, NOT_CHECKED].includes(String(l.msg)))
  const fieldsOf = (line: Record<string, unknown> | undefined) => {
    const { time, service, ...fields } = line ?? {}
    return fields
  }

  /** The relay over a broker whose topic has `replicationFactor` replicas, asked `settings` at connect; a few events to publish. */
  function relayOnTopic(replicationFactor: number, settings: () => Promise<{ minInsyncReplicas: number; brokers: number }>) {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.replicationFactor = replicationFactor
    broker.partitionCount = 3
    outbox.add(entry(200), entry(200), entry(200))
    let asked = 0
    const over = relayOver(outbox, broker, 100_000, () => 0, {
      topicSettings: () => {
        asked++
        return settings()
      },
    })
    return { ...over, outbox, broker, asked: () => asked }
  }

  it('when the topic has 3 replicas and min.insync.replicas 1 on 3 brokers, then one warn line per connect names the topic, the numbers and the fix, the gauge says at risk, and the events are published all the same', async () => {
    const { relay, lines, metrics, outbox, broker, asked } = relayOnTopic(3, async () => ({ minInsyncReplicas: 1, brokers: 3 }))

    expect(await relay.publishPending()).toBe(3)
    outbox.add(entry(200))
    expect(await relay.publishPending()).toBe(1)

    // One connect, one line.
    expect(broker.connects).toBe(1)
    expect(asked()).toBe(1)
    expect(topicLines(lines).map(fieldsOf)).toEqual([
      { level: 40, msg: LOSES, topic: TOPIC, replicationFactor: 3, minInsyncReplicas: 1, brokers: 3, why: 'one in-sync replica', fix: expect.stringContaining('min.insync.replicas=2') },
    ])
    expect(metrics.topicAtRisk).toBe(true)

    // A partition's failure starts the producer afresh: the next connect judges the topic again.
    broker.failing.add(broker.partitionOf('x'))
    outbox.add({ ...entry(200), userId: 'x' })
    await relay.publishPending()
    broker.failing.clear()
    vi.setSystemTime(Date.now() + BACKOFF.firstMs)
    expect(await relay.publishPending()).toBe(1)
    expect(broker.connects).toBe(2)
    expect(topicLines(lines).map((l) => l.msg)).toEqual([LOSES, LOSES])
  })

  it('when the topic has one replica on a cluster of 3 brokers, then it is said to lose events with its broker: raise its replication factor', async () => {
    const { relay, lines, metrics } = relayOnTopic(1, async () => ({ minInsyncReplicas: 2, brokers: 3 }))

    await relay.publishPending()

    expect(topicLines(lines).map(fieldsOf)).toEqual([
      { level: 40, msg: LOSES, topic: TOPIC, replicationFactor: 1, minInsyncReplicas: 2, brokers: 3, why: 'one replica', fix: expect.stringContaining('replication factor to 3') },
    ])
    expect(metrics.topicAtRisk).toBe(true)
  })

  it('when min.insync.replicas equals the replication factor, then the topic is said to refuse events while any one broker is down, with the value to set', async () => {
    const { relay, lines, metrics } = relayOnTopic(3, async () => ({ minInsyncReplicas: 3, brokers: 3 }))

    await relay.publishPending()

    expect(topicLines(lines).map(fieldsOf)).toEqual([
      { level: 40, msg: STOPS, topic: TOPIC, replicationFactor: 3, minInsyncReplicas: 3, brokers: 3, fix: expect.stringContaining('min.insync.replicas=2') },
    ])
    expect(metrics.topicAtRisk).toBe(true)
  })

  it('when the topic has 3 replicas and min.insync.replicas 2, then nothing is said and the gauge says not at risk', async () => {
    const { relay, lines, metrics } = relayOnTopic(3, async () => ({ minInsyncReplicas: 2, brokers: 3 }))

    expect(await relay.publishPending()).toBe(3)

    expect(topicLines(lines)).toEqual([])
    expect(lines.filter((l) => Number(l.level) >= 40)).toEqual([])
    expect(metrics.topicAtRisk).toBe(false)
  })

  it('when the topic has one replica on a single broker (the local setup), then only an info line says so, and the gauge says not at risk', async () => {
    const { relay, lines, metrics } = relayOnTopic(1, async () => ({ minInsyncReplicas: 1, brokers: 1 }))

    expect(await relay.publishPending()).toBe(3)

    expect(topicLines(lines).map(fieldsOf)).toEqual([{ level: 30, msg: LOCAL, topic: TOPIC, replicationFactor: 1, minInsyncReplicas: 1, brokers: 1 }])
    expect(lines.filter((l) => Number(l.level) >= 40)).toEqual([])
    expect(metrics.topicAtRisk).toBe(false)
  })

  it('when the settings cannot be read, then a warn line says so with the error message and no stack, the gauge is left as it was, and the events are published', async () => {
    const { relay, lines, metrics } = relayOnTopic(3, async () => {
      throw Object.assign(new Error('Not authorized to access topics: [Topic authorization failed]'), { name: 'KafkaJSProtocolError' })
    })

    expect(await relay.publishPending()).toBe(3)

    expect(topicLines(lines).map(fieldsOf)).toEqual([{ level: 40, msg: NOT_CHECKED, topic: TOPIC, err: 'Not authorized to access topics: [Topic authorization failed]' }])
    expect(JSON.stringify(lines)).not.toContain('stack')
    expect(metrics.topicAtRisk).toBeUndefined()
  })

  describe('while the relay has nothing to send', () => {
    onAFakeDate()

    it('when the topic is made safe, then at risk again, then the gauge follows it at the first idle pass a minute after the last check, each change said once, with no producer connected for it', async () => {
      let settings = { minInsyncReplicas: 1, brokers: 3 }
      const { relay, lines, metrics, broker, asked } = relayOnTopic(3, async () => settings)
      expect(await relay.publishPending()).toBe(3)
      expect(metrics.topicAtRisk).toBe(true)

      // min.insync.replicas raised to 2 while no deletion comes: a minute after the check, not before.
      settings = { minInsyncReplicas: 2, brokers: 3 }
      vi.setSystemTime(Date.now() + TOPIC_RECHECK_MS - 1)
      expect(await relay.publishPending()).toBe(0)
      expect([asked(), metrics.topicAtRisk]).toEqual([1, true])
      vi.setSystemTime(Date.now() + 1)
      expect(await relay.publishPending()).toBe(0)
      expect([asked(), metrics.topicAtRisk]).toEqual([2, false])

      // Set to 3 on 3 replicas: at risk again, and said.
      settings = { minInsyncReplicas: 3, brokers: 3 }
      vi.setSystemTime(Date.now() + TOPIC_RECHECK_MS)
      await relay.publishPending()
      expect(metrics.topicAtRisk).toBe(true)
      // The same reading a minute later: the gauge as it was, nothing said again.
      vi.setSystemTime(Date.now() + TOPIC_RECHECK_MS)
      await relay.publishPending()
      expect([asked(), metrics.topicAtRisk]).toEqual([4, true])
      expect(topicLines(lines).map((l) => l.msg)).toEqual([LOSES, STOPS])
      expect(broker.connects).toBe(1)
    })

    it('when the idle check cannot read the topic, then it is said once, the gauge keeps its reading, and the topic is not asked again before another minute', async () => {
      const { relay, lines, metrics, broker, asked } = relayOnTopic(3, async () => ({ minInsyncReplicas: 1, brokers: 3 }))
      let partitionReads = 0
      const readPartitions = broker.topicPartitions.bind(broker)
      broker.topicPartitions = () => {
        partitionReads++
        return readPartitions()
      }
      expect(await relay.publishPending()).toBe(3)
      expect(partitionReads).toBe(1)

      broker.down = true
      vi.setSystemTime(Date.now() + TOPIC_RECHECK_MS)
      await relay.publishPending()
      vi.setSystemTime(Date.now() + TOPIC_RECHECK_MS - 1)
      await relay.publishPending()

      expect(partitionReads).toBe(2)
      expect(asked()).toBe(1)
      expect(metrics.topicAtRisk).toBe(true)
      expect(topicLines(lines).map(fieldsOf)).toEqual([
        expect.objectContaining({ msg: LOSES }),
        { level: 40, msg: NOT_CHECKED, topic: TOPIC, err: 'Connection error: connect ECONNREFUSED 127.0.0.1:19092' },
      ])
    })

    it('when the last, empty pass of a backlog run over a minute long finds Kafka unreachable at its idle check, then nothing is reported refused: none is left', async () => {
      const { relay, broker } = relayOnTopic(3, async () => ({ minInsyncReplicas: 2, brokers: 3 }))
      expect(await relay.publishPending()).toBe(3)

      broker.down = true
      vi.setSystemTime(Date.now() + TOPIC_RECHECK_MS)

      expect(await relay.publishBacklog()).toEqual({ published: 0, remaining: 0, heldBack: 0 })
    })

    it('when the idle check finds Kafka unreachable, then the passes that follow wait as after a failed connect: an event appended meanwhile is not read before the wait is over, and the wait grows while Kafka stays down', async () => {
      const { relay, outbox, broker, metrics } = relayOnTopic(3, async () => ({ minInsyncReplicas: 2, brokers: 3 }))
      expect(await relay.publishPending()).toBe(3)

      broker.down = true
      vi.setSystemTime(Date.now() + TOPIC_RECHECK_MS)
      expect(await relay.publishPending()).toBe(0)
      const waitFrom = Date.now()
      const reads = outbox.reads.length
      const late = entry(200)
      outbox.add(late)

      // Within the first wait: the outbox is not read, Kafka not asked.
      vi.setSystemTime(waitFrom + BACKOFF.firstMs - 1)
      expect(await relay.publishPending()).toBe(0)
      expect(outbox.reads.length).toBe(reads)
      // Then it is read and tried: Kafka still down, the second failure in a row waits twice as long.
      vi.setSystemTime(waitFrom + BACKOFF.firstMs)
      expect(await relay.publishPending()).toBe(0)
      expect([outbox.reads.length, metrics.failures.kafka, outbox.attemptsOf(late.requestId)]).toEqual([reads + 1, 1, 1])
      broker.down = false
      vi.setSystemTime(waitFrom + BACKOFF.firstMs + 2 * BACKOFF.firstMs - 1)
      expect(await relay.publishPending()).toBe(0)
      vi.setSystemTime(waitFrom + BACKOFF.firstMs + 2 * BACKOFF.firstMs)
      expect(await relay.publishPending()).toBe(1)
      expect(outbox.listed()).toEqual([])
    })

    describe('on fake timers too', () => {
      beforeEach(() => {
        vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] })
        vi.setSystemTime(new Date('2026-12-01T10:00:00Z'))
      })

      /**
       * The relay after its first send, its idle check due, and Kafka now answering the topic's metadata
       * only after `answerMs` (kafkajs's retries against brokers that do not answer) until `answersAgain`.
       */
      async function idleCheckAnsweredAfter(answerMs: number) {
        const over = relayOnTopic(3, async () => ({ minInsyncReplicas: 1, brokers: 3 }))
        expect(await over.relay.publishPending()).toBe(3)
        const answering = over.broker.topicPartitions.bind(over.broker)
        over.broker.topicPartitions = () => new Promise((resolve) => setTimeout(() => resolve(over.broker.metadata()), answerMs))
        vi.setSystemTime(Date.now() + TOPIC_RECHECK_MS)
        const answersAgain = () => {
          over.broker.topicPartitions = answering
        }
        return { ...over, answersAgain }
      }
      const settledFlag = (work: Promise<unknown>) => {
        const flag = { settled: false }
        void work.finally(() => {
          flag.settled = true
        })
        return flag
      }

      it("when Kafka does not answer the idle check, then the pass ends after timeoutMs, not after the client's retries, said once, counted on the backoff, and the late answer is not used", async () => {
        const { relay, outbox, lines, metrics, asked, answersAgain } = await idleCheckAnsweredAfter(10_000)

        const pass = settledFlag(relay.publishPending())
        await vi.advanceTimersByTimeAsync(KAFKA_TIMEOUT_MS - 1)
        expect(pass.settled).toBe(false)
        await vi.advanceTimersByTimeAsync(1)
        expect(pass.settled).toBe(true)
        expect(topicLines(lines).map(fieldsOf).at(-1)).toEqual({ level: 40, msg: NOT_CHECKED, topic: TOPIC, err: `topic not read within ${KAFKA_TIMEOUT_MS} ms` })

        // The late answer: its settings are not asked, the gauge is not moved, nothing more is said.
        outbox.add(entry(200))
        const reads = outbox.reads.length
        await vi.advanceTimersByTimeAsync(BACKOFF.firstMs - 1)
        expect(await relay.publishPending()).toBe(0)
        expect(outbox.reads.length).toBe(reads)
        await vi.advanceTimersByTimeAsync(10_000)
        expect({ asked: asked(), atRisk: metrics.topicAtRisk, lines: topicLines(lines).length }).toEqual({ asked: 1, atRisk: true, lines: 2 })
        answersAgain()
        expect(await relay.publishPending()).toBe(1)
      })

      it('when the relay is stopped during an idle check, then the pass and close() end at once, with nothing said and no wait counted', async () => {
        const { relay, outbox, lines, answersAgain } = await idleCheckAnsweredAfter(10_000)
        const stopping = new AbortController()

        const pass = settledFlag(relay.publishPending(100, stopping.signal))
        await vi.advanceTimersByTimeAsync(10)
        stopping.abort()
        const closed = settledFlag(relay.close())
        await vi.advanceTimersByTimeAsync(0)

        expect([pass.settled, closed.settled]).toEqual([true, true])
        expect(topicLines(lines).length).toBe(1)
        // No wait counted: the next pass sends at once.
        answersAgain()
        outbox.add(entry(200))
        expect(await relay.publishPending()).toBe(1)
      })
    })

    it('when the relay has never had an event to send, then its idle passes ask Kafka nothing and the gauge stays unset', async () => {
      const broker = new FakeBroker()
      let asked = 0
      const topicSettings = async () => {
        asked++
        return { minInsyncReplicas: 1, brokers: 3 }
      }
      const { relay, metrics } = relayOver(new InMemoryRelayOutbox(), broker, 100_000, () => 0, { topicSettings })

      for (let minute = 0; minute < 3; minute++) {
        expect(await relay.publishPending()).toBe(0)
        vi.setSystemTime(Date.now() + TOPIC_RECHECK_MS)
      }

      expect({ asked, metadataReads: broker.metadataReads, connects: broker.connects, atRisk: metrics.topicAtRisk }).toEqual({ asked: 0, metadataReads: 0, connects: 0, atRisk: undefined })
    })
  })
})

describe('KafkaRelay: Cassandra not recording what Kafka acknowledged', () => {
  onAFakeDate()

  it('when the record of the publications keeps failing, then the events are not sent again: the relay waits, longer each time, and tries only their record, before anything new is sent', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    const entries = Array.from({ length: 50 }, () => entry(200))
    outbox.add(...entries)
    const { relay, recorded, metrics, cassandra, lines } = relayOver(outbox, broker, 524_288)
    cassandra.down = true

    // A minute of 2 s ticks (a pass that fails as a whole is a failed background pass: the next tick goes on).
    for (let tick = 0; tick < 30; tick++) {
      await relay.publishPending().catch(() => undefined)
      vi.setSystemTime(Date.now() + 2000)
    }

    // Before, every tick sent the same 50 again: 1,500 messages.
    expect(broker.topic).toHaveLength(50)
    expect(recorded).toEqual([])
    // Tried at 0, 2, 4, 8, 16 and 32 s (waits of 1, 2, 4, 8, 16 and 30 s): all 50 counted at each.
    expect(metrics.failures).toEqual({ kafka: 0, record: 6 * 50 })
    const warned = lines.filter((l) => l.msg === 'event on the topic; its publication not recorded yet')
    expect(warned[0]).toMatchObject({ requestId: entries[0]?.requestId, mid: entries[0]?.mid, err: 'DependencyUnavailableError' })

    // Cassandra back, and a new event waiting: the 50 are recorded first, without a send, then the new one goes.
    cassandra.down = false
    const later = entry(200)
    outbox.add(later)
    vi.setSystemTime(Date.now() + BACKOFF.maxMs)
    expect(await relay.publishPending()).toBe(51)
    expect(midsOn(broker)).toEqual([...entries, later].map((e) => e.mid))
    expect(recorded).toEqual([...entries, later].map((e) => e.requestId))
    expect(outbox.listed()).toEqual([])
  })
})

describe('KafkaRelay: what is waiting, for the metrics', () => {
  onAFakeDate()

  it('when events wait in the outbox, then how many and since when the oldest are reported from the listing, and each event Kafka did not take is counted; once published, none', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    const first = entry(200)
    const appendedAt = new Date()
    outbox.add(first)
    vi.setSystemTime(Date.now() + 5000)
    outbox.add(entry(200))
    broker.down = true
    const { relay, metrics } = relayOver(outbox, broker, 100_000)

    await relay.publishPending()
    expect(metrics.waiting).toEqual({ count: 2, oldest: appendedAt })
    expect(metrics.failures).toEqual({ kafka: 2, record: 0 })

    broker.down = false
    vi.setSystemTime(Date.now() + BACKOFF.firstMs)
    expect(await relay.publishPending()).toBe(2)
    expect(metrics.waiting).toEqual({ count: 0, oldest: undefined })
  })
})

describe('KafkaRelay.publishBacklog (npm run deletion:resume)', () => {
  it('when the outbox holds more than a tick publishes (ten pages), then every event is published and none is left', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    outbox.add(...Array.from({ length: 1250 }, () => entry(100)))
    const { relay } = relayOver(outbox, broker, 524_288)

    expect(await relay.publishBacklog()).toEqual({ published: 1250, remaining: 0, heldBack: 0 })
    expect(broker.topic).toHaveLength(1250)
  })

  it('when Kafka cannot be reached, then it stops after one try: nothing published, every event left, stopped by Kafka', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.down = true
    outbox.add(...Array.from({ length: 150 }, () => entry(100)))
    const { relay } = relayOver(outbox, broker, 524_288)

    expect(await relay.publishBacklog()).toEqual({ published: 0, remaining: 150, heldBack: 0, stoppedBy: 'kafka' })
  })

  it("when a partition takes nothing, then the others' events are published and its events are left, stopped by Kafka", async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.partitionCount = 3
    const entries = Array.from({ length: 30 }, () => entry(100))
    const failing = broker.partitionOf((entries[0] as OutboxEntry).userId)
    broker.failing.add(failing)
    outbox.add(...entries)
    const stuck = entries.filter((e) => broker.partitionOf(e.userId) === failing)
    const { relay } = relayOver(outbox, broker, 524_288)

    expect(await relay.publishBacklog()).toEqual({ published: entries.length - stuck.length, remaining: stuck.length, heldBack: 0, stoppedBy: 'kafka' })
  })

  it('when an event is larger than the topic takes, then the others are published and it is left, held back', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.maxMessageBytes = 5000
    outbox.add(entry(100), entry(8000), entry(100))
    const { relay } = relayOver(outbox, broker, 4000)

    expect(await relay.publishBacklog()).toEqual({ published: 2, remaining: 1, heldBack: 1 })
  })

  it('when Cassandra does not record the publications, then it stops: the events are left, stopped by Cassandra', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    outbox.add(entry(100), entry(100))
    const { relay, cassandra } = relayOver(outbox, broker, 524_288)
    cassandra.down = true

    expect(await relay.publishBacklog()).toEqual({ published: 0, remaining: 2, heldBack: 0, stoppedBy: 'cassandra' })
    expect(broker.topic).toHaveLength(2)
  })
})
