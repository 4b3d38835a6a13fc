import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { KafkaRelay } from '../../src/events/kafka-relay.js'
import { capturedLogger } from '../support/captured-logger.js'
import { relayOutboxWorld } from '../support/relay-outbox-world.js'
import { KAFKA_BROKERS, readTopic } from '../support/kafka.js'

// A topic and a keyspace of this file's own (relayOutboxWorld): the outbox listing must hold this
// test's entries only, in Cassandra's token order.
const world = relayOutboxWorld('fairness', 2)
const TOPIC = world.topic
const PAGE = 5

/** A delete-user event as the workflow appends it: its mid, and the user as `object.id` (the message key). */
const eventFor = (userId: string) => ({ mid: `LP.1.${randomUUID()}`, object: { id: userId, type: 'user' } })

/**
 * A relay of the shipped build (kafkajs's producer and admin) over the real outbox in Cassandra,
 * whose listing starts (in token order) with a page of entries it cannot send: listings whose
 * entry has not landed. What the relay publishes is checked on the topic itself.
 */
describe("the relay's read of the outbox listing, on the real Kafka and Cassandra", () => {
  it('when the first page of the listing holds only entries the relay cannot send, then the events listed after them are published in the same tick, once each, and those entries stay listed', async () => {
    // Request ids in token order: the first page's worth listed without their entry, the rest appended.
    const ids = Array.from({ length: 200 }, () => `fairness-${randomUUID()}`)
      .map((id) => ({ id, token: world.db.metadata.newToken(Buffer.from(id)) }))
      .sort((a, b) => a.token.compare(b.token))
      .map(({ id }) => id)
    const withoutEntry = ids.slice(0, PAGE)
    const events = ids.slice(PAGE, PAGE + 12).map((requestId) => ({ requestId, event: eventFor(randomUUID()) }))
    for (const requestId of withoutEntry) {
      await world.db.execute(`INSERT INTO ${world.keyspace}.user_deletion_event_outbox_pending (requestid, createdat) VALUES (?, ?)`, [requestId, new Date()], { prepare: true })
    }
    for (const { requestId, event } of events) await world.outbox.append(requestId, event)
    expect((await world.outbox.pending(100)).listed).toEqual([...withoutEntry, ...events.map((e) => e.requestId)])

    const { logger } = capturedLogger()
    const published: string[] = []
    const relay = new KafkaRelay(
      { brokers: KAFKA_BROKERS, topic: TOPIC, clientId: 'test-relay-fairness', timeoutMs: 5000, maxSendBytes: 524_288 },
      { outbox: world.outbox, published: async (requestId) => void published.push(requestId), log: logger },
    )
    try {
      // Before, each pass read the listing from its start: a page of these entries, nothing sent, the tick over; and the next the same.
      expect(await relay.publishPending(PAGE)).toBe(events.length)
    } finally {
      await relay.close()
    }

    expect([...published].sort()).toEqual(events.map((e) => e.requestId).sort())
    for (const { requestId } of events) expect(await world.outbox.state(requestId)).toBe('published')
    expect((await world.outbox.pending(100)).listed).toEqual(withoutEntry)
    const onTopic = await readTopic(TOPIC)
    expect(onTopic.map((m) => (JSON.parse(m.value) as { mid: string }).mid).sort()).toEqual(events.map((e) => e.event.mid).sort())
  }, 120_000)
})
