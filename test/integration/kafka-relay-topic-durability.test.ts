import { randomUUID } from 'node:crypto'
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { up } from '../../scripts/services.mjs'
import { KafkaRelay } from '../../src/events/kafka-relay.js'
import { createServiceMetrics } from '../../src/metrics/service-metrics.js'
import { capturedLogger } from '../support/captured-logger.js'
import { InMemoryRelayOutbox } from '../support/fakes/in-memory-relay-outbox.js'
import { KAFKA_BROKERS } from '../support/kafka.js'
import { parsePrometheusText, sampleValue } from '../support/prometheus-text.js'

// Topics of this file's own on the single local broker: one that sets min.insync.replicas 2 on its
// one replica, one that sets none (the broker's default applies). The relay reads the replication
// factor from the partitions' metadata, min.insync.replicas from describeConfigs and the brokers
// from describeCluster at connect, and judges the topic: on one broker with one replica, the local
// setup, said at info level only. The verdicts on a cluster are the unit tests' (topic-durability.test.ts,
// kafka-relay.test.ts): a single broker cannot hold a topic of two replicas.
const WITH_SETTING = `relay-durability-set-${randomUUID()}`
const WITH_DEFAULT = `relay-durability-default-${randomUUID()}`
const LOCAL_LINE = 'event topic has a single replica on a single broker: fine for a local setup, not for production'
const TOPIC_LINES = [
  LOCAL_LINE,
  'event topic can lose an event Kafka acknowledged',
  'event topic refuses events while any one of its brokers is down',
  "event topic's replication not checked: could not read it",
]

describe("the relay's check of the event topic's replication at connect, on the real broker", () => {
  const kafka = new Kafka({ clientId: 'test-relay-durability', brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()

  /** A relay of the shipped build (kafkajs's producer and admin) on `topic`, an event to publish, its lines and its metrics; the gauge set to 1 first, so that the relay's own setting shows. */
  async function publishOnce(topic: string) {
    const { logger, lines } = capturedLogger()
    const metrics = createServiceMetrics()
    metrics.setEventsTopicAtRisk(true)
    const outbox = new InMemoryRelayOutbox()
    const requestId = `relay-durability-${randomUUID()}`
    outbox.add({ requestId, mid: `LP.${randomUUID()}`, userId: randomUUID(), payload: JSON.stringify({ requestId }), attempts: 0 })
    const relay = new KafkaRelay(
      { brokers: KAFKA_BROKERS, topic, clientId: 'test-relay-durability', timeoutMs: 5000, maxSendBytes: 524_288 },
      { outbox, published: async () => undefined, log: logger, metrics },
    )
    let published: number
    try {
      published = await relay.publishPending()
      // A second tick on the same connection: no second check.
      outbox.add({ requestId: `${requestId}-2`, mid: `LP.${randomUUID()}`, userId: randomUUID(), payload: '{}', attempts: 0 })
      published += await relay.publishPending()
    } finally {
      await relay.close()
    }
    const atRisk = sampleValue(parsePrometheusText(await metrics.render()), 'sunbird_user_delete_events_topic_at_risk')
    const topicLines = lines.filter((line) => TOPIC_LINES.includes(String(line.msg))).map(({ time, service, ...fields }) => fields)
    return { published, topicLines, lines, atRisk }
  }

  beforeAll(async () => {
    await up(['kafka'])
    await admin.connect()
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: WITH_SETTING, numPartitions: 2, replicationFactor: 1, configEntries: [{ name: 'min.insync.replicas', value: '2' }] },
        { topic: WITH_DEFAULT, numPartitions: 1, replicationFactor: 1 },
      ],
    })
  })
  afterAll(async () => {
    await admin.deleteTopics({ topics: [WITH_SETTING, WITH_DEFAULT] }).catch(() => undefined)
    await admin.disconnect()
  })

  it('when the topic sets min.insync.replicas 2 on its one replica, then the relay reads 1, 2 and one broker, says at info level only that this is a local setup, and sets the gauge to 0; Kafka takes the acks=all sends all the same', async () => {
    const { published, topicLines, lines, atRisk } = await publishOnce(WITH_SETTING)

    expect(published).toBe(2)
    expect(topicLines).toEqual([{ level: 30, msg: LOCAL_LINE, topic: WITH_SETTING, replicationFactor: 1, minInsyncReplicas: 2, brokers: 1 }])
    expect(lines.filter((line) => Number(line.level) >= 40)).toEqual([])
    expect(atRisk).toBe(0)
  })

  it("when the topic sets no min.insync.replicas, then the relay reads the broker's default", async () => {
    // The broker's own setting, asked of the broker rather than of the topic.
    const [broker] = (await admin.describeCluster()).brokers
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.BROKER, name: String(broker?.nodeId), configNames: ['min.insync.replicas'] }],
    })
    const brokerDefault = Number(resources[0]?.configEntries.find((entry) => entry.configName === 'min.insync.replicas')?.configValue)
    expect(brokerDefault).toBeGreaterThanOrEqual(1)

    const { published, topicLines, atRisk } = await publishOnce(WITH_DEFAULT)

    expect(published).toBe(2)
    expect(topicLines).toEqual([{ level: 30, msg: LOCAL_LINE, topic: WITH_DEFAULT, replicationFactor: 1, minInsyncReplicas: brokerDefault, brokers: 1 }])
    expect(atRisk).toBe(0)
  })
})
