import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { projectRoot } from '../../src/config/project-root.js'
import { expectError } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { keycloakAccountOf } from '../support/keycloak.js'
import { readTopic } from '../support/kafka.js'
import { deletionStateOf, envelopeOf, hasOutboxEvent, lifecycle, personInBoth } from '../support/lifecycle.js'
import { freePort } from '../support/spawned-server.js'
import { LOCAL_REDIS, LOCAL_SEARCH, TEST_KEYSPACE } from '../support/test-env.js'
import { readUserState } from '../support/user-state.js'
import { waitUntil } from '../support/wait-until.js'

const run = promisify(execFile)
const ORG = '0137000000000000000012'
/** A grace day of one second: a two-day grace period ends two seconds after the request. */
const DAY_SECONDS = 1

/**
 * request.gracePeriodDays on the real Cassandra, Keycloak and Kafka, with a grace day of one
 * second: soft-deleted at once, erased by the sweeper (or `npm run deletion:resume`) when the
 * period ends, the delete-user event published only then.
 */
describe('request.gracePeriodDays', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  /** An ORG_ADMIN of the users' organisation: may follow their deletions (the users themselves are locked out). */
  const admin = () => ({ 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) })
  const statusOf = async (requestId: string) => envelopeOf(await h.deleteRequest({ request: { requestId } }, admin(), '/api/user/v1/delete/status'))
  beforeAll(async () => {
    h = await startHarness({ deletion: { graceDaySeconds: DAY_SECONDS } })
    api = lifecycle(h)
  })
  afterAll(async () => {
    await h.close()
  })

  it('when a user asks for a deletion with a grace period, then 200 scheduled with eraseAt, the user soft-deleted now, and the status endpoint shows it', async () => {
    const person = await personInBoth(h, { rootOrgId: ORG })
    const before = Date.now()

    const answer = await envelopeOf(await api.remove(person.id, { gracePeriodDays: 2 }, api.asUser(person.id, { 'x-request-id': `grace-${person.id}` })))

    expect(answer.status).toBe(200)
    expect(answer.id).toBe('api.user.delete')
    expect(answer.result).toEqual({ response: 'SUCCESS', requestId: `grace-${person.id}`, state: 'scheduled', eraseAt: expect.any(String) })
    const eraseAt = Date.parse(String(answer.result.eraseAt))
    expect(eraseAt).toBeGreaterThanOrEqual(before + 2 * DAY_SECONDS * 1000)
    expect(eraseAt).toBeLessThanOrEqual(Date.now() + 2 * DAY_SECONDS * 1000)
    expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(2)
    expect((await readUserState(h.db, person.id)).lookups).toHaveLength(3)
    expect(await keycloakAccountOf(person.id)).toMatchObject({ enabled: false })

    const status = await statusOf(`grace-${person.id}`)
    expect(status.status).toBe(200)
    expect(status.result.request).toMatchObject({
      requestId: `grace-${person.id}`,
      state: 'scheduled',
      eraseAt: answer.result.eraseAt,
      steps: { lock: { status: 'done' }, keycloak: { action: 'disabled' } },
    })
    // The person is locked out: their own token is refused everywhere but on the cancel route.
    await expectError(await api.remove(randomUUID(), {}, api.asUser(person.id)), 'UNAUTHORIZED')
  })

  it('when the grace period ends, then the sweeper erases the user the Sunbird way, deletes the Keycloak account and publishes the event only then; the status endpoint follows', async () => {
    const person = await personInBoth(h, { rootOrgId: ORG })
    const requestId = `grace-${randomUUID()}`
    // Two grace days (two seconds): room for a sweep, and a relay pass, before the period ends.
    const asked = await envelopeOf(await api.remove(person.id, { gracePeriodDays: 2 }, { 'x-authenticated-user-token': h.userToken({ sub: person.id }), 'x-request-id': requestId }))
    expect(asked.status).toBe(200)
    expect(await hasOutboxEvent(h.db, requestId)).toBe(false)
    expect((await statusOf(requestId)).result.request).toMatchObject({ state: 'scheduled' })

    // Before eraseAt the sweeper leaves it alone: nothing erased, no event queued, none published. A
    // pass takes up only what was due when it started, so it is timed from its start (its length, on a
    // loaded machine, is other requests' work).
    const sweptAt = Date.now()
    await h.service.resumeOpen()
    expect(sweptAt).toBeLessThan(Date.parse(String(asked.result.eraseAt)))
    expect((await statusOf(requestId)).result.request).toMatchObject({ state: 'scheduled' })
    expect(await hasOutboxEvent(h.db, requestId)).toBe(false)
    await h.service.publishEvents()
    expect((await readTopic(h.config.events.topic)).some((message) => message.value.includes(requestId))).toBe(false)
    expect((await readUserState(h.db, person.id)).lookups).toHaveLength(3)

    await waitUntil('the erasure to be due', () => Date.now() > Date.parse(String(asked.result.eraseAt)))
    await h.service.resumeOpen()

    const after = await readUserState(h.db, person.id)
    expect(after.user?.get('email')).toBe('')
    expect(after.lookups).toHaveLength(0)
    expect(after.roles).toEqual(['PUBLIC'])
    expect(await keycloakAccountOf(person.id)).toBeUndefined()
    const status = (await statusOf(requestId)).result.request as { state: string; eraseAt: string; steps: Record<string, { action: string }> }
    expect(status).toMatchObject({ state: 'completed', eraseAt: asked.result.eraseAt, steps: { keycloak: { action: 'deleted' }, lookups: { action: 'deleted' }, userRow: { action: 'scrubbed' } } })
    expect((await deletionStateOf(h.db, person.id))?.mode).toBe('sunbird')
    await h.service.publishEvents()
    const event = await waitUntil('the event of the erasure', async () => (await readTopic(h.config.events.topic)).find((message) => message.value.includes(requestId)))
    expect(JSON.parse(event.value)).toMatchObject({ edata: { userId: person.id, action: 'delete-user' } })
  })

  it('when the grace period ends in a hard deletion, then npm run deletion:resume leaves a tombstone', async () => {
    const person = await personInBoth(h, { rootOrgId: '0137000000000000000011' })
    const asked = await envelopeOf(await api.remove(person.id, { mode: 'hard', gracePeriodDays: 1 }, api.asUser(person.id)))
    await waitUntil('the erasure to be due', () => Date.now() > Date.parse(String(asked.result.eraseAt)))

    const { stdout } = await run('npx', ['tsx', 'scripts/deletion-resume.ts'], {
      cwd: projectRoot,
      // The service's configuration, as the runbook says: the search engine and Redis the soft phase flagged, or their steps stay owed.
      env: {
        ...process.env,
        CASSANDRA_KEYSPACE: TEST_KEYSPACE,
        LOG_LEVEL: 'silent',
        sunbird_es_host: LOCAL_SEARCH.hosts.join(','),
        sunbird_es_port: String(LOCAL_SEARCH.port),
        sunbird_redis_host: LOCAL_REDIS.host,
        sunbird_redis_port: String(LOCAL_REDIS.port),
      },
      timeout: 60_000,
    })

    expect(JSON.parse(stdout.trim().split('\n').pop() ?? '{}')).toMatchObject({ resumed: expect.any(Number) })
    const after = await readUserState(h.db, person.id)
    expect(after.user?.get('rootorgid')).toBeNull()
    expect(after.roles).toEqual([])
    expect((await deletionStateOf(h.db, person.id))?.mode).toBe('hard')
    expect((await requestsOf(h.db, person.id))[0]).toMatchObject({ state: 'completed' })
  })

  it('when a deletion without mode meets a user in a grace period, then 0008; a hard one takes over at once and the schedule is dropped', async () => {
    const person = await personInBoth(h, { rootOrgId: ORG })
    const asked = await envelopeOf(await api.remove(person.id, { gracePeriodDays: 1 }, api.asUser(person.id)))

    await expectError(await api.remove(person.id, {}, admin()), 'ALREADY_DELETED')
    await expectError(await api.remove(person.id, { gracePeriodDays: 1 }, admin()), 'ALREADY_DELETED')
    expect((await envelopeOf(await api.remove(person.id, { mode: 'hard' }, admin()))).status).toBe(200)

    expect((await statusOf(String(asked.result.requestId))).result.request).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect((await deletionStateOf(h.db, person.id))?.mode).toBe('hard')
  })
})

/**
 * A grace period asked for while the search engine and Redis do not answer: the soft phase owes
 * their steps, yet the request is scheduled with its eraseAt, and the erasure happens when it ends
 * (Cassandra and Keycloak at once), owing only the stores still down, as an immediate hard
 * deletion during the same outage does.
 */
describe('request.gracePeriodDays while the search engine and Redis are unreachable', () => {
  let h: Harness
  let down: Harness
  const admin = (of: Harness) => ({ 'x-authenticated-user-token': of.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) })
  beforeAll(async () => {
    h = await startHarness({ deletion: { graceDaySeconds: DAY_SECONDS } })
    down = await startHarness({
      search: { hosts: ['127.0.0.1'], port: await freePort(), timeoutMs: 500 },
      redis: { port: await freePort(), timeoutMs: 500 },
      deletion: { graceDaySeconds: DAY_SECONDS },
    })
  })
  afterAll(async () => {
    await Promise.all([h.close(), down.close()])
  })

  it('when a hard deletion with a grace period is asked, then the status reads scheduled with its eraseAt (search and cache owed), and at eraseAt the sweeper erases Cassandra and Keycloak though they are still down, leaving only their steps pending for an instance that reaches them', async () => {
    const person = await personInBoth(h, { rootOrgId: ORG })
    const requestId = `grace-down-${randomUUID()}`
    const api = lifecycle(down)

    const asked = await envelopeOf(await api.remove(person.id, { mode: 'hard', gracePeriodDays: 1 }, api.asUser(person.id, { 'x-request-id': requestId })))

    expect(asked.status).toBe(200)
    expect(asked.result).toMatchObject({ requestId, state: 'scheduled', eraseAt: expect.any(String) })
    const status = await envelopeOf(await down.deleteRequest({ request: { requestId } }, admin(down), '/api/user/v1/delete/status'))
    expect(status.result.request).toMatchObject({
      state: 'scheduled',
      eraseAt: asked.result.eraseAt,
      steps: { keycloak: { action: 'disabled' }, searchUser: { status: 'pending', action: 'unreachable' }, cacheUser: { status: 'pending', action: 'unreachable' } },
    })
    expect(await keycloakAccountOf(person.id)).toMatchObject({ enabled: false })

    await waitUntil('the erasure to be due', () => Date.now() > Date.parse(String(asked.result.eraseAt)))
    expect(await down.service.resumeRequest(requestId)).toMatchObject({ state: 'partial' })

    const after = await readUserState(h.db, person.id)
    expect([after.user?.get('firstname'), after.user?.get('email'), after.user?.get('rootorgid')]).toEqual([null, null, null])
    expect(after.lookups).toHaveLength(0)
    expect(await keycloakAccountOf(person.id)).toBeUndefined()
    const [partial] = await requestsOf(h.db, person.id)
    const owed = Object.entries(partial?.steps ?? {}).filter(([, outcome]) => outcome.status === 'pending')
    expect(owed.map(([step]) => step).sort()).toEqual(['cacheUser', 'searchAddedByName', 'searchNotes', 'searchUser'])
    const receipt = Object.fromEntries(((partial?.receipt?.stores ?? []) as { store: string; action: string }[]).map((entry) => [entry.store, entry.action]))
    expect(receipt).toMatchObject({ 'cassandra.user_lookup': 'deleted', 'cassandra.user (profile)': 'tombstoned', 'search.user_alias': 'pending', 'redis.user': 'pending' })
    expect(await hasOutboxEvent(h.db, requestId)).toBe(true)

    // An instance that reaches them finishes the erasure.
    expect(await h.service.resumeRequest(requestId)).toMatchObject({ state: 'completed' })
  })
})
