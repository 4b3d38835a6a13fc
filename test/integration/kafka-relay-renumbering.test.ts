import { randomUUID } from 'node:crypto'
import type { PartitionMetadata } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { KafkaRelay } from '../../src/events/kafka-relay.js'
import { partitionerFor } from '../../src/events/topic-partitions.js'
import { capturedLogger } from '../support/captured-logger.js'
import { relayOutboxWorld } from '../support/relay-outbox-world.js'
import { KAFKA_BROKERS } from '../support/kafka.js'
import { waitUntil } from '../support/wait-until.js'

// A topic and a keyspace of this file's own: the topic is deleted and made again with more
// partitions, and the outbox listing must hold this test's events only.
const OLD_COUNT = 2
const world = relayOutboxWorld('renumber', OLD_COUNT)
const TOPIC = world.topic
const NEW_COUNT = 6
/**
 * The relay's waits after a failure, lengthened from 1 s so that the steps between the failed send
 * and the next tick (the topic made again, events appended) surely fall within the failed
 * partition's wait, as they would on a loaded broker whose partition stays down for a while.
 */
const WAIT_MS = 20_000

/** Where kafkajs's default partitioner puts a key on a topic of `count` partitions. */
const partitionOver = (count: number) =>
  partitionerFor(
    TOPIC,
    Array.from({ length: count }, (_, partitionId): PartitionMetadata => ({ partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0] })),
  )

/** A delete-user event as the workflow appends it: its mid, and the user as `object.id` (the message key). */
const eventFor = (userId: string) => ({ mid: `LP.1.${randomUUID()}`, object: { id: userId, type: 'user' } })

/**
 * A relay of the shipped build (kafkajs's idempotent producer and admin) over the real outbox in
 * Cassandra, whose partition count changes while an event waits for its failing partition: the
 * topic is deleted under a connected relay (the send to the key's partition fails and that
 * partition waits), then made again with more partitions, and the key's next event is queued
 * within that wait. What a consumer of the topic relies on is checked on the topic itself.
 */
describe("the relay's partitions numbered anew while a key's event waits, on the real Kafka and Cassandra", () => {
  const { kafka, admin } = world

  /** The request ids the outbox still lists, in the listing's order (the order the relay reads them). */
  async function listed(): Promise<string[]> {
    return (await world.outbox.pending(1000)).listed
  }

  async function append(requestId: string, event: ReturnType<typeof eventFor>): Promise<void> {
    await world.outbox.append(requestId, event)
  }

  /** Every message on the topic, with its partition and offset, read from the beginning up to the end offsets. */
  async function consume(): Promise<{ partition: number; offset: number; key: string; mid: string }[]> {
    const end = (await admin.fetchTopicOffsets(TOPIC)).reduce((sum, p) => sum + Number(p.high), 0)
    const messages: { partition: number; offset: number; key: string; mid: string }[] = []
    const consumer = kafka.consumer({ groupId: `test-relay-renumber-${randomUUID()}` })
    await consumer.connect()
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          const { mid } = JSON.parse(String(message.value)) as { mid: string }
          messages.push({ partition, offset: Number(message.offset), key: String(message.key), mid })
        },
      })
      await waitUntil(`${end} messages read back from ${TOPIC}`, () => messages.length >= end, { timeoutMs: 30_000 })
    } finally {
      await consumer.disconnect()
    }
    return messages
  }

  it("when the topic's partition count changes while a key's event waits for its failing partition, then every event reaches the topic once, and the key's events land on its new partition in listing order: the later one does not overtake the waiting one", async () => {
    // A user whose partition under the new count differs from the old one's, so that its later event
    // would go elsewhere than the partition its waiting event is numbered by.
    const key = Array.from({ length: 200 }, () => randomUUID()).find((k) => partitionOver(NEW_COUNT)(k) !== partitionOver(OLD_COUNT)(k)) as string
    expect(key).toBeDefined()
    // Its two events, the later one listed after the first (the listing is in token order of the request id), and other users' events.
    // Two ids put in token order, so the first is always listed first (picking a later one at random
    // from a few found none when the first's token was near the ring's end).
    const [olderId, newerId] = [`renumber-${randomUUID()}`, `renumber-${randomUUID()}`].sort((a, b) => world.db.metadata.newToken(Buffer.from(a)).compare(world.db.metadata.newToken(Buffer.from(b))))
    const older = { requestId: olderId as string, event: eventFor(key) }
    const newer = { requestId: newerId as string, event: eventFor(key) }
    const others = Array.from({ length: 10 }, () => ({ requestId: `renumber-${randomUUID()}`, event: eventFor(randomUUID()) }))
    const { logger, lines } = capturedLogger()
    const published: string[] = []
    // No recheck of the topic before a send (a minute in the service, ten here): the send itself meets the deleted topic.
    const relay = new KafkaRelay(
      { brokers: KAFKA_BROKERS, topic: TOPIC, clientId: 'test-relay-renumber', timeoutMs: 5000, maxSendBytes: 524_288, topicRecheckMs: 600_000, backoff: { firstMs: WAIT_MS, maxMs: WAIT_MS } },
      { outbox: world.outbox, published: async (requestId) => void published.push(requestId), log: logger },
    )
    try {
      // Connected over the topic's 2 partitions.
      await append(`renumber-${randomUUID()}`, eventFor(randomUUID()))
      expect(await relay.publishPending()).toBe(1)

      // The topic gone under the connected relay: the send of the user's first event fails and its partition waits.
      await admin.deleteTopics({ topics: [TOPIC] })
      await waitUntil('the topic gone from the metadata', async () => !(await admin.listTopics()).includes(TOPIC))
      await append(older.requestId, older.event)
      expect(await relay.publishPending()).toBe(0)
      expect(lines.filter((line) => line.msg === 'event not published yet').map((line) => line.requestId)).toEqual([older.requestId])

      // Within that wait: the topic made again with 6 partitions, the user's later event and the others queued.
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: NEW_COUNT, replicationFactor: 1 }] })
      for (const { requestId, event } of [newer, ...others]) await append(requestId, event)
      const order = await listed()
      expect(order.indexOf(older.requestId)).toBeLessThan(order.indexOf(newer.requestId))

      // The ticks that follow, until the outbox is empty (at once, when the waiting event is read again with the change).
      await waitUntil(
        'the outbox emptied',
        async () => {
          await relay.publishPending()
          return (await listed()).length === 0
        },
        { timeoutMs: 2 * WAIT_MS, intervalMs: 500 },
      )
    } finally {
      await relay.close()
    }

    const all = [older, newer, ...others]
    const onTopic = await consume()
    // None lost: every event is on the topic, and nothing else. None duplicated: one relay, no restart,
    // and its only failed send went to a topic that did not exist, so no documented cause of a second copy arises.
    expect(onTopic.map((m) => m.mid).sort()).toEqual(all.map((e) => e.event.mid).sort())
    // Each on the partition the new count gives its key, where a consumer of that key reads it.
    for (const m of onTopic) expect({ mid: m.mid, partition: m.partition }).toEqual({ mid: m.mid, partition: partitionOver(NEW_COUNT)(m.key) })
    // The user's events in listing order on its partition: the later one did not overtake the waiting one.
    const ofKey = onTopic.filter((m) => m.key === key).sort((a, b) => a.offset - b.offset)
    expect(ofKey.map((m) => m.mid)).toEqual([older.event.mid, newer.event.mid])
    // Each recorded published once, and the outbox says so.
    expect(published.slice(1).sort()).toEqual(all.map((e) => e.requestId).sort())
    for (const { requestId } of all) expect(await world.outbox.state(requestId)).toBe('published')
  }, 120_000)
})
