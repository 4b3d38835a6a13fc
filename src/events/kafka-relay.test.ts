import { createRequire } from 'node:module'
import { KafkaJSConnectionError, KafkaJSNonRetriableError, type Message, type ProducerRecord } from 'kafkajs'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createLogger } from '../logging/logger.js'
import type { OutboxEntry } from '../store/cassandra-event-outbox.js'
import { InMemoryRelayOutbox } from '../../test/support/fakes/in-memory-relay-outbox.js'
import { outboxDriver } from '../../test/support/fakes/outbox-driver.js'
import { CassandraEventOutbox } from '../store/cassandra-event-outbox.js'
import { HELD_BACK_RETRIES_PER_PASS, isTooLarge, KafkaRelay, type RelayDeps, type RelayProducer, recordBatchBytes, sendsOf, TOO_LARGE_BACKOFF } from './kafka-relay.js'

// The error kafkajs builds from a produce response's error code: what producer.send rejects with.
const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error') as { createErrorFromCode(code: number): Error & { type: string; code: number } }
const MESSAGE_TOO_LARGE = 10
const RECORD_LIST_TOO_LARGE = 18

let serial = 0
function entry(payloadBytes: number): OutboxEntry {
  const n = ++serial
  const requestId = `req-${n}`
  const head = JSON.stringify({ mid: `LP.1.${n}`, pad: '' })
  return { requestId, mid: `LP.1.${n}`, userId: `user-${n}`, payload: head.replace('""', `"${'x'.repeat(Math.max(0, payloadBytes - head.length))}"`), attempts: 0 }
}

/**
 * A broker in memory: refuses a send whose record batch is over `maxMessageBytes` as Kafka does
 * (MESSAGE_TOO_LARGE), or every send while `down`.
 */
class FakeBroker {
  maxMessageBytes = Number.POSITIVE_INFINITY
  down = false
  readonly topic: { key: string; value: string }[] = []
  readonly sends: { messages: number; bytes: number; refused: boolean }[] = []
  connects = 0
  disconnects = 0

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
        const bytes = recordBatchBytes(messages.map((m) => ({ userId: m.key, payload: m.value })))
        const refused = bytes > this.maxMessageBytes
        this.sends.push({ messages: messages.length, bytes, refused })
        if (refused) throw createErrorFromCode(MESSAGE_TOO_LARGE)
        this.topic.push(...messages.map((m) => ({ key: m.key, value: m.value })))
        return []
      },
    }
  }
}

/** The relay over the outbox and broker; `random` spreads held-back waits (none by default: each wait is the whole of TOO_LARGE_BACKOFF's). */
function relayOver(outbox: RelayDeps['outbox'], broker: FakeBroker, maxSendBytes: number, random: () => number = () => 0) {
  const lines: Record<string, unknown>[] = []
  const log = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) })
  const metrics = {
    tooLarge: 0,
    heldBack: 0,
    countEventTooLarge() {
      metrics.tooLarge++
    },
    setEventsHeldBack(count: number) {
      metrics.heldBack = count
    },
  }
  const recorded: string[] = []
  const relay = new KafkaRelay(
    { brokers: ['unused:9092'], topic: 'local.delete.user', clientId: 'test', timeoutMs: 1000, maxSendBytes },
    { outbox, published: async (requestId) => void recorded.push(requestId), log, metrics, createProducer: () => broker.producer(), random },
  )
  return { relay, lines, metrics, recorded }
}

const midsOn = (broker: FakeBroker) => broker.topic.map((m) => (JSON.parse(m.value) as { mid: string }).mid)
const TOO_LARGE_LINE = 'event too large for the topic; held back in the outbox'
const refusals = (broker: FakeBroker) => broker.sends.filter((s) => s.refused).length

describe('sendsOf', () => {
  it('when entries exceed the cap together, then they are cut into sends in their order, each within the cap', () => {
    const entries = Array.from({ length: 10 }, () => entry(1000))
    const sends = sendsOf(entries, 3500)
    expect(sends.flat()).toEqual(entries)
    expect(sends.map((s) => s.length)).toEqual([3, 3, 3, 1])
    for (const send of sends) expect(recordBatchBytes(send)).toBeLessThanOrEqual(3500)
  })

  it('when one entry alone is over the cap, then it goes in a send of its own and none is empty', () => {
    const [a, big, b] = [entry(100), entry(10_000), entry(100)]
    expect(sendsOf([a, big, b], 2000)).toEqual([[a], [big], [b]])
    expect(sendsOf([], 2000)).toEqual([])
  })

  it('counts bytes, not characters', () => {
    const wide = { ...entry(10), payload: 'é'.repeat(600) }
    expect(recordBatchBytes([wide])).toBeGreaterThan(1200)
  })
})

describe('isTooLarge', () => {
  it("when kafkajs rejects a send with the broker's MESSAGE_TOO_LARGE or RECORD_LIST_TOO_LARGE, then it is too large; a connection error is not", () => {
    expect(isTooLarge(createErrorFromCode(MESSAGE_TOO_LARGE))).toBe(true)
    expect(isTooLarge(createErrorFromCode(RECORD_LIST_TOO_LARGE))).toBe(true)
    const tooLarge = createErrorFromCode(MESSAGE_TOO_LARGE)
    // kafkajs's retrier wraps what it gives up on so, the broker's error as its cause.
    expect(isTooLarge(Object.assign(new KafkaJSNonRetriableError(tooLarge), { cause: tooLarge }))).toBe(true)
    expect(isTooLarge(new KafkaJSConnectionError('Connection error'))).toBe(false)
    expect(isTooLarge(createErrorFromCode(7))).toBe(false)
    expect(isTooLarge(undefined)).toBe(false)
  })
})

describe('KafkaRelay', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2026-12-01T10:00:00Z'))
  })
  afterEach(() => {
    vi.useRealTimers()
  })

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

  it('when Kafka refuses a send of one event as too large, then the producer is kept; a refused send of several events starts it afresh', async () => {
    const outbox = new InMemoryRelayOutbox()
    const broker = new FakeBroker()
    broker.maxMessageBytes = 5000
    const bigs = [entry(8000), entry(8000), entry(8000)]
    outbox.add(...bigs)
    const { relay } = relayOver(outbox, broker, 100_000)

    // One send of the three, refused: a fresh producer; then each alone, refused: the same one.
    await relay.publishPending()
    expect(broker.sends.map((s) => s.messages)).toEqual([3, 2, 1, 1, 1])
    expect(broker.disconnects).toBe(2)
    expect(broker.connects).toBe(3)
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
