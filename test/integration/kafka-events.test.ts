import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { down, up } from '../../scripts/services.mjs'
import { DependencyUnavailableError } from '../../src/deletion/errors.js'
import { BACKOFF } from '../../src/events/kafka-relay.js'
import { CassandraEventOutbox } from '../../src/store/cassandra-event-outbox.js'
import { expectDeleted } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { startHarness, type Harness } from '../support/harness.js'
import { TEST_KEYSPACE } from '../support/test-env.js'
import { readTopic } from '../support/kafka.js'
import { waitUntil } from '../support/wait-until.js'

// An organisation of this run's own: ORG_ADMINs seeded by earlier runs must not show up as suggested users.
const ORG = `org-${randomUUID()}`

describe('the delete-user event on the real Kafka', () => {
  let h: Harness
  beforeAll(async () => {
    await up(['kafka'])
    h = await startHarness({ events: { timeoutMs: 1000 } })
  })
  afterAll(async () => {
    await up(['kafka'])
    await h.close()
  })

  it("when a user is deleted, then one BE_JOB_REQUEST event with Sunbird's shape reaches the topic", async () => {
    const admin = randomUUID()
    await h.seed({ id: admin, roles: [{ role: 'ORG_ADMIN', organisationIds: [ORG] }] })
    const user = await h.seed({ rootOrgId: ORG })
    const requestId = `evt-${randomUUID()}`
    await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }), 'x-request-id': requestId }))
    await h.service.publishEvents()

    const ours = (await readTopic(h.config.events.topic)).filter((m) => m.value.includes(requestId))
    expect(ours).toHaveLength(1)
    const event = JSON.parse(ours[0]!.value)
    expect(Object.keys(event)).toEqual(['eid', 'ets', 'mid', 'actor', 'context', 'object', 'edata'])
    expect(event).toMatchObject({
      eid: 'BE_JOB_REQUEST',
      actor: { id: 'Sunbird LMS Flink Job', type: 'System' },
      context: { pdata: { id: 'org.sunbird.platform', ver: '1.0' }, cdata: { id: requestId, type: 'Request' } },
      object: { id: user.id, type: 'user' },
      edata: { action: 'delete-user', iteration: 1, userId: user.id, organisationId: ORG, managed_users: [], suggested_users: [{ role: 'ORG_ADMIN', users: [admin] }] },
    })
    expect(event.mid).toMatch(/^LP\.\d+\.[0-9a-f-]{36}$/)
    expect(event.edata).not.toHaveProperty('userName')
    expect(ours[0]!.key).toBe(user.id)
    const [request] = await requestsOf(h.db, user.id)
    expect(request?.steps.event).toMatchObject({ status: 'done', action: 'published' })
  })

  it('when Kafka is down at delete time, then the event waits in the outbox and arrives exactly once after Kafka is back', async () => {
    const user = await h.seed({ rootOrgId: ORG })
    const requestId = `evt-down-${randomUUID()}`
    await down(['kafka'])
    try {
      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }), 'x-request-id': requestId }))
      expect(await h.service.publishEvents()).toBe(0)
      // Right after a failed send the relay waits: it neither reads nor marks the outbox again at once.
      expect(await h.service.publishEvents()).toBe(0)
      const outboxEntry = await h.db.execute(`SELECT attempts FROM ${TEST_KEYSPACE}.user_deletion_event_outbox WHERE requestid = ?`, [requestId], { prepare: true })
      expect(outboxEntry.first()?.get('attempts')).toBe(1)
      const [request] = await requestsOf(h.db, user.id)
      expect(request?.state).toBe('completed')
      expect(request?.steps.event).toMatchObject({ action: 'queued' })
    } finally {
      await up(['kafka'])
    }
    // Two passes back to back: the second must find nothing left to send.
    // The relay reconnects to the restarted broker on a later pass: pass until it publishes.
    // Its waits grow while the broker comes back (at most 30 s each).
    await waitUntil('the relay to publish once Kafka is back', async () => (await h.service.publishEvents()) > 0, { timeoutMs: 60_000, intervalMs: 500 })
    await h.service.publishEvents()
    const ours = (await readTopic(h.config.events.topic)).filter((m) => m.value.includes(requestId))
    expect(ours).toHaveLength(1)
    expect((await requestsOf(h.db, user.id))[0]?.steps.event).toMatchObject({ action: 'published' })
  })
  it('when the request cannot record the publication after Kafka acknowledged, then the event stays listed and a later pass, after a wait, records it without sending it again', async () => {
    const user = await h.seed({ rootOrgId: ORG })
    const requestId = `evt-unrecorded-${randomUUID()}`
    const requests = h.service.requests
    const record = requests.markEventPublished.bind(requests)
    /** When each attempt to record this request's publication was made. */
    const attempts: number[] = []
    // Cassandra gone for a moment between Kafka's acknowledgement and the request's record of it.
    requests.markEventPublished = async (id, at) => {
      if (id === requestId) {
        attempts.push(Date.now())
        if (attempts.length === 1) throw new DependencyUnavailableError('cassandra')
      }
      return record(id, at)
    }
    const listed = async () => (await h.db.execute(`SELECT requestid FROM ${TEST_KEYSPACE}.user_deletion_event_outbox_pending WHERE requestid = ?`, [requestId], { prepare: true })).rowLength > 0
    try {
      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }), 'x-request-id': requestId }))
      await waitUntil(
        'a pass whose record of the publication fails',
        async () => {
          await h.service.publishEvents().catch(() => undefined)
          return attempts.length === 1
        },
        { timeoutMs: 10_000, intervalMs: 200 },
      )
      // The failed record leaves the event listed, and a pass at once neither records nor sends it: it
      // waits. The pass comes first, well within the relay's first wait even on a loaded machine.
      expect(await h.service.publishEvents()).toBe(0)
      expect(attempts).toHaveLength(1)
      expect(await listed()).toBe(true)
      expect((await requestsOf(h.db, user.id))[0]?.steps.event?.action).toBe('queued')
      await waitUntil(
        'a later pass to record the publication',
        async () => {
          await h.service.publishEvents().catch(() => undefined)
          return (await requestsOf(h.db, user.id))[0]?.steps.event?.action === 'published'
        },
        { timeoutMs: 10_000, intervalMs: 200 },
      )
    } finally {
      delete (requests as Partial<Pick<typeof requests, 'markEventPublished'>>).markEventPublished
    }
    // Tried again once, no sooner than the relay's first wait after a failed record; then unlisted.
    expect(attempts).toHaveLength(2)
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(BACKOFF.firstMs)
    expect(await listed()).toBe(false)
    // The relay kept the acknowledged event and retried only its record: once on the topic.
    const ours = (await readTopic(h.config.events.topic)).filter((m) => m.value.includes(requestId))
    expect(ours).toHaveLength(1)
  })
})

describe('the delete-user event with EVENTS_INCLUDE_USER_NAME=true: the name leaves the outbox with the publication', () => {
  let h: Harness
  beforeAll(async () => {
    await up(['kafka'])
    h = await startHarness({ events: { timeoutMs: 1000, includeUserName: true } })
  })
  afterAll(async () => {
    await h.close()
  })

  const outboxRow = async (requestId: string) =>
    (await h.db.execute(`SELECT mid, payload, publishedat FROM ${TEST_KEYSPACE}.user_deletion_event_outbox WHERE requestid = ?`, [requestId], { prepare: true })).first()
  const listed = async (requestId: string) =>
    (await h.db.execute(`SELECT requestid FROM ${TEST_KEYSPACE}.user_deletion_event_outbox_pending WHERE requestid = ?`, [requestId], { prepare: true })).rowLength > 0

  it('when the event is on the topic, then its outbox entry keeps the mid and the publication but no payload; an entry a run writes again after that is cleared and unlisted, not published again', async () => {
    const username = `name_${randomUUID().slice(0, 8)}`
    const user = await h.seed({ rootOrgId: ORG, username })
    const requestId = `evt-name-${randomUUID()}`
    await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }), 'x-request-id': requestId }))
    expect((await outboxRow(requestId))?.get('payload')).toContain(username)

    await waitUntil(
      'the relay to publish the event',
      async () => {
        await h.service.publishEvents()
        return Boolean((await outboxRow(requestId))?.get('publishedat'))
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )

    const ours = (await readTopic(h.config.events.topic)).filter((m) => m.value.includes(requestId))
    expect(ours).toHaveLength(1)
    const event = JSON.parse(ours[0]!.value) as Record<string, unknown> & { mid: string; edata: { userName?: string } }
    expect(event.edata.userName).toBe(username)
    const published = await outboxRow(requestId)
    expect(published?.get('mid')).toBe(event.mid)
    expect(published?.get('payload')).toBeNull()
    expect(await listed(requestId)).toBe(false)

    // A run that read its request before the relay recorded the publication writes the same entry again.
    await new CassandraEventOutbox(h.db, TEST_KEYSPACE).append(requestId, event)
    expect((await outboxRow(requestId))?.get('payload')).toContain(username)
    expect(await listed(requestId)).toBe(true)
    await waitUntil('the relay to drop the entry written again', async () => {
      await h.service.publishEvents()
      return !(await listed(requestId))
    })

    const after = await outboxRow(requestId)
    expect(after?.get('payload')).toBeNull()
    expect(after?.get('publishedat')).toEqual(published?.get('publishedat'))
    expect((await readTopic(h.config.events.topic)).filter((m) => m.value.includes(requestId))).toHaveLength(1)
  })
})
