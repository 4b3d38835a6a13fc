import { randomUUID } from 'node:crypto'
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { up } from '../../scripts/services.mjs'
import { buildDeleteUserEvent } from '../../src/deletion/build-event.js'
import { KafkaRelay } from '../../src/events/kafka-relay.js'
import { recordBatchBytes } from '../../src/events/send-sizes.js'
import { createServiceMetrics } from '../../src/metrics/service-metrics.js'
import { CassandraEventOutbox } from '../../src/store/cassandra-event-outbox.js'
import { expectDeleted } from '../support/assertions.js'
import { capturedLogger } from '../support/captured-logger.js'
import { requestsOf } from '../support/deletion-requests.js'
import { startHarness, type Harness } from '../support/harness.js'
import { KAFKA_BROKERS, readTopic } from '../support/kafka.js'
import { parsePrometheusText, sampleValue } from '../support/prometheus-text.js'
import { TEST_KEYSPACE } from '../support/test-env.js'
import { waitUntil } from '../support/wait-until.js'

// A topic of this file's own that takes record batches of at most 20 000 bytes (max.message.bytes;
// Kafka's default is 1048588): events larger than that, and sends of several events that add up to
// more, are what the broker refuses as MESSAGE_TOO_LARGE.
const TOPIC_LIMIT = 20_000
const TOPIC = `relay-size-${randomUUID()}`
const ORG = `org-${randomUUID()}`
const TOO_LARGE_LINE = 'event too large for the topic; held back in the outbox'

describe('the relay on a topic that takes less than a page of events (max.message.bytes)', () => {
  let h: Harness
  const kafka = new Kafka({ clientId: 'test-relay-size', brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  const appended: string[] = []

  /** Writes an event of about `admins` × 39 bytes to the outbox, as a deletion's event step does. */
  async function appendEvent(admins: number): Promise<{ requestId: string; userId: string; mid: string; payload: string; admins: string[] }> {
    const requestId = `relay-size-${randomUUID()}`
    const userId = randomUUID()
    const users = Array.from({ length: admins }, () => randomUUID())
    const event = buildDeleteUserEvent({ requestId, userId, organisationId: ORG, userName: null, suggestedUsers: [{ role: 'ORG_ADMIN', users }], managedUsers: [], now: new Date() })
    await new CassandraEventOutbox(h.db, TEST_KEYSPACE).append(requestId, event)
    appended.push(requestId)
    return { requestId, userId, mid: String(event.mid), payload: JSON.stringify(event), admins: users }
  }

  const outboxRow = async (requestId: string) =>
    (await h.db.execute(`SELECT payload, publishedat, attempts FROM ${TEST_KEYSPACE}.user_deletion_event_outbox WHERE requestid = ?`, [requestId], { prepare: true })).first()
  const listed = async (requestId: string) =>
    (await h.db.execute(`SELECT requestid FROM ${TEST_KEYSPACE}.user_deletion_event_outbox_pending WHERE requestid = ?`, [requestId], { prepare: true })).rowLength > 0
  const published = async (requestId: string) => Boolean((await outboxRow(requestId))?.get('publishedat'))
  const metric = async (name: string) => sampleValue(parsePrometheusText(await h.service.metrics.render()), name)

  beforeAll(async () => {
    await up(['kafka'])
    await admin.connect()
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: TOPIC, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_LIMIT) }] }],
    })
    // The shipped send cap (EVENT_RELAY_MAX_SEND_BYTES, 512 KiB): above what this topic takes.
    h = await startHarness({ events: { topic: TOPIC, timeoutMs: 2000 } })
  })
  afterAll(async () => {
    // What this file wrote and left listed is not for the other files' relays (nor the rows the relay's record of a publication made for these made-up requests).
    for (const requestId of appended) {
      await h.db.execute(`DELETE FROM ${TEST_KEYSPACE}.user_deletion_request WHERE id = ?`, [requestId], { prepare: true })
      await h.db.execute(`DELETE FROM ${TEST_KEYSPACE}.user_deletion_event_outbox_pending WHERE requestid = ?`, [requestId], { prepare: true })
      await h.db.execute(`DELETE FROM ${TEST_KEYSPACE}.user_deletion_event_outbox WHERE requestid = ?`, [requestId], { prepare: true })
    }
    await h.close()
    await admin.deleteTopics({ topics: [TOPIC] }).catch(() => undefined)
    await admin.disconnect()
  })

  it('when a page of events adds up to more than the topic takes, then every event is published, each under its one mid', async () => {
    const events: Awaited<ReturnType<typeof appendEvent>>[] = []
    for (let i = 0; i < 40; i++) events.push(await appendEvent(30))
    expect(recordBatchBytes(events)).toBeGreaterThan(TOPIC_LIMIT)
    for (const e of events) expect(recordBatchBytes([e])).toBeLessThan(TOPIC_LIMIT)

    // Before the cap, the page went as one send the broker refused every time: nothing was ever published.
    await waitUntil(
      'every event of the page on the topic',
      async () => {
        await h.service.publishEvents()
        return (await Promise.all(events.map((e) => published(e.requestId)))).every(Boolean)
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    )

    const ours = (await readTopic(TOPIC)).filter((m) => events.some((e) => m.value.includes(e.requestId)))
    for (const e of events) {
      const copies = ours.filter((m) => m.value.includes(e.requestId))
      // Once: each send is one partition's batch (the topic has three), so a send refused as too large
      // appended nothing that its halves could send again.
      expect(copies).toHaveLength(1)
      expect(new Set(copies.map((m) => JSON.parse(m.value).mid))).toEqual(new Set([e.mid]))
      expect(copies[0]?.key).toBe(e.userId)
    }
    for (const e of events) expect(await listed(e.requestId)).toBe(false)
    expect(await metric('sunbird_user_delete_events_too_large_total')).toBe(0)
  })

  it('when one event is larger than the topic takes, then the others (a real deletion among them) are published past it, it stays in the outbox, is reported once without personal data, and goes once the topic takes it', async () => {
    const big = await appendEvent(800)
    expect(recordBatchBytes([big])).toBeGreaterThan(TOPIC_LIMIT)
    const user = await h.seed({ rootOrgId: ORG })
    const requestId = `relay-size-deletion-${randomUUID()}`
    await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }), 'x-request-id': requestId }))
    const after = [await appendEvent(10), await appendEvent(10)]

    await waitUntil(
      'the other events on the topic',
      async () => {
        await h.service.publishEvents()
        return (await requestsOf(h.db, user.id))[0]?.steps.event?.action === 'published' && (await Promise.all(after.map((e) => published(e.requestId)))).every(Boolean)
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    )

    // Never dropped: still listed, its payload kept, its tries counted.
    const row = await outboxRow(big.requestId)
    expect(row?.get('publishedat')).toBeNull()
    expect(row?.get('payload')).toContain(big.mid)
    expect(row?.get('attempts')).toBeGreaterThanOrEqual(1)
    expect(await listed(big.requestId)).toBe(true)
    expect((await readTopic(TOPIC)).filter((m) => m.value.includes(big.requestId))).toEqual([])
    // Counted once, and held back: further passes do not count it again.
    await h.service.publishEvents()
    await h.service.publishEvents()
    expect(await metric('sunbird_user_delete_events_too_large_total')).toBe(1)
    expect(await metric('sunbird_user_delete_events_held_back')).toBe(1)

    // What the line says, from a relay of the same build with its lines kept: the request id and the size only.
    const { logger, lines } = capturedLogger()
    const outbox = new CassandraEventOutbox(h.db, TEST_KEYSPACE)
    const relayOptions = { brokers: KAFKA_BROKERS, topic: TOPIC, clientId: 'test-relay-size', timeoutMs: 2000, maxSendBytes: h.config.events.relayMaxSendBytes }
    const relayDeps = { outbox, published: (id: string, at: Date) => h.service.requests.markEventPublished(id, at), metrics: createServiceMetrics() }
    const watched = new KafkaRelay(relayOptions, { ...relayDeps, log: logger })
    try {
      await watched.publishPending()
      await watched.publishPending()
    } finally {
      await watched.close()
    }
    const reports = lines.filter((line) => line.msg === TOO_LARGE_LINE)
    expect(reports).toHaveLength(1)
    expect(reports[0]).toMatchObject({ requestId: big.requestId, level: 50 })
    expect(Number(reports[0]?.bytes)).toBeGreaterThan(TOPIC_LIMIT)
    const said = JSON.stringify(lines.filter((line) => line.requestId === big.requestId))
    for (const id of [big.userId, ...big.admins.slice(0, 5)]) expect(said).not.toContain(id)

    // The operator raises the topic's limit; a relay that holds nothing back (npm run deletion:resume's) publishes it.
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: TOPIC, configEntries: [{ name: 'max.message.bytes', value: '1048588' }] }] })
    await waitUntil(
      'the large event on the topic once the topic takes it',
      async () => {
        const fresh = new KafkaRelay(relayOptions, { ...relayDeps, log: capturedLogger().logger })
        try {
          await fresh.publishPending()
        } finally {
          await fresh.close()
        }
        return published(big.requestId)
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
    const copies = (await readTopic(TOPIC)).filter((m) => m.value.includes(big.requestId))
    expect(copies).toHaveLength(1)
    expect(JSON.parse(copies[0]!.value).mid).toBe(big.mid)
    expect((await outboxRow(big.requestId))?.get('payload')).toBeNull()
    expect(await listed(big.requestId)).toBe(false)
    // The service's relay sees it gone from the listing and holds nothing back any more.
    await h.service.publishEvents()
    expect(await metric('sunbird_user_delete_events_held_back')).toBe(0)
  })
})
