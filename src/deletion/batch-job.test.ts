import { describe, expect, it } from 'vitest'
import { InMemoryBatchJobs } from '../../test/support/fakes/in-memory-batch-jobs.js'
import { readBatchStatus, submitBatch, usersPerSlice } from './batch-job.js'
import type { Caller } from './caller.js'

const CALLER: Caller = { consumer: 'portal', userId: 'admin-1', roles: [{ role: 'ORG_ADMIN', organisationIds: ['org-1'] }] }
const ids = (n: number) => Array.from({ length: n }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`)

describe('usersPerSlice', () => {
  it('when a job has more users than the slices an instance works at once can hold at the configured size, then its slices are of the configured size', () => {
    expect(usersPerSlice(1000, 25, 8)).toBe(25)
    expect(usersPerSlice(200, 25, 8)).toBe(25)
  })

  it('when a job is smaller, then it is cut into as many slices as an instance works at once, so none of them idles', () => {
    expect(usersPerSlice(30, 25, 8)).toBe(4)
    expect(usersPerSlice(8, 25, 8)).toBe(1)
  })

  it('when a job has fewer users than that, then each user is a slice of their own', () => {
    expect(usersPerSlice(3, 25, 8)).toBe(1)
  })
})

describe('submitBatch', () => {
  it('when a small job is submitted, then its users are spread over BATCH_CONCURRENCY slices, each user in one', async () => {
    const jobs = new InMemoryBatchJobs()
    const { jobId, total } = await submitBatch({ jobs, clock: { now: () => new Date() }, sliceSize: 25, minSlices: 8 }, { jobId: 'job-1', caller: CALLER, userIds: ids(30) })

    expect(total).toBe(30)
    expect((await jobs.get(jobId))?.slices).toBe(8)
    const items = await jobs.itemsPage(jobId, 0, 100)
    expect(items.map((item) => item.userId).sort()).toEqual(ids(30))
    const perSlice = new Map<number, number>()
    for (const item of items) perSlice.set(item.slice, (perSlice.get(item.slice) ?? 0) + 1)
    expect([...perSlice.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(Math.max(...perSlice.values())).toBe(4)
  })

  it("when a parent acting for their managed child submits, then the job's caller keeps that child, so each user is authorised as the same caller's single delete would be; what a deletion does not need is not kept", async () => {
    const jobs = new InMemoryBatchJobs()
    const parent: Caller = { consumer: 'portal', userId: 'parent-1', roles: [], managedUser: { userId: 'child-1', parentId: 'parent-1' }, authTime: 1_716_199_736, sessionId: 'session-1' }

    const { jobId } = await submitBatch({ jobs, clock: { now: () => new Date() }, sliceSize: 25 }, { jobId: 'job-3', caller: parent, userIds: ids(1) })

    expect((await jobs.get(jobId))?.caller).toEqual({ consumer: 'portal', userId: 'parent-1', roles: [], managedUser: { userId: 'child-1', parentId: 'parent-1' } })
  })

  it('when no minimum is given, then the slices are of the configured size', async () => {
    const jobs = new InMemoryBatchJobs()
    const { jobId } = await submitBatch({ jobs, clock: { now: () => new Date() }, sliceSize: 25 }, { jobId: 'job-2', caller: CALLER, userIds: ids(30) })
    expect((await jobs.get(jobId))?.slices).toBe(2)
  })
})

describe('readBatchStatus', () => {
  /** A job of `n` users in one slice, the slice leased and each user settled a second after the last, the first at `start` + 1 s. */
  async function jobSettledOver(n: number, start: Date) {
    const jobs = new InMemoryBatchJobs(undefined, { now: () => start })
    await submitBatch({ jobs, clock: { now: () => start }, sliceSize: 25 }, { jobId: 'job-r', caller: CALLER, userIds: ids(n) })
    const heldUntil = new Date(start.getTime() + 3_600_000)
    await jobs.acquireSlice('job-r', 0, 'instance-1', start, heldUntil)
    for (const [i, userId] of ids(n).entries()) {
      await jobs.recordItem('job-r', { userId, slice: 0, status: 'deleted', attempts: 0, at: new Date(start.getTime() + (i + 1) * 1000) }, heldUntil)
    }
    return jobs
  }
  const statusAt = (jobs: InMemoryBatchJobs, at: Date) => readBatchStatus({ jobs, clock: { now: () => at } }, { caller: CALLER, jobId: 'job-r', offset: 0, limit: 10 })

  it('when a running job settled users within the last minute, then its rate is theirs and its ETA follows from it', async () => {
    const start = new Date('2026-12-04T10:00:00Z')
    const jobs = await jobSettledOver(10, start)
    await jobs.recordItem('job-r', { userId: ids(10)[9] as string, slice: 0, status: 'pending', attempts: 0 }, new Date(start.getTime() + 3_600_000))
    const status = await statusAt(jobs, new Date(start.getTime() + 10_000))
    expect(status.done).toBe(9)
    expect(status.ratePerSecond).toBe(0.9)
    expect(status.etaSeconds).toBe(2)
  })

  it('when every user is settled, then the rate is that of the whole run, long after it ended too, and nothing is left to wait for', async () => {
    const start = new Date('2026-12-04T10:00:00Z')
    const jobs = await jobSettledOver(10, start)
    for (const later of [10_000, 3_600_000]) {
      const status = await statusAt(jobs, new Date(start.getTime() + later))
      expect(status.done).toBe(10)
      expect(status.ratePerSecond).toBe(1)
      expect(status.etaSeconds).toBe(0)
    }
  })
})
