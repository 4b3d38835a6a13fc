import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { batchRequestId } from '../../src/deletion/batch-job.js'
import { DependencyUnavailableError } from '../../src/deletion/errors.js'
import type { BatchItem, BatchJobStore } from '../../src/deletion/ports.js'
import { type BatchStatusResult, jobStatus, type Post, postTo, submitJob, waitForJob } from '../support/batch-jobs.js'
import { requestsOf } from '../support/deletion-requests.js'
import { withFaults } from '../support/faults.js'
import { LOCAL_DELETE_ANY_USER_CONSUMER, startHarness, type Harness, trustedConsumerApiBearer } from '../support/harness.js'
import { freePort } from '../support/spawned-server.js'
import { readUserState } from '../support/user-state.js'
import { deferred, waitUntil } from '../support/wait-until.js'

const ORG = `batch-org-${randomUUID()}`
const OTHER_ORG = `batch-other-${randomUUID()}`
const FAST = { pollIntervalMs: 100, sliceSize: 3, maxDeletionsPerSecond: 0 }
/** The ORG_ADMIN of ORG who submits the jobs of the later cases. */
const BATCH_ADMIN = randomUUID()

describe('batch deletion jobs on the real servers', () => {
  let h: Harness
  let post: Post
  const adminId = randomUUID()
  const adminToken = () => h.userToken({ sub: adminId, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })

  beforeAll(async () => {
    h = await startHarness({ batch: FAST })
    h.service.batches.start()
    post = postTo(h.service.app, h.apiBearer)
  })
  afterAll(async () => {
    await h.service.batches.stop()
    await h.close()
  })

  it('when an ORG_ADMIN submits ids of mixed standing, then each is authorised and checked as a single delete, reported with its code, and the job completes', async () => {
    const mine = await Promise.all([h.seed({ rootOrgId: ORG, organisations: [ORG] }), h.seed({ rootOrgId: ORG, organisations: [ORG] })])
    const elsewhere = await h.seed({ rootOrgId: OTHER_ORG, organisations: [OTHER_ORG] })
    const gone = await h.seed({ rootOrgId: ORG, organisations: [ORG], status: 2, isDeleted: true })
    const restricted = await h.seed({ rootOrgId: ORG, organisations: [ORG], roles: [{ role: 'PUBLIC' }, { role: 'ORG_ADMIN', organisationIds: [ORG] }] })
    const missing = randomUUID()

    const response = await post(
      '/api/user/v1/delete/batch',
      { request: { userIds: [...mine.map((u) => u.id), elsewhere.id, gone.id, restricted.id, missing, mine[0]!.id] } },
      { 'x-authenticated-user-token': adminToken() },
    )

    expect(response.status).toBe(202)
    const body = (await response.json()) as { id: string; responseCode: string; result: { response: string; jobId: string; total: number } }
    expect(body.id).toBe('api.user.delete.batch')
    expect(body.responseCode).toBe('OK')
    // The same id twice counts once.
    expect(body.result).toEqual({ response: 'SUCCESS', jobId: expect.stringMatching(/^[0-9a-f-]{36}$/), total: 6 })

    const status = await waitForJob(post, adminToken(), body.result.jobId, (s) => s.state === 'completed')
    expect(status).toMatchObject({ total: 6, done: 6, succeeded: 2, progress: 100, etaSeconds: 0 })
    expect(status.failed).toEqual({ FORBIDDEN: 1, UOS_USRDLT0008: 1, UOS_USRDLT0083: 1, UOS_USRDLT0013: 1 })
    const outcome = (id: string) => status.outcomes.find((o) => o.userId === id)
    expect(outcome(elsewhere.id)).toEqual({ userId: elsewhere.id, status: 'failed', err: 'FORBIDDEN' })
    expect(outcome(missing)).toEqual({ userId: missing, status: 'failed', err: 'UOS_USRDLT0013' })
    for (const user of mine) {
      expect(outcome(user.id)).toEqual({ userId: user.id, status: 'deleted' })
      expect((await readUserState(h.db, user.id)).user?.get('isdeleted')).toBe(true)
      // One deletion request per user, named after job and user.
      const requests = await requestsOf(h.db, user.id)
      expect(requests.map((r) => [r.id, r.state])).toEqual([[batchRequestId(body.result.jobId, user.id), 'completed']])
    }
    // Refused ids are untouched.
    expect((await readUserState(h.db, elsewhere.id)).user?.get('isdeleted')).not.toBe(true)
    expect((await readUserState(h.db, restricted.id)).user?.get('isdeleted')).not.toBe(true)
  })

  /** The jobs a person created, read from the store (a few rows in the tests' keyspace). */
  async function jobsCreatedBy(userId: string): Promise<string[]> {
    const result = await h.db.execute(`SELECT id FROM ${h.config.cassandra.keyspace}.user_deletion_batch WHERE createdby = ? ALLOW FILTERING`, [userId], { prepare: true })
    return result.rows.map((row) => row.get('id') as string)
  }

  it('when a submit is retried with its Idempotency-Key after its 202 was lost, then the 202 is replayed byte for byte with the same jobId, one job is recorded, and every user is deleted by it, none failing as already deleted', async () => {
    const submitter = randomUUID()
    const token = () => h.userToken({ sub: submitter, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
    const users = await Promise.all([h.seed({ rootOrgId: ORG, organisations: [ORG] }), h.seed({ rootOrgId: ORG, organisations: [ORG] })])
    const request = { request: { userIds: users.map((u) => u.id), mode: 'hard' } }
    const key = randomUUID()

    // The first answer is "lost": the client never reads it, and asks again with the same key.
    const lost = await post('/api/user/v1/delete/batch', request, { 'x-authenticated-user-token': token(), 'idempotency-key': key })
    const lostBody = await lost.text()
    const retry = await post('/api/user/v1/delete/batch', request, { 'x-authenticated-user-token': token(), 'idempotency-key': key, 'x-request-id': `retry-${key}` })
    // And once more on the gateway's path, with a fresh user token: the same operation, the same answer.
    const viaGateway = await post('/v1/user/delete/batch', request, { 'x-authenticated-user-token': token(), 'idempotency-key': key })

    expect(lost.status, lostBody).toBe(202)
    expect(lost.headers.get('idempotent-replayed')).toBeNull()
    for (const again of [retry, viaGateway]) {
      expect(again.status).toBe(202)
      expect(again.headers.get('idempotent-replayed')).toBe('true')
      expect(await again.text()).toBe(lostBody)
    }
    const { jobId } = (JSON.parse(lostBody) as { result: { jobId: string } }).result
    expect(await jobsCreatedBy(submitter)).toEqual([jobId])
    const status = await waitForJob(post, token(), jobId, (s) => s.state === 'completed')
    expect(status).toMatchObject({ total: 2, done: 2, succeeded: 2, failed: {} })
    for (const user of users) {
      expect((await requestsOf(h.db, user.id)).map((r) => [r.id, r.state])).toEqual([[batchRequestId(jobId, user.id), 'completed']])
    }
    // The status route is not keyed: the same key on a status read is answered afresh.
    const read = await post('/api/user/v1/delete/batch/status', { request: { jobId } }, { 'x-authenticated-user-token': token(), 'idempotency-key': key })
    expect(read.status).toBe(200)
    expect(read.headers.get('idempotent-replayed')).toBeNull()
  })

  it('when the same key comes with other ids, then 422 UOS_USRDLT0098 and no job is recorded; the key of one consumer is not another’s', async () => {
    const submitter = randomUUID()
    const token = () => h.userToken({ sub: submitter, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
    const [first, second, third] = await Promise.all([1, 2, 3].map(() => h.seed({ rootOrgId: ORG, organisations: [ORG] })))
    const key = randomUUID()
    const { jobId } = (
      (await (await post('/api/user/v1/delete/batch', { request: { userIds: [first?.id] } }, { 'x-authenticated-user-token': token(), 'idempotency-key': key })).json()) as {
        result: { jobId: string }
      }
    ).result

    const reused = await post('/api/user/v1/delete/batch', { request: { userIds: [second?.id] } }, { 'x-authenticated-user-token': token(), 'idempotency-key': key })
    // A key belongs to the API consumer: the trusted consumer's use of it is its own first use.
    const otherConsumer = await postTo(h.service.app, trustedConsumerApiBearer())('/api/user/v1/delete/batch', { request: { userIds: [third?.id] } }, { 'idempotency-key': key })

    expect(reused.status).toBe(422)
    expect(((await reused.json()) as { params: { err: string } }).params.err).toBe('UOS_USRDLT0098')
    expect(await jobsCreatedBy(submitter)).toEqual([jobId])
    expect(otherConsumer.status).toBe(202)
    expect(otherConsumer.headers.get('idempotent-replayed')).toBeNull()
    await waitForJob(post, token(), jobId, (s) => s.state === 'completed')
    expect(await requestsOf(h.db, second?.id ?? '')).toEqual([])
  })

  it('when a user without a role submits a batch, then only their own id is deleted and the others are FORBIDDEN', async () => {
    const self = await h.seed()
    const other = await h.seed()
    const token = () => h.userToken({ sub: self.id })
    const { jobId } = await submitJob(post, token(), [other.id, self.id])
    // The creator is deleted by the job and locked out: an ORG_ADMIN of no organisation of theirs cannot follow it either.
    const done = await waitUntilCompletedDirect(jobId)
    // FORBIDDEN, as a single delete of theirs: the creator's own account is deleted last, so never UOS_0070 (locked out).
    expect(done.outcomes.find((o) => o.userId === other.id)).toMatchObject({ status: 'failed', err: 'FORBIDDEN' })
    expect(done.outcomes.find((o) => o.userId === self.id)).toMatchObject({ status: 'deleted' })
    expect((await readUserState(h.db, other.id)).user?.get('isdeleted')).not.toBe(true)
  })

  /** Reads a job's outcomes from the store (for a job whose creator can no longer call). */
  async function waitUntilCompletedDirect(jobId: string): Promise<Pick<BatchStatusResult, 'outcomes'>> {
    for (let tries = 0; tries < 200; tries++) {
      const rows = (await h.db.execute(`SELECT state FROM ${h.config.cassandra.keyspace}.user_deletion_batch WHERE id = ?`, [jobId], { prepare: true })).rows
      if (rows[0]?.get('state') === 'completed') {
        const items = await h.db.execute(`SELECT userid, status, err FROM ${h.config.cassandra.keyspace}.user_deletion_batch_item WHERE jobid = ?`, [jobId], { prepare: true })
        return {
          outcomes: items.rows.map((r) => ({
            userId: r.get('userid') as string,
            status: r.get('status') as BatchStatusResult['outcomes'][number]['status'],
            ...(r.get('err') && { err: r.get('err') as string }),
          })),
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(`job ${jobId} did not complete`)
  }

  it('when someone else asks for the status, then only the creator and an ORG_ADMIN of their organisation are answered', async () => {
    const user = await h.seed({ rootOrgId: ORG, organisations: [ORG] })
    const { jobId } = await submitJob(post, adminToken(), [user.id])
    const ask = (token: string, request: Record<string, unknown> = { jobId }) => post('/api/user/v1/delete/batch/status', { request }, { 'x-authenticated-user-token': token })

    const colleague = await ask(h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }))
    const outsider = await ask(h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: OTHER_ORG }] }] }))
    const unknown = await ask(adminToken(), { jobId: randomUUID() })
    const malformed = await ask(adminToken(), { jobId: 'not-a-job' })
    const badPage = await ask(adminToken(), { jobId, limit: 0 })
    // Past the most users a job holds: refused as a page, not sent to Cassandra (whose LIMIT is a 32-bit int).
    const pastEveryJob = await ask(adminToken(), { jobId, offset: 2_147_483_647 })

    expect(colleague.status).toBe(200)
    expect(((await colleague.json()) as { id: string }).id).toBe('api.user.delete.batch.status')
    expect(outsider.status).toBe(403)
    expect(await outsider.text()).toBe('You do not have permission to perform this operation')
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as { params: { err: string } }).params.err).toBe('UOS_USRDLT0101')
    expect(malformed.status).toBe(400)
    expect(((await malformed.json()) as { params: { err: string } }).params.err).toBe('UOS_USRDLT0102')
    expect(((await badPage.json()) as { params: { err: string } }).params.err).toBe('UOS_USRDLT0103')
    expect(pastEveryJob.status).toBe(400)
    expect(((await pastEveryJob.json()) as { params: { err: string } }).params.err).toBe('UOS_USRDLT0103')
    await waitForJob(post, adminToken(), jobId, (s) => s.state === 'completed')
    // Paged outcomes.
    const page = await jobStatus(post, adminToken(), jobId, { offset: 1, limit: 5 })
    expect(page.outcomes).toEqual([])
  })

  it('when a consumer trusted with deleteAnyUser submits with its API bearer alone, then users of any organisation are deleted, as asked by the consumer, which alone follows the job', async () => {
    const users = await Promise.all([h.seed({ rootOrgId: ORG, organisations: [ORG] }), h.seed({ rootOrgId: OTHER_ORG, organisations: [OTHER_ORG] }), h.seed()])
    const trusted = postTo(h.service.app, trustedConsumerApiBearer())

    const { jobId, total } = await submitJob(
      trusted,
      undefined,
      users.map((u) => u.id),
    )

    expect(total).toBe(3)
    const status = await waitForJob(trusted, undefined, jobId, (s) => s.state === 'completed')
    expect(status).toMatchObject({ total: 3, done: 3, succeeded: 3, failed: {} })
    for (const user of users) {
      expect((await readUserState(h.db, user.id)).user?.get('status')).toBe(2)
      const [request] = await requestsOf(h.db, user.id, h.config.cassandra.keyspace)
      expect(request).toMatchObject({ id: batchRequestId(jobId, user.id), requestedBy: `consumer:${LOCAL_DELETE_ANY_USER_CONSUMER.key}`, state: 'completed' })
    }
    // A person of the organisations involved is not its creator: the job is the consumer's.
    const colleague = await post(
      '/api/user/v1/delete/batch/status',
      { request: { jobId } },
      { 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) },
    )
    expect(colleague.status).toBe(403)
  })

  it('when a consumer not trusted with deleteAnyUser sends no user token, then it gets the 401 of a Sunbird call without one, and nothing is recorded', async () => {
    const user = await h.seed({ rootOrgId: ORG, organisations: [ORG] })
    const response = await post('/api/user/v1/delete/batch', { request: { userIds: [user.id] } }, {})
    expect(response.status).toBe(401)
    expect(((await response.json()) as { params: { err: string } }).params.err).toBe('UOS_0070')
    expect(await requestsOf(h.db, user.id, h.config.cassandra.keyspace)).toEqual([])
  })

  it('when the list of ids is empty, too long, or holds an invalid id, then nothing is recorded and the answer says why', async () => {
    const submit = (request: unknown) => post('/api/user/v1/delete/batch', { request }, { 'x-authenticated-user-token': adminToken() })
    const cases: [unknown, number, string][] = [
      [{ userIds: [] }, 400, 'UOS_USRDLT0100'],
      [{ userIds: Array.from({ length: 1001 }, () => randomUUID()) }, 400, 'UOS_USRDLT0100'],
      [{}, 400, 'UOS_USRDLT0100'],
      [{ userIds: 'x' }, 400, 'UOS_USRDLT0100'],
      [{ userIds: [randomUUID(), 'not-an-id'] }, 400, 'UOS_USRDLT0009'],
      [{ userIds: [randomUUID()], mode: 'gentle' }, 400, 'UOS_USRDLT0090'],
    ]
    for (const [request, status, err] of cases) {
      const response = await submit(request)
      expect(response.status, JSON.stringify(request).slice(0, 60)).toBe(status)
      expect(((await response.json()) as { params: { err: string } }).params.err).toBe(err)
    }
    const unauthenticated = await h.service.app.request('/api/user/v1/delete/batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"request":{"userIds":[]}}' })
    expect(unauthenticated.status).toBe(401)
  })
})

describe('a batch job paced across two instances', () => {
  let a: Harness
  let b: Harness
  const adminId = randomUUID()

  beforeAll(async () => {
    const settings = { batch: { pollIntervalMs: 100, sliceSize: 2, maxDeletionsPerSecond: 2 } }
    ;[a, b] = await Promise.all([startHarness(settings), startHarness(settings)])
    a.service.batches.start()
    b.service.batches.start()
  })
  afterAll(async () => {
    await Promise.all([a.service.batches.stop(), b.service.batches.stop()])
    await Promise.all([a.close(), b.close()])
  })

  it('when BATCH_MAX_DELETIONS_PER_SECOND is 2, then the job never runs faster than 2 deletions a second with two instances working open jobs', async () => {
    const users = await Promise.all(Array.from({ length: 8 }, () => a.seed({ rootOrgId: ORG, organisations: [ORG] })))
    const token = () => a.userToken({ sub: adminId, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
    const post = postTo(a.service.app, a.apiBearer)
    const started = Date.now()
    const { jobId } = await submitJob(
      post,
      token(),
      users.map((u) => u.id),
    )

    const status = await waitForJob(post, token(), jobId, (s) => s.state === 'completed', 120_000)
    const elapsed = Date.now() - started

    expect(status.succeeded).toBe(8)
    // 8 tokens at 2 per second need 4 distinct seconds: more than 2 s from the first to the last
    // (a job submitted late in one second may spend that second's budget at once and the fourth's at its start).
    expect(elapsed).toBeGreaterThan(2000)
    const items = await a.db.execute(`SELECT at FROM ${a.config.cassandra.keyspace}.user_deletion_batch_item WHERE jobid = ?`, [jobId], { prepare: true })
    const ends = items.rows.map((row) => (row.get('at') as Date).getTime()).sort((x, y) => x - y)
    // No token is taken before the second the job was submitted in, and each second gives two: the
    // k-th deletion (from 1) started no earlier than ceil(k / 2) - 1 seconds after that second's
    // start, and ended later still. A burst past the pace ends too early; a deletion slowed by a
    // loaded machine only ends later, so this holds however long deletions take.
    const firstSecond = Math.floor(started / 1000) * 1000
    for (const [index, end] of ends.entries()) expect(end, `deletion ${index + 1}`).toBeGreaterThanOrEqual(firstSecond + (Math.ceil((index + 1) / 2) - 1) * 1000)
  })

  it('when the job is cancelled on one instance while both work it, then no deletion begins on either once they see it: each user is either deleted by their one request or untouched, and the job reads cancelled', async () => {
    const users = await Promise.all(Array.from({ length: 24 }, () => a.seed({ rootOrgId: ORG, organisations: [ORG] })))
    const token = () => a.userToken({ sub: adminId, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
    // Instance b, where the cancel is asked, verifies tokens of its own realm keys.
    const onB = (sub: string, org: string) => b.userToken({ sub, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: org }] }] })
    const postA = postTo(a.service.app, a.apiBearer)
    const postB = postTo(b.service.app, b.apiBearer)
    const { jobId } = await submitJob(
      postA,
      token(),
      users.map((u) => u.id),
    )
    await waitForJob(postA, token(), jobId, (s) => s.succeeded >= 2)

    const refused = await postB('/api/user/v1/delete/batch/cancel', { request: { jobId } }, { 'x-authenticated-user-token': onB(randomUUID(), OTHER_ORG) })
    const response = await postB('/api/user/v1/delete/batch/cancel', { request: { jobId } }, { 'x-authenticated-user-token': onB(adminId, ORG) })
    const cancelledAt = Date.now()

    expect(refused.status).toBe(403)
    expect(response.status).toBe(200)
    expect(((await response.json()) as { id: string; result: unknown }).result).toEqual({ response: 'SUCCESS', jobId, state: 'cancelled', alreadyCancelled: false, cancelledAt: expect.any(String) })
    const status = await waitForJob(postA, token(), jobId, (s) => s.done === s.total)
    expect(status.state).toBe('cancelled')
    expect(status.failed).toEqual({})
    expect(status.succeeded + (status.cancelled ?? 0)).toBe(24)
    expect(status.cancelled).toBeGreaterThanOrEqual(1)
    // At 2 a second, the 22 users left would take 11 s: the instances see the cancel within about a
    // second, so the last deletion (one begun before, finishing) ends well within 5 s of it.
    const items = await a.db.execute(`SELECT status, at FROM ${a.config.cassandra.keyspace}.user_deletion_batch_item WHERE jobid = ?`, [jobId], { prepare: true })
    const deletedAt = items.rows.filter((row) => row.get('status') === 'deleted').map((row) => (row.get('at') as Date).getTime())
    expect(Math.max(...deletedAt)).toBeLessThan(cancelledAt + 5000)
    // The rate is of the deletions over the job's run to the last of them: the users the cancel spared, settled at once, are not counted in it, nor does their settle stretch it.
    const job = await a.db.execute(`SELECT createdat FROM ${a.config.cassandra.keyspace}.user_deletion_batch WHERE id = ?`, [jobId], { prepare: true })
    const runSeconds = Math.max(1, (Math.max(...deletedAt) - (job.first().get('createdat') as Date).getTime()) / 1000)
    expect(status.ratePerSecond).toBeCloseTo(status.succeeded / runSeconds, 1)
    // Every user has an outcome to check below, so none goes unchecked.
    expect(status.outcomes.map((outcome) => outcome.userId).sort()).toEqual(users.map((user) => user.id).sort())
    for (const outcome of status.outcomes) {
      const requests = await requestsOf(a.db, outcome.userId, a.config.cassandra.keyspace)
      const row = (await readUserState(a.db, outcome.userId)).user
      if (outcome.status === 'deleted') {
        expect(requests.map((r) => [r.id, r.state])).toEqual([[batchRequestId(jobId, outcome.userId), 'completed']])
        expect(row?.get('isdeleted')).toBe(true)
      } else {
        expect(outcome.status).toBe('cancelled')
        expect(requests).toEqual([])
        expect(row?.get('isdeleted')).not.toBe(true)
      }
    }
    // Settled for good: the runners complete it and nothing changes after.
    const completed = await waitUntil('job unlisted', async () =>
      (await a.db.execute(`SELECT id FROM ${a.config.cassandra.keyspace}.user_deletion_batch_open WHERE id = ?`, [jobId], { prepare: true })).rows.length === 0 ? true : undefined,
    )
    expect(completed).toBe(true)
    expect(await jobStatus(postA, token(), jobId, { limit: 1000 })).toEqual(status)
  })

  it('when two operators cancel a job at once on two instances, then exactly one answer says it recorded the cancel, and both name when the cancel that stands was recorded; a cancel after reads it recorded already', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => a.seed({ rootOrgId: ORG, organisations: [ORG] })))
    const onA = () => a.userToken({ sub: adminId, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
    const colleagueOnB = () => b.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
    const postA = postTo(a.service.app, a.apiBearer)
    const postB = postTo(b.service.app, b.apiBearer)
    const { jobId } = await submitJob(
      postA,
      onA(),
      users.map((u) => u.id),
    )
    type Cancelled = { result: { state: string; alreadyCancelled: boolean; cancelledAt: string } }
    const cancel = async (post: Post, token: string) => {
      const response = await post('/api/user/v1/delete/batch/cancel', { request: { jobId } }, { 'x-authenticated-user-token': token })
      expect(response.status).toBe(200)
      return ((await response.json()) as Cancelled).result
    }

    const answers = await Promise.all([cancel(postA, onA()), cancel(postB, colleagueOnB())])

    expect(answers.map((answer) => answer.state)).toEqual(['cancelled', 'cancelled'])
    expect(answers.filter((answer) => !answer.alreadyCancelled)).toHaveLength(1)
    const recorded = await a.db.execute(`SELECT cancelledat FROM ${a.config.cassandra.keyspace}.user_deletion_batch WHERE id = ?`, [jobId], { prepare: true })
    const cancelledAt = (recorded.first().get('cancelledat') as Date).toISOString()
    expect(answers.map((answer) => answer.cancelledAt)).toEqual([cancelledAt, cancelledAt])
    expect(await cancel(postB, colleagueOnB())).toMatchObject({ state: 'cancelled', alreadyCancelled: true, cancelledAt })
  })
})

/** Seeds `count` users of ORG, has an ORG_ADMIN of it submit them as one job, and waits for the job to complete. */
async function completedJob(h: Harness, count: number): Promise<{ users: { id: string }[]; jobId: string; status: BatchStatusResult }> {
  const users = await Promise.all(Array.from({ length: count }, () => h.seed({ rootOrgId: ORG, organisations: [ORG] })))
  const token = () => h.userToken({ sub: BATCH_ADMIN, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
  const post = postTo(h.service.app, h.apiBearer)
  const { jobId } = await submitJob(
    post,
    token(),
    users.map((u) => u.id),
  )
  return { users, jobId, status: await waitForJob(post, token(), jobId, (s) => s.state === 'completed') }
}

describe('a batch job cancelled while a deletion of it is still reading, before its request is created', () => {
  let h: Harness
  const stalledUser = randomUUID()
  // The deletion's read of the user's roles waits until the test lets it go: a Cassandra slow to answer.
  const reached = deferred()
  const released = deferred()

  beforeAll(async () => {
    h = await startHarness(
      { batch: FAST },
      {
        users: (store) =>
          withFaults(store, (method, args) => {
            if (method !== 'findRoles' || args[0] !== stalledUser) return undefined
            reached.resolve()
            return { waitFor: released.promise }
          }),
      },
    )
    h.service.batches.start()
  })
  afterAll(async () => {
    released.resolve()
    await h.service.batches.stop()
    await h.close()
  })

  it('when the cancel is answered while the deletion reads, then that deletion never begins: the user keeps their account, no request is opened, and they read cancelled', async () => {
    await h.seed({ id: stalledUser, rootOrgId: ORG, organisations: [ORG] })
    const token = () => h.userToken({ sub: BATCH_ADMIN, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
    const post = postTo(h.service.app, h.apiBearer)
    const { jobId } = await submitJob(post, token(), [stalledUser])
    await reached.promise

    const response = await post('/api/user/v1/delete/batch/cancel', { request: { jobId } }, { 'x-authenticated-user-token': token() })
    expect(response.status).toBe(200)
    released.resolve()

    const status = await waitForJob(post, token(), jobId, (s) => s.done === s.total)
    expect(status).toMatchObject({ state: 'cancelled', total: 1, done: 1, succeeded: 0, cancelled: 1, failed: {} })
    expect(status.outcomes).toEqual([{ userId: stalledUser, status: 'cancelled' }])
    expect(await requestsOf(h.db, stalledUser, h.config.cassandra.keyspace)).toEqual([])
    expect((await readUserState(h.db, stalledUser)).user?.get('isdeleted')).not.toBe(true)
  })
})

describe('a batch job while the search engine and Redis are unreachable', () => {
  let h: Harness

  beforeAll(async () => {
    // Stores a deletion erases in after Cassandra and Keycloak: unreachable, they leave its request partial.
    const [searchPort, redisPort] = [await freePort(), await freePort()]
    h = await startHarness({ batch: FAST, search: { hosts: ['127.0.0.1'], port: searchPort, timeoutMs: 500 }, redis: { port: redisPort, timeoutMs: 500 }, deletion: { leaseMs: 1000 } })
    h.service.batches.start()
  })
  afterAll(async () => {
    await h.service.batches.stop()
    await h.close()
  })

  it('when its deletions leave their requests partial, then the job completes with its users deleted and counted owed, each naming the request to follow; the count stays as settled once a sweep finishes them', async () => {
    const users = await Promise.all([h.seed({ rootOrgId: ORG, organisations: [ORG] }), h.seed({ rootOrgId: ORG, organisations: [ORG] })])
    const token = () => h.userToken({ sub: BATCH_ADMIN, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
    const post = postTo(h.service.app, h.apiBearer)
    const { jobId } = await submitJob(
      post,
      token(),
      users.map((u) => u.id),
      { mode: 'hard' },
    )

    const status = await waitForJob(post, token(), jobId, (s) => s.state === 'completed')

    // Deleted and locked out, so succeeded; but not finished, and said so.
    expect(status).toMatchObject({ total: 2, done: 2, succeeded: 2, owed: 2, failed: {}, progress: 100 })
    expect([...status.outcomes].sort((a, b) => a.userId.localeCompare(b.userId))).toEqual(
      users.map((u) => ({ userId: u.id, status: 'deleted', owed: true, requestId: batchRequestId(jobId, u.id) })).sort((a, b) => a.userId.localeCompare(b.userId)),
    )
    for (const user of users) {
      const [request] = await requestsOf(h.db, user.id)
      expect(request?.id).toBe(batchRequestId(jobId, user.id))
      expect(request?.state).toBe('partial')
      expect(request?.steps.searchUser).toMatchObject({ status: 'pending' })
      expect(request?.steps.cacheUser).toMatchObject({ status: 'pending' })
      expect((await readUserState(h.db, user.id)).user?.get('isdeleted')).toBe(true)
    }

    // The stores back, a sweep finishes the requests: the job's count is what it was when it settled them (docs/integrating.md).
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const sweeper = await startHarness({ deletion: { leaseMs: 1000 } })
    try {
      await sweeper.service.resumeOpen()
    } finally {
      await sweeper.close()
    }
    for (const user of users) expect((await requestsOf(h.db, user.id)).map((r) => r.state)).toEqual(['completed'])
    expect(await jobStatus(post, token(), jobId)).toMatchObject({ state: 'completed', succeeded: 2, owed: 2 })
  })
})

describe('a batch job holding a manager and the user they manage', () => {
  let h: Harness

  beforeAll(async () => {
    // One slice at a time, users in id order: the manager is deleted before the managed user's turn.
    h = await startHarness({ batch: { ...FAST, concurrency: 1 } })
    h.service.batches.start()
  })
  afterAll(async () => {
    await h.service.batches.stop()
    await h.close()
  })

  it.each([
    ["Sunbird's deletion", {}],
    ['a hard deletion', { mode: 'hard' }],
  ])(
    "when the manager's deletion (%s) erases the managed user before their own turn, then both read deleted, none failed as already deleted, and the managed user is erased once, by the manager's request",
    async (_plan, extra) => {
      const manager = await h.seed({ id: `0${randomUUID().slice(1)}`, rootOrgId: ORG, organisations: [ORG] })
      const managed = await h.seed({ id: `f${randomUUID().slice(1)}`, managedBy: manager.id, rootOrgId: ORG, organisations: [ORG] })
      const token = () => h.userToken({ sub: BATCH_ADMIN, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
      const post = postTo(h.service.app, h.apiBearer)

      const { jobId } = await submitJob(post, token(), [manager.id, managed.id], extra)
      const status = await waitForJob(post, token(), jobId, (s) => s.state === 'completed')

      expect(status).toMatchObject({ total: 2, done: 2, succeeded: 2, failed: {} })
      expect((await readUserState(h.db, managed.id)).user?.get('isdeleted')).toBe(true)
      // Erased by the manager's request: the managed user's own turn, if it opened a request, found them deleted and ended it.
      for (const request of await requestsOf(h.db, managed.id, h.config.cassandra.keyspace)) expect(request.state).toBe('failed')
    },
  )
})

describe('a batch job whose outcome could not be recorded', () => {
  let h: Harness
  let failedRecords = 0

  beforeAll(async () => {
    h = await startHarness(
      { batch: FAST },
      {
        // The real store, whose first write of a deleted user's outcome fails as Cassandra timing out would.
        batchJobs: (store) =>
          Object.assign(Object.create(store) as BatchJobStore, {
            recordItem: async (jobId: string, item: BatchItem, heldUntil: Date) => {
              if (item.status === 'deleted' && failedRecords === 0) {
                failedRecords++
                throw new DependencyUnavailableError('cassandra')
              }
              return store.recordItem(jobId, item, heldUntil)
            },
          }),
      },
    )
    h.service.batches.start()
  })
  afterAll(async () => {
    await h.service.batches.stop()
    await h.close()
  })

  it('when the write of a deleted user’s outcome fails, then the slice is not finished with that user pending: a later try records them deleted, under their one request', async () => {
    const { users, jobId, status } = await completedJob(h, 3)

    expect(failedRecords).toBe(1)
    expect(status).toMatchObject({ total: 3, done: 3, succeeded: 3, failed: {} })
    expect(status.outcomes.map((o) => o.status)).toEqual(['deleted', 'deleted', 'deleted'])
    for (const user of users) expect((await requestsOf(h.db, user.id)).map((r) => [r.id, r.state])).toEqual([[batchRequestId(jobId, user.id), 'completed']])
  })
})

describe('what batch work reads from the cluster', () => {
  let h: Harness
  let slicesWorked = 0
  const readsWhileFull: string[] = []
  /** The slices whose users were read one by one (a whole slice at a time). */
  const slicesReadWhole: number[] = []

  beforeAll(async () => {
    h = await startHarness(
      { batch: { ...FAST, concurrency: 1 } },
      {
        // The real store, watched: does a full instance still scan for work? (A pass reads a job's
        // slices only after listing the open jobs; the status route reads slices too.)
        batchJobs: (store) => {
          const watched = Object.create(store) as BatchJobStore
          return Object.assign(watched, {
            listOpen: () => {
              if (slicesWorked >= 1) readsWhileFull.push('listOpen')
              return store.listOpen()
            },
            acquireSlice: async (...args: Parameters<BatchJobStore['acquireSlice']>) => {
              const taken = await store.acquireSlice(...args)
              if (taken) slicesWorked++
              return taken
            },
            finishSlice: async (...args: Parameters<BatchJobStore['finishSlice']>) => {
              slicesWorked--
              return store.finishSlice(...args)
            },
            releaseSlice: async (...args: Parameters<BatchJobStore['releaseSlice']>) => {
              slicesWorked--
              return store.releaseSlice(...args)
            },
            items: (jobId: string, slice: number) => {
              slicesReadWhole.push(slice)
              return store.items(jobId, slice)
            },
          })
        },
      },
    )
    h.service.batches.start()
  })
  afterAll(async () => {
    await h.service.batches.stop()
    await h.close()
  })

  it('when its slices are all taken, then its passes do not scan for open jobs until one is done', async () => {
    const { status } = await completedJob(h, 6)

    expect(status).toMatchObject({ total: 6, succeeded: 6 })
    expect(readsWhileFull).toEqual([])
  })
  it("when a job is done, then its status answers from the slices' counts, reading no user but the page asked for; a slice done without counts is read whole", async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => h.seed({ rootOrgId: ORG, organisations: [ORG] })))
    const missing = randomUUID()
    const token = () => h.userToken({ sub: BATCH_ADMIN, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
    const post = postTo(h.service.app, h.apiBearer)
    const { jobId } = await submitJob(post, token(), [...users.map((u) => u.id), missing])
    await waitForJob(post, token(), jobId, (s) => s.state === 'completed')
    const everyOutcome = (await jobStatus(post, token(), jobId, { limit: 100 })).outcomes

    slicesReadWhole.length = 0
    const page = await jobStatus(post, token(), jobId, { offset: 2, limit: 3 })

    expect(page).toMatchObject({ state: 'completed', total: 7, done: 7, succeeded: 6, failed: { UOS_USRDLT0013: 1 }, progress: 100, etaSeconds: 0 })
    expect(page.outcomes).toEqual(everyOutcome.slice(2, 5))
    expect(slicesReadWhole).toEqual([])

    // As a slice done before migration 11 reads: done, no counts.
    await h.db.execute(`UPDATE ${h.config.cassandra.keyspace}.user_deletion_batch_slice SET succeeded = null, failed = null WHERE jobid = ? AND slice = 0`, [jobId], { prepare: true })
    const again = await jobStatus(post, token(), jobId, { offset: 2, limit: 3 })

    expect(again).toEqual({ ...page, ratePerSecond: again.ratePerSecond })
    expect(slicesReadWhole).toEqual([0])
  })
})

describe('a batch submit that failed part way, retried with its Idempotency-Key', () => {
  let h: Harness
  let post: Post
  /** How the next open of a job fails: after its writes landed (the listing's answer lost), or before any (a crash after the job was recorded). */
  let nextOpen: 'fails after landing' | 'fails before writing' | undefined

  beforeAll(async () => {
    h = await startHarness(
      { batch: FAST },
      {
        // The real store, whose open fails once when a case asks, as a Cassandra timeout would.
        batchJobs: (store) =>
          withFaults(store, (method) => {
            if (method !== 'open' || nextOpen === undefined) return undefined
            const afterRealCall = nextOpen === 'fails after landing'
            nextOpen = undefined
            return { throw: () => new DependencyUnavailableError('cassandra'), afterRealCall }
          }),
      },
    )
    h.service.batches.start()
    post = postTo(h.service.app, h.apiBearer)
  })
  afterAll(async () => {
    await h.service.batches.stop()
    await h.close()
  })

  const ks = () => h.config.cassandra.keyspace
  /** The jobs a person created, read from the store (a few rows in the tests' keyspace). */
  async function jobsCreatedBy(userId: string): Promise<string[]> {
    return (await h.db.execute(`SELECT id FROM ${ks()}.user_deletion_batch WHERE createdby = ? ALLOW FILTERING`, [userId], { prepare: true })).rows.map((row) => row.get('id') as string)
  }
  const listedOpen = async (jobId: string) => (await h.db.execute(`SELECT id FROM ${ks()}.user_deletion_batch_open WHERE id = ?`, [jobId], { prepare: true })).rows.length > 0
  const itemCount = async (jobId: string) => (await h.db.execute(`SELECT userid FROM ${ks()}.user_deletion_batch_item WHERE jobid = ?`, [jobId], { prepare: true })).rows.length

  /** A person of ORG with fresh users of it to submit, and a key of their own. */
  async function submitter(count: number) {
    const id = randomUUID()
    const token = () => h.userToken({ sub: id, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
    const users = await Promise.all(Array.from({ length: count }, () => h.seed({ rootOrgId: ORG, organisations: [ORG] })))
    const key = randomUUID()
    const submit = () => post('/api/user/v1/delete/batch', { request: { userIds: users.map((u) => u.id), mode: 'hard' } }, { 'x-authenticated-user-token': token(), 'idempotency-key': key })
    return { id, token, users, submit }
  }

  async function expectEachDeletedOnceBy(jobId: string, users: readonly { id: string }[]): Promise<void> {
    for (const user of users) {
      expect((await requestsOf(h.db, user.id)).map((r) => [r.id, r.state])).toEqual([[batchRequestId(jobId, user.id), 'completed']])
      expect((await readUserState(h.db, user.id)).user?.get('isdeleted')).toBe(true)
    }
  }

  it('when the open listing timed out after landing (503), then the retry answers 202 with that job, no second job is recorded, and the job deletes every user once', async () => {
    const s = await submitter(3)
    nextOpen = 'fails after landing'

    const failed = await s.submit()
    const retry = await s.submit()

    expect(failed.status, await failed.text()).toBe(503)
    expect(retry.status).toBe(202)
    expect(retry.headers.get('idempotent-replayed')).toBeNull()
    const { result } = (await retry.json()) as { result: { jobId: string; total: number } }
    expect(result.total).toBe(3)
    expect(await jobsCreatedBy(s.id)).toEqual([result.jobId])
    expect(await itemCount(result.jobId)).toBe(3)
    const status = await waitForJob(post, s.token(), result.jobId, (st) => st.state === 'completed')
    expect(status).toMatchObject({ total: 3, done: 3, succeeded: 3, failed: {} })
    await expectEachDeletedOnceBy(result.jobId, s.users)
    // The retry's 202 is the key's answer from now on.
    const again = await s.submit()
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(((await again.json()) as { result: { jobId: string } }).result.jobId).toBe(result.jobId)
  })

  it('when the submit stopped after recording its job, before its users (503), then no runner meets the job; the retry writes its users, lists it, and it completes', async () => {
    const s = await submitter(2)
    nextOpen = 'fails before writing'

    const failed = await s.submit()

    expect(failed.status).toBe(503)
    const [jobId, ...others] = await jobsCreatedBy(s.id)
    expect(jobId).toBeDefined()
    expect(others).toEqual([])
    expect(await listedOpen(jobId as string)).toBe(false)
    expect(await itemCount(jobId as string)).toBe(0)

    const retry = await s.submit()

    expect(retry.status).toBe(202)
    expect(((await retry.json()) as { result: { jobId: string; total: number } }).result).toEqual({ response: 'SUCCESS', jobId, total: 2 })
    expect(await jobsCreatedBy(s.id)).toEqual([jobId])
    const status = await waitForJob(post, s.token(), jobId as string, (st) => st.state === 'completed')
    expect(status).toMatchObject({ total: 2, done: 2, succeeded: 2, failed: {} })
    await expectEachDeletedOnceBy(jobId as string, s.users)
  })

  it('when the job its listing landed for was worked to the end before the retry, then the retry answers 202 with it and resets nothing: it stays completed and unlisted, its users deleted once', async () => {
    const s = await submitter(2)
    nextOpen = 'fails after landing'
    expect((await s.submit()).status).toBe(503)
    const [jobId] = await jobsCreatedBy(s.id)
    const done = await waitForJob(post, s.token(), jobId as string, (st) => st.state === 'completed')

    const retry = await s.submit()

    expect(retry.status).toBe(202)
    expect(((await retry.json()) as { result: { jobId: string; total: number } }).result).toEqual({ response: 'SUCCESS', jobId, total: 2 })
    expect(await jobsCreatedBy(s.id)).toEqual([jobId])
    expect(await listedOpen(jobId as string)).toBe(false)
    const after = await jobStatus(post, s.token(), jobId as string, { limit: 10 })
    expect(after).toMatchObject({ state: 'completed', total: 2, done: 2, succeeded: 2, failed: {} })
    expect(after.outcomes).toEqual(done.outcomes)
    expect(after.outcomes.map((o) => o.status)).toEqual(['deleted', 'deleted'])
    await expectEachDeletedOnceBy(jobId as string, s.users)
  })
})
