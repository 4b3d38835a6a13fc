import { randomUUID } from 'node:crypto'
import { ConfigResourceTypes, Kafka, type KafkaConfig, logLevel, type ProducerRecord } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { up } from '../../scripts/services.mjs'
import { KafkaRelay } from '../../src/events/kafka-relay.js'
import { relayKafkaConfig } from '../../src/events/relay-kafka-client.js'
import { produceTimeouts } from '../../src/events/produce-timeouts.js'
import { partitionerFor } from '../../src/events/topic-partitions.js'
import type { OutboxEntry } from '../../src/store/cassandra-event-outbox.js'
import { capturedLogger } from '../support/captured-logger.js'
import { InMemoryRelayOutbox } from '../support/fakes/in-memory-relay-outbox.js'
import { KAFKA_BROKERS } from '../support/kafka.js'
import { waitUntil } from '../support/wait-until.js'

// Topics of this file's own on the single local broker, changed by the admin while a relay of the
// shipped build (kafkajs's producer and admin) stays connected to them. The relay reads the topic
// again before a send once its connection is older than topicRecheckMs, and its replication at a
// pass with nothing to send once its last reading is that old: 0 here, so every pass reads it and
// the test needs no wait (TOPIC_RECHECK_MS, a minute, in the service).
const TIMEOUT_MS = 5000
const LOCAL_LINE = 'event topic has a single replica on a single broker: fine for a local setup, not for production'

function event(): OutboxEntry {
  const requestId = `relay-recheck-${randomUUID()}`
  return { requestId, mid: `LP.1.${requestId}`, userId: randomUUID(), payload: JSON.stringify({ mid: `LP.1.${requestId}` }), attempts: 0 }
}

describe('a connected relay reads the event topic again, on the real broker', () => {
  const kafka = new Kafka({ clientId: 'test-relay-recheck', brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  const topics: string[] = []

  /**
   * A relay on `topic` with its own kafkajs client, producer and admin, as the service has them; seen
   * only: the settings its client is made with (`made`), and what each send asked and where the broker put it.
   */
  function relayOn(topic: string) {
    const { logger, lines } = capturedLogger()
    const outbox = new InMemoryRelayOutbox()
    const made: KafkaConfig[] = []
    const sends: { record: ProducerRecord; partitions: number[] }[] = []
    let producers = 0
    let attempts = 0
    const options = { brokers: KAFKA_BROKERS, topic, clientId: 'test-relay-recheck', timeoutMs: TIMEOUT_MS, maxSendBytes: 524_288, topicRecheckMs: 0 }
    const relay = new KafkaRelay(options, {
      outbox,
      published: async () => undefined,
      log: logger,
      createKafka: (config) => {
        made.push(config)
        const client = new Kafka(config)
        const producer = client.producer.bind(client)
        client.producer = (producerConfig) => {
          producers++
          const real = producer(producerConfig)
          return {
            ...real,
            send: async (record) => {
              attempts++
              const answer = await real.send(record)
              sends.push({ record, partitions: answer.map((meta) => meta.partition) })
              return answer
            },
          }
        }
        return client
      },
    })
    return { relay, options, outbox, lines, made, sends, producers: () => producers, attempts: () => attempts }
  }

  async function createTopic(topic: string, numPartitions: number, configEntries: { name: string; value: string }[] = []) {
    topics.push(topic)
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions, replicationFactor: 1, configEntries }] })
  }

  beforeAll(async () => {
    await up(['kafka'])
    await admin.connect()
  })
  afterAll(async () => {
    await admin.deleteTopics({ topics }).catch(() => undefined)
    await admin.disconnect()
  })

  it('when partitions are added to the topic while the relay is connected, then its next pass sends over the new count: each send to one partition, each event on the partition the new count gives its key, the new partitions used', async () => {
    const topic = `relay-recheck-partitions-${randomUUID()}`
    await createTopic(topic, 2)
    const { relay, outbox, sends } = relayOn(topic)
    try {
      outbox.add(...Array.from({ length: 10 }, event))
      expect(await relay.publishPending()).toBe(10)

      await admin.createPartitions({ topicPartitions: [{ topic, count: 6 }] })
      const partitions = await waitUntil('6 partitions in the metadata', async () => {
        const {
          topics: [described],
        } = await admin.fetchTopicMetadata({ topics: [topic] })
        return described?.partitions.length === 6 && described.partitions.every((p) => p.leader >= 0) && described.partitions
      })
      const partitionOf = partitionerFor(topic, partitions)
      const after = Array.from({ length: 60 }, event)
      outbox.add(...after)
      const sendsBefore = sends.length
      expect(await relay.publishPending()).toBe(60)

      const newSends = sends.slice(sendsBefore)
      expect(newSends.map((send) => send.partitions.length)).toEqual(newSends.map(() => 1))
      const landed = new Map(newSends.flatMap((send) => send.record.messages.map((m) => [String(m.key), send.partitions[0] ?? -1] as const)))
      for (const e of after) expect({ key: e.userId, partition: landed.get(e.userId) }).toEqual({ key: e.userId, partition: partitionOf(e.userId) })
      expect(Math.max(...landed.values())).toBeGreaterThanOrEqual(2)
      expect(outbox.listed()).toEqual([])
    } finally {
      await relay.close()
    }
  })

  it("when the topic's min.insync.replicas is lowered while the relay is connected, then its next pass says the new reading, on the same producer, and says nothing again while it stays so", async () => {
    const topic = `relay-recheck-durability-${randomUUID()}`
    await createTopic(topic, 1, [{ name: 'min.insync.replicas', value: '2' }])
    const { relay, outbox, lines, producers } = relayOn(topic)
    const localLines = () => lines.filter((line) => line.msg === LOCAL_LINE).map((line) => ({ topic: line.topic, minInsyncReplicas: line.minInsyncReplicas }))
    try {
      outbox.add(event())
      expect(await relay.publishPending()).toBe(1)
      expect(localLines()).toEqual([{ topic, minInsyncReplicas: 2 }])

      await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'min.insync.replicas', value: '1' }] }] })
      outbox.add(event())
      expect(await relay.publishPending()).toBe(1)
      expect(localLines()).toEqual([
        { topic, minInsyncReplicas: 2 },
        { topic, minInsyncReplicas: 1 },
      ])

      outbox.add(event())
      expect(await relay.publishPending()).toBe(1)
      expect(localLines()).toHaveLength(2)
      expect(producers()).toBe(1)
    } finally {
      await relay.close()
    }
  })

  it("when the topic's min.insync.replicas is lowered while the relay has nothing to send, then its next idle tick reads it through its admin and says the new reading, with no send and no new producer", async () => {
    const topic = `relay-recheck-idle-${randomUUID()}`
    await createTopic(topic, 1, [{ name: 'min.insync.replicas', value: '2' }])
    const { relay, outbox, lines, producers, attempts } = relayOn(topic)
    const localLines = () => lines.filter((line) => line.msg === LOCAL_LINE).map((line) => ({ topic: line.topic, minInsyncReplicas: line.minInsyncReplicas }))
    try {
      outbox.add(event())
      expect(await relay.publishPending()).toBe(1)
      expect(localLines()).toEqual([{ topic, minInsyncReplicas: 2 }])

      await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'min.insync.replicas', value: '1' }] }] })
      expect(await relay.publishPending()).toBe(0)
      expect(localLines()).toEqual([
        { topic, minInsyncReplicas: 2 },
        { topic, minInsyncReplicas: 1 },
      ])
      expect({ producers: producers(), attempts: attempts() }).toEqual({ producers: 1, attempts: 1 })
    } finally {
      await relay.close()
    }
  })

  it('when the topic is deleted while the relay is connected, then its events are held back in the outbox without a send to the topic, and published once the topic is made again', async () => {
    const topic = `relay-recheck-deleted-${randomUUID()}`
    await createTopic(topic, 1)
    const { relay, outbox, lines, sends, attempts } = relayOn(topic)
    try {
      outbox.add(event())
      expect(await relay.publishPending()).toBe(1)

      await admin.deleteTopics({ topics: [topic] })
      await waitUntil('the topic gone from the metadata', async () => !(await admin.listTopics()).includes(topic))
      const held = event()
      outbox.add(held)
      const attemptsBefore = attempts()
      expect(await relay.publishPending()).toBe(0)
      // Not sent and failed (kafkajs retrying a send to a topic it cannot find for seconds, a pass held up meanwhile): not sent at all.
      expect(attempts()).toBe(attemptsBefore)
      expect(outbox.listed()).toEqual([held.requestId])
      expect(outbox.attemptsOf(held.requestId)).toBe(1)
      expect(lines.filter((line) => line.msg === 'event not published yet').map((line) => line.err)).toEqual([
        // kafkajs's admin asked for the topic's metadata: UNKNOWN_TOPIC_OR_PARTITION.
        'This server does not host this topic-partition',
      ])

      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] })
      // The relay waits (1 s at first) before it tries Kafka again, as after any failed connect.
      await waitUntil('the held event published', async () => (await relay.publishPending()) === 1, { timeoutMs: 30_000, intervalMs: 250 })
      expect(outbox.listed()).toEqual([])
      expect(sends.at(-1)?.record.messages.map((m) => m.key)).toEqual([held.userId])
    } finally {
      await relay.close()
    }
  })

  it("when the relay sends, then its own client waits for the answer (its request timeout, KAFKA_TIMEOUT_MS, not kafkajs's 30 s) longer than the broker is asked to acknowledge within", async () => {
    const topic = `relay-recheck-timeouts-${randomUUID()}`
    await createTopic(topic, 1)
    const { relay, options, outbox, made, sends } = relayOn(topic)
    try {
      outbox.add(event())
      expect(await relay.publishPending()).toBe(1)
    } finally {
      await relay.close()
    }
    // The one client the relay made, for its producers and admins.
    expect(made).toEqual([relayKafkaConfig(options)])
    expect(made[0]?.requestTimeout).toBe(TIMEOUT_MS)
    expect(sends.map((send) => send.record.timeout)).toEqual([produceTimeouts(TIMEOUT_MS).ackTimeoutMs])
    expect(sends[0]?.record.timeout).toBeLessThan(made[0]?.requestTimeout ?? 0)
  })
})
