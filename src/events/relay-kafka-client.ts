// ConfigResourceTypes through the default export: Node's ESM loader finds no such named export in kafkajs's CommonJS.
import kafkajs, { type Kafka, type KafkaConfig, logLevel, type PartitionMetadata, type Producer } from 'kafkajs'
import { produceTimeouts } from './produce-timeouts.js'
import { minInsyncReplicasOf, type TopicReplication } from './topic-durability.js'

/** What the relay needs of a Kafka producer: kafkajs's, or a test's. */
export type RelayProducer = Pick<Producer, 'connect' | 'send' | 'disconnect'>

/** What the relay reads at connect, besides the partitions, to judge the topic's durability (topic-durability.ts). */
export type TopicSettings = Omit<TopicReplication, 'replicationFactor'>

/** The relay's kafkajs client: its request timeout is produceTimeouts' (longer than the ack timeout its sends ask for). */
export function relayKafkaConfig(options: { clientId: string; brokers: string[]; timeoutMs: number }): KafkaConfig {
  return {
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: options.timeoutMs,
    requestTimeout: produceTimeouts(options.timeoutMs).requestTimeoutMs,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1000 },
    logLevel: logLevel.NOTHING,
  }
}

/** kafkajs's idempotent producer and the topic's partitions, on one client for the relay's life. */
export function relayKafkaClient(
  options: { clientId: string; brokers: string[]; timeoutMs: number; topic: string },
  createKafka: (config: KafkaConfig) => Kafka,
): { createProducer: () => RelayProducer; topicPartitions: () => Promise<PartitionMetadata[]>; topicSettings: () => Promise<TopicSettings> } {
  const kafka = createKafka(relayKafkaConfig(options))
  return {
    createProducer: () => kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false }),
    topicPartitions: async () => {
      const admin = kafka.admin()
      try {
        await admin.connect()
        const { topics } = await admin.fetchTopicMetadata({ topics: [options.topic] })
        return topics.find((topic) => topic.name === options.topic)?.partitions ?? []
      } finally {
        await admin.disconnect().catch(() => undefined)
      }
    },
    topicSettings: async () => {
      const admin = kafka.admin()
      try {
        await admin.connect()
        // The topic's entry is its effective value: its own setting, else the broker's default.
        const described = await admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: options.topic, configNames: ['min.insync.replicas'] }],
        })
        const { brokers } = await admin.describeCluster()
        return { minInsyncReplicas: minInsyncReplicasOf(described), brokers: brokers.length }
      } finally {
        await admin.disconnect().catch(() => undefined)
      }
    },
  }
}

/** What a failed Kafka call says, for the relay's logs and readings (kafkajs throws Errors; anything else as text). */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err))
