import { randomUUID } from 'node:crypto'
import { type Client, errors } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { batchRequestId } from '../../src/deletion/batch-job.js'
import { CassandraBatchJobs } from '../../src/store/cassandra-batch-jobs.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { jobStatus, type Post, postTo } from '../support/batch-jobs.js'
import { requestsOf } from '../support/deletion-requests.js'
import { withFaults } from '../support/faults.js'
import { startHarness, type Harness, testConfig } from '../support/harness.js'
import { readUserState } from '../support/user-state.js'
import { waitUntil } from '../support/wait-until.js'

const ORG = `batch-unkeyed-org-${randomUUID()}`

/**
 * A batch submit without an Idempotency-Key whose writes fail part way, on the real Cassandra: the
 * client is answered 503 and never learns the job's id, so the submit must leave no job that the
 * status route would show running for ever, or that nobody works. The batch store runs over a driver
 * session whose chosen statements time out, before being sent or after they landed.
 */
describe('a batch submit without an Idempotency-Key that failed part way', () => {
  let h: Harness
  let post: Post
  let faulty: Client
  /** How the next write of the chosen kind fails: refused before it is sent, or its answer lost after it landed. */
  let next: { kind: 'logged batch' | 'unlogged batch'; how: 'refused' | 'lost after landing' } | undefined

  beforeAll(async () => {
    faulty = withFaults(createCassandraClient(testConfig().cassandra), (method, args) => {
      if (method !== 'batch' || next === undefined) return undefined
      const options = (args[1] ?? {}) as { logged?: boolean }
      if ((options.logged === false ? 'unlogged batch' : 'logged batch') !== next.kind) return undefined
      const afterRealCall = next.how === 'lost after landing'
      next = undefined
      return { throw: () => new errors.OperationTimedOutError('timed out'), afterRealCall }
    })
    await faulty.connect()
    // Polls by hand only (pass()), so a case knows when the runners have looked.
    h = await startHarness({ batch: { pollIntervalMs: 0, sliceSize: 2, maxDeletionsPerSecond: 0 } }, { batchJobs: () => new CassandraBatchJobs(faulty, testConfig().cassandra.keyspace) })
    post = postTo(h.service.app, h.apiBearer)
  })
  afterAll(async () => {
    await h?.service.batches.stop()
    await h?.close()
    await faulty?.shutdown()
  })

  const ks = () => h.config.cassandra.keyspace
  async function jobsCreatedBy(userId: string): Promise<string[]> {
    return (await h.db.execute(`SELECT id FROM ${ks()}.user_deletion_batch WHERE createdby = ? ALLOW FILTERING`, [userId], { prepare: true })).rows.map((row) => row.get('id') as string)
  }
  const listedOpen = async (jobId: string) => (await h.db.execute(`SELECT id FROM ${ks()}.user_deletion_batch_open WHERE id = ?`, [jobId], { prepare: true })).rows.length > 0

  /** An ORG_ADMIN of ORG with fresh users of it, submitting them without a key. */
  async function submitter(count: number) {
    const id = randomUUID()
    const token = () => h.userToken({ sub: id, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
    const users = await Promise.all(Array.from({ length: count }, () => h.seed({ rootOrgId: ORG, organisations: [ORG] })))
    const submit = () => post('/api/user/v1/delete/batch', { request: { userIds: users.map((u) => u.id), mode: 'hard' } }, { 'x-authenticated-user-token': token() })
    return { id, token, users, submit }
  }

  /** Runner passes until the job's status reads completed. */
  const workedToTheEnd = (token: string, jobId: string) =>
    waitUntil(
      `job ${jobId} completed`,
      async () => {
        await h.service.batches.pass()
        const status = await jobStatus(post, token, jobId, { limit: 100 })
        return status.state === 'completed' ? status : undefined
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    )

  async function expectUntouched(users: readonly { id: string }[]): Promise<void> {
    for (const user of users) {
      expect(await requestsOf(h.db, user.id)).toEqual([])
      expect((await readUserState(h.db, user.id)).user?.get('isdeleted')).not.toBe(true)
    }
  }

  it('when the job and its listing were refused after its users were written, then 503, no job is recorded, none is listed, and a runner pass deletes nobody', async () => {
    const s = await submitter(3)
    next = { kind: 'logged batch', how: 'refused' }

    const failed = await s.submit()

    expect(failed.status, await failed.text()).toBe(503)
    expect(next).toBeUndefined()
    expect(await jobsCreatedBy(s.id)).toEqual([])
    await h.service.batches.pass()
    await expectUntouched(s.users)
  })

  it('when writing its users timed out, then 503 and no job is recorded or listed', async () => {
    const s = await submitter(3)
    next = { kind: 'unlogged batch', how: 'refused' }

    const failed = await s.submit()

    expect(failed.status).toBe(503)
    expect(next).toBeUndefined()
    expect(await jobsCreatedBy(s.id)).toEqual([])
    await h.service.batches.pass()
    await expectUntouched(s.users)
  })

  it('when the job and its listing landed but their answer was lost, then 503, and the job is whole and listed: the runners work it to the end, each user deleted once', async () => {
    const s = await submitter(3)
    next = { kind: 'logged batch', how: 'lost after landing' }

    const failed = await s.submit()

    expect(failed.status).toBe(503)
    const [jobId, ...others] = await jobsCreatedBy(s.id)
    expect(others).toEqual([])
    expect(await listedOpen(jobId as string)).toBe(true)
    const status = await workedToTheEnd(s.token(), jobId as string)
    expect(status).toMatchObject({ total: 3, done: 3, succeeded: 3, failed: {} })
    for (const user of s.users) expect((await requestsOf(h.db, user.id)).map((r) => [r.id, r.state])).toEqual([[batchRequestId(jobId as string, user.id), 'completed']])
  })

  it('when a submit goes through, then its job is recorded, listed and worked to the end', async () => {
    const s = await submitter(2)

    const answer = await s.submit()

    expect(answer.status).toBe(202)
    const { jobId } = ((await answer.json()) as { result: { jobId: string } }).result
    expect(await jobsCreatedBy(s.id)).toEqual([jobId])
    await workedToTheEnd(s.token(), jobId)
    for (const user of s.users) expect((await readUserState(h.db, user.id)).user?.get('isdeleted')).toBe(true)
  })
})
