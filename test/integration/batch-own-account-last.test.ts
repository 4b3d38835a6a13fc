import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { batchRequestId } from '../../src/deletion/batch-job.js'
import { type BatchStatusResult, jobStatus, type Post, postTo, submitJob, waitForJob } from '../support/batch-jobs.js'
import { type Harness, startHarness } from '../support/harness.js'
import { readUserState } from '../support/user-state.js'

const ORG = `batch-own-last-${randomUUID()}`
/** One deletion a second, slices of two: the creator's own account, listed first, sits in a slice worked before the others. */
const PACED = { pollIntervalMs: 100, sliceSize: 2, maxDeletionsPerSecond: 1 }

describe("a batch job that lists its creator's own account, on the real servers", () => {
  let h: Harness
  let post: Post
  const orgAdminToken = (sub: string) => h.userToken({ sub, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })

  beforeAll(async () => {
    h = await startHarness({ batch: PACED })
    h.service.batches.start()
    post = postTo(h.service.app, h.apiBearer)
  })
  afterAll(async () => {
    await h.service.batches.stop()
    await h.close()
  })

  const outcomeOf = (status: BatchStatusResult, userId: string) => status.outcomes.find((o) => o.userId === userId)
  const othersSettled = (status: BatchStatusResult, ownId: string) => status.outcomes.every((o) => o.userId === ownId || o.status !== 'pending')

  it('when an ORG_ADMIN lists their own id first, then every other user is deleted before it (none refused UOS_0070), and the creator follows the job until only their own account is left', async () => {
    const creator = await h.seed({ rootOrgId: ORG, organisations: [ORG] })
    const users = await Promise.all(Array.from({ length: 4 }, () => h.seed({ rootOrgId: ORG, organisations: [ORG] })))
    const { jobId } = await submitJob(post, orgAdminToken(creator.id), [creator.id, ...users.map((u) => u.id)])

    // The creator reads the job while others are still pending...
    const midway = await waitForJob(post, orgAdminToken(creator.id), jobId, (s) => s.succeeded >= 1 && s.done < 4)
    expect(outcomeOf(midway, creator.id)).toEqual({ userId: creator.id, status: 'pending' })
    // ...and once every other is settled, their own account is the one left.
    const lastTurn = await waitForJob(post, orgAdminToken(creator.id), jobId, (s) => othersSettled(s, creator.id), 30_000)
    expect(lastTurn).toMatchObject({ total: 5, done: 4, succeeded: 4, failed: {} })
    expect(outcomeOf(lastTurn, creator.id)).toEqual({ userId: creator.id, status: 'pending' })

    // The job's last act deletes the creator, who is locked out at once: a colleague reads the end.
    const end = await waitForJob(post, orgAdminToken(randomUUID()), jobId, (s) => s.state === 'completed', 30_000)
    expect(end).toMatchObject({ total: 5, done: 5, succeeded: 5, failed: {} })
    await expect(jobStatus(post, orgAdminToken(creator.id), jobId)).rejects.toThrow(/status refused: 401/)
    expect((await readUserState(h.db, creator.id)).user?.get('isdeleted')).toBe(true)
    const own = await h.service.requests.get(batchRequestId(jobId, creator.id))
    for (const user of users) {
      const theirs = await h.service.requests.get(batchRequestId(jobId, user.id))
      expect(theirs?.state).toBe('completed')
      expect(own?.createdAt.getTime()).toBeGreaterThanOrEqual(theirs?.updatedAt.getTime() ?? Number.POSITIVE_INFINITY)
    }
  }, 90_000)

  it('when a user without a role submits [self, other, other], then the others come out FORBIDDEN first and the creator reads that while their own account is pending, deleted last', async () => {
    const self = await h.seed()
    const others = [await h.seed(), await h.seed()]
    const token = () => h.userToken({ sub: self.id })
    const { jobId } = await submitJob(post, token(), [self.id, ...others.map((u) => u.id)])

    const lastTurn = await waitForJob(post, token(), jobId, (s) => othersSettled(s, self.id), 30_000)
    expect(lastTurn).toMatchObject({ total: 3, done: 2, succeeded: 0, failed: { FORBIDDEN: 2 } })
    expect(outcomeOf(lastTurn, self.id)).toEqual({ userId: self.id, status: 'pending' })

    await expect.poll(async () => (await readUserState(h.db, self.id)).user?.get('isdeleted'), { timeout: 30_000, interval: 250 }).toBe(true)
    for (const other of others) expect((await readUserState(h.db, other.id)).user?.get('isdeleted')).not.toBe(true)
  }, 90_000)
})
