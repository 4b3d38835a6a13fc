import { randomUUID } from 'node:crypto'
import { Kafka, logLevel, type Producer, type RecordMetadata } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { up } from '../../scripts/services.mjs'
import { KafkaRelay } from '../../src/events/kafka-relay.js'
import { byPartition, type PartitionOf, partitionerFor } from '../../src/events/topic-partitions.js'
import { capturedLogger } from '../support/captured-logger.js'
import { InMemoryRelayOutbox } from '../support/fakes/in-memory-relay-outbox.js'
import { KAFKA_BROKERS } from '../support/kafka.js'
import { waitUntil } from '../support/wait-until.js'

// A topic of this file's own with several partitions (the shared one has a single partition, where
// any grouping is right): the relay cuts its sends one partition each by topic-partitions.ts's
// prediction, while its messages name no partition and kafkajs's producer places each by its key.
// The two must agree, or a send spans partitions and one failing partition fails it whole.
const PARTITIONS = 5
const TOPIC = `relay-partitions-${randomUUID()}`

describe("the relay's partition of an event, against kafkajs's producer on a real topic of several partitions", () => {
  const kafka = new Kafka({ clientId: 'test-relay-partitions', brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  /** The relay's own producer settings (relay-kafka-client.ts, relayKafkaClient). */
  const relayProducer = () => kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
  let producer: Producer

  /** Where the relay predicts each key goes, from the topic's partitions as the relay reads them at connect (the admin's metadata). */
  async function relayPrediction(): Promise<PartitionOf> {
    const { topics } = await admin.fetchTopicMetadata({ topics: [TOPIC] })
    const partitions = topics.find((topic) => topic.name === TOPIC)?.partitions ?? []
    expect(partitions).toHaveLength(PARTITIONS)
    return partitionerFor(TOPIC, partitions)
  }

  /** The partitions each of `keys` sits on (one per copy), read back from the topic up to its end offsets when called. */
  async function landedPartitions(keys: readonly string[]): Promise<Map<string, number[]>> {
    const wanted = new Set(keys)
    const end = (await admin.fetchTopicOffsets(TOPIC)).reduce((sum, p) => sum + Number(p.high), 0)
    const landed = new Map<string, number[]>()
    let read = 0
    const consumer = kafka.consumer({ groupId: `test-relay-partitions-${randomUUID()}` })
    await consumer.connect()
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          read++
          const key = message.key?.toString()
          if (key && wanted.has(key)) landed.set(key, [...(landed.get(key) ?? []), partition])
        },
      })
      await waitUntil(`${end} messages read back from ${TOPIC}`, () => read >= end, { timeoutMs: 30_000 })
    } finally {
      await consumer.disconnect()
    }
    return landed
  }

  beforeAll(async () => {
    await up(['kafka'])
    await admin.connect()
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1 }] })
    producer = relayProducer()
    await producer.connect()
  })
  afterAll(async () => {
    await producer?.disconnect()
    await admin.deleteTopics({ topics: [TOPIC] }).catch(() => undefined)
    await admin.disconnect()
  })

  it('when messages name no partition, then each lands on the partition the relay predicts for its key, and a send of one predicted partition lands on that partition alone', async () => {
    const partitionOf = await relayPrediction()
    // Keys as the relay's are: user ids (UUIDs).
    const keys = Array.from({ length: 200 }, () => randomUUID())
    const groups = byPartition(keys, partitionOf)
    // Every partition is predicted for some key, so a prediction off by any rule would show.
    expect([...groups.keys()].sort()).toEqual(Array.from({ length: PARTITIONS }, (_, p) => p))

    // One send per predicted partition, as the relay sends: the broker's answer names the partitions the send's records went to.
    for (const [partition, group] of groups) {
      const answer: RecordMetadata[] = await producer.send({ topic: TOPIC, acks: -1, messages: group.map((key) => ({ key, value: key })) })
      expect(answer.map((meta) => meta.partition)).toEqual([partition])
    }

    const landed = await landedPartitions(keys)
    for (const key of keys) expect({ key, partitions: landed.get(key) }).toEqual({ key, partitions: [partitionOf(key)] })
  })

  it('when the relay publishes a page of events to that topic, then each of its sends goes to one partition, each event on the one predicted for its key, every event published once', async () => {
    const outbox = new InMemoryRelayOutbox()
    const entries = Array.from({ length: 60 }, (_, n) => {
      const requestId = `relay-partitions-${randomUUID()}`
      return { requestId, mid: `LP.1.${requestId}`, userId: randomUUID(), payload: JSON.stringify({ mid: `LP.1.${requestId}`, n }), attempts: 0 }
    })
    outbox.add(...entries)
    /** The partitions each of the relay's sends went to, as the broker answered. */
    const sends: number[][] = []
    const published: string[] = []
    const relay = new KafkaRelay(
      { brokers: KAFKA_BROKERS, topic: TOPIC, clientId: 'test-relay-partitions', timeoutMs: 5000, maxSendBytes: 524_288 },
      {
        outbox,
        published: async (requestId) => void published.push(requestId),
        log: capturedLogger().logger,
        // kafkajs's producer as the relay makes it, its answers kept; the topic's partitions are read by the relay's own admin.
        createProducer: () => {
          const real = relayProducer()
          return {
            connect: () => real.connect(),
            disconnect: () => real.disconnect(),
            send: async (record) => {
              const answer = await real.send(record)
              sends.push(answer.map((meta) => meta.partition))
              return answer
            },
          }
        },
      },
    )
    try {
      expect(await relay.publishPending()).toBe(entries.length)
    } finally {
      await relay.close()
    }

    expect(published.sort()).toEqual(entries.map((e) => e.requestId).sort())
    expect(outbox.listed()).toEqual([])
    const partitionOf = await relayPrediction()
    const predicted = byPartition(entries, (e) => partitionOf(e.userId))
    expect(predicted.size).toBeGreaterThan(1)
    expect(sends.map((partitions) => partitions.length)).toEqual(sends.map(() => 1))
    expect(sends.flat().sort()).toEqual([...predicted.keys()].sort())
    const landed = await landedPartitions(entries.map((e) => e.userId))
    for (const e of entries) expect({ key: e.userId, partitions: landed.get(e.userId) }).toEqual({ key: e.userId, partitions: [partitionOf(e.userId)] })
  })
})
