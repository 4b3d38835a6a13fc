import { Kafka, logLevel } from 'kafkajs'
import { waitUntil } from './wait-until.js'

export const KAFKA_BROKERS = [`127.0.0.1:${process.env.KAFKA_PORT ?? '19092'}`]

/** Every message on the topic from the beginning up to its end offsets when called (or what arrived within `maxMs`), through `brokers` or the local broker. */
export async function readTopic(topic: string, options: { maxMs?: number; brokers?: string[] } = {}): Promise<{ key: string | null; value: string }[]> {
  const kafka = new Kafka({ clientId: 'test-reader', brokers: options.brokers ?? KAFKA_BROKERS, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  const offsets = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  const end = offsets.reduce((sum, p) => sum + Number(p.high), 0)
  const consumer = kafka.consumer({ groupId: `test-reader-${Date.now()}-${Math.random()}` })
  const messages: { key: string | null; value: string }[] = []
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({ eachMessage: async ({ message }) => void messages.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? '' }) })
  await waitUntil(`${end} messages on ${topic}`, () => messages.length >= end, { timeoutMs: options.maxMs ?? 20_000 }).catch(() => undefined)
  await consumer.disconnect()
  return messages
}
