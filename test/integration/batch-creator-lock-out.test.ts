import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { batchRequestId } from '../../src/deletion/batch-job.js'
import { type BatchStatusResult, type Post, postTo, submitJob, waitForJob } from '../support/batch-jobs.js'
import { requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { readUserState } from '../support/user-state.js'

const ORG = `batch-lock-out-${randomUUID()}`
const USERS = 8
/** One deletion a second: the job is still running when its creator is locked out. */
const SLOW = { pollIntervalMs: 100, sliceSize: 3, maxDeletionsPerSecond: 1 }
/** What a single delete by a locked-out person answers (401), and so what the job reports for the users it left. */
const LOCKED_OUT = 'UOS_0070'

describe('a batch job whose creator is locked out mid-job, on the real servers', () => {
  let h: Harness
  let post: Post
  const orgAdminToken = (sub: string) => h.userToken({ sub, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })

  beforeAll(async () => {
    h = await startHarness({ batch: SLOW })
    h.service.batches.start()
    post = postTo(h.service.app, h.apiBearer)
  })
  afterAll(async () => {
    await h.service.batches.stop()
    await h.close()
  })

  /**
   * A user of ORG, ORG_ADMIN by their token, submits USERS users of ORG; once the first is deleted,
   * `lockOut` takes their standing away. A colleague ORG_ADMIN follows the job to its end (the
   * creator can no longer call).
   */
  async function jobLockedOutMidway(lockOut: (creatorId: string) => Promise<Response>) {
    const creator = await h.seed({ rootOrgId: ORG, organisations: [ORG] })
    const colleague = () => orgAdminToken(randomUUID())
    const users = await Promise.all(Array.from({ length: USERS }, () => h.seed({ rootOrgId: ORG, organisations: [ORG] })))
    const { jobId } = await submitJob(
      post,
      orgAdminToken(creator.id),
      users.map((u) => u.id),
    )
    await waitForJob(post, colleague(), jobId, (s) => s.succeeded >= 1)

    const answer = await lockOut(creator.id)
    const lockedOutBy = new Date()

    expect(answer.status, await answer.clone().text()).toBe(200)
    const status = await waitForJob(post, colleague(), jobId, (s) => s.state === 'completed', 90_000)
    return { creatorId: creator.id, userIds: users.map((u) => u.id), jobId, status, lockedOutBy }
  }

  /** The users deleted before the lock-out stay deleted; every other one is untouched and reported failed with the lock-out's code. */
  async function expectRestLeftUndeleted({ creatorId, userIds, jobId, status, lockedOutBy }: Awaited<ReturnType<typeof jobLockedOutMidway>>) {
    expect(status).toMatchObject({ state: 'completed', total: USERS, done: USERS, progress: 100 })
    expect(status.succeeded).toBeGreaterThanOrEqual(1)
    expect(status.failed).toEqual({ [LOCKED_OUT]: USERS - status.succeeded })
    expect(status.failed[LOCKED_OUT]).toBeGreaterThanOrEqual(1)
    const outcome = (userId: string): BatchStatusResult['outcomes'][number] | undefined => status.outcomes.find((o) => o.userId === userId)
    for (const userId of userIds) {
      const row = (await readUserState(h.db, userId)).user
      if (outcome(userId)?.status === 'deleted') {
        expect(row?.get('isdeleted')).toBe(true)
        // Begun before the creator's lock-out was answered: none is begun after it.
        const request = await h.service.requests.get(batchRequestId(jobId, userId))
        expect(request?.createdAt.getTime()).toBeLessThanOrEqual(lockedOutBy.getTime())
        continue
      }
      expect(outcome(userId)).toEqual({ userId, status: 'failed', err: LOCKED_OUT })
      expect(row?.get('isdeleted')).not.toBe(true)
      expect(await requestsOf(h.db, userId)).toEqual([])
    }
    // The same refusal a single delete by the creator meets now.
    const left = userIds.find((userId) => outcome(userId)?.status === 'failed') ?? ''
    const single = await h.deleteRequest({ request: { userId: left } }, { 'x-authenticated-user-token': orgAdminToken(creatorId) })
    expect(single.status).toBe(401)
    expect(((await single.json()) as { params: { err: string } }).params.err).toBe(LOCKED_OUT)
  }

  it('when another ORG_ADMIN deletes the creator of a paced job mid-job, then the users not yet deleted are left undeleted, reported failed UOS_0070 as a single delete by the creator now answers, and the job completes', async () => {
    const job = await jobLockedOutMidway((creatorId) => h.deleteRequest({ request: { userId: creatorId } }, { 'x-authenticated-user-token': orgAdminToken(randomUUID()) }))

    await expectRestLeftUndeleted(job)
  }, 120_000)

  it('when the creator soft-deletes themself mid-job (restorable, but locked out), then the users not yet deleted are left undeleted, reported failed UOS_0070, and the job completes', async () => {
    const job = await jobLockedOutMidway((creatorId) => h.deleteRequest({ request: { userId: creatorId, mode: 'soft' } }, { 'x-authenticated-user-token': orgAdminToken(creatorId) }))

    await expectRestLeftUndeleted(job)
  }, 120_000)
})
