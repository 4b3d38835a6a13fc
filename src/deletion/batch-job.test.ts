import { v5 as uuidv5 } from 'uuid'
import { describe, expect, it, vi } from 'vitest'
import { InMemoryBatchJobs } from '../../test/support/fakes/in-memory-batch-jobs.js'
import { batchJobId, cancelBatch, readBatchStatus, submitBatch, tally, usersPerSlice } from './batch-job.js'
import type { Caller } from './caller.js'
import { BatchJobIdTakenError, BatchJobNotFoundError, DependencyUnavailableError, NotPermittedError } from './errors.js'
import type { BatchItem } from './ports.js'

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

  it('when settings that differ give a job as many slices, then they give it one size, the smallest that does: two submits of one job cut its users alike', () => {
    // 1,000 users in slices of 52, 51 or 50: 20 slices each time.
    expect([usersPerSlice(1000, 52, 1), usersPerSlice(1000, 51, 1), usersPerSlice(1000, 50, 1)]).toEqual([50, 50, 50])
    expect(usersPerSlice(1000, 300, 1)).toBe(250)
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

describe('submitBatch against the caller’s deadline', () => {
  it.each([true, false])('when the deadline has passed before the job is recorded (keyed: %s), then "retry" (unavailable), and no job is recorded', async (keyed) => {
    const jobs = new InMemoryBatchJobs()

    await expect(
      submitBatch({ jobs, clock: { now: () => new Date() }, sliceSize: 25 }, { jobId: 'job-d', keyed, caller: CALLER, userIds: ids(2), answerBy: new Date(Date.now() - 1) }),
    ).rejects.toThrow(DependencyUnavailableError)

    expect(await jobs.get('job-d')).toBeUndefined()
    expect(await jobs.listOpen()).toEqual([])
  })

  it('when the deadline passes while the job is being recorded, then the answer is the recorded job', async () => {
    const jobs = new InMemoryBatchJobs()
    const open = jobs.open.bind(jobs)
    jobs.open = async (job, items) => {
      await new Promise((resolve) => setTimeout(resolve, 100))
      return open(job, items)
    }
    const onCommit = vi.fn()

    const answer = await submitBatch({ jobs, clock: { now: () => new Date() }, sliceSize: 25 }, { jobId: 'job-e', caller: CALLER, userIds: ids(2), answerBy: new Date(Date.now() + 20), onCommit })

    expect(answer).toEqual({ jobId: 'job-e', total: 2 })
    expect(await jobs.listOpen()).toEqual(['job-e'])
    expect(onCommit).toHaveBeenCalledOnce()
  })
})

describe('batchJobId', () => {
  const key = { owner: 'consumer:portal|user:admin-1', keyHash: 'a'.repeat(64) }

  it('when a submit carries an Idempotency-Key, then its job id is the UUID v5 of the key’s owner and hash: the same on every try', () => {
    expect(batchJobId(key)).toBe(uuidv5(`${key.owner}\n${key.keyHash}`, '2ae09f7c-8de7-4635-8262-e3abf9784543'))
    expect(batchJobId({ ...key })).toBe(batchJobId(key))
  })

  it('when another caller sends the same key, or the caller another key, then the job id is another', () => {
    expect(batchJobId({ ...key, owner: 'consumer:portal|user:admin-2' })).not.toBe(batchJobId(key))
    expect(batchJobId({ ...key, keyHash: 'b'.repeat(64) })).not.toBe(batchJobId(key))
  })

  it('when a submit carries no key, then each job id is a random UUID of its own', () => {
    expect(batchJobId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(batchJobId()).not.toBe(batchJobId())
  })
})

describe('submitBatch again under the same job id (a submit retried with its Idempotency-Key)', () => {
  const clock = { now: () => new Date() }
  /** The store, its open writing only the first `written` users it is given, then failing, once. */
  function failingOpenAfter(written: number): InMemoryBatchJobs {
    const jobs = new InMemoryBatchJobs()
    const open = jobs.open.bind(jobs)
    let failed = false
    jobs.open = async (job, items) => {
      if (failed) return open(job, items)
      failed = true
      // Given as completed, the job is not listed: as if its listing never came.
      await open({ ...job, state: 'completed' }, items.slice(0, written))
      throw new DependencyUnavailableError('cassandra')
    }
    return jobs
  }

  it('when the first submit wrote part of its users and failed, then the retry writes the rest, in the slices the job was cut in, also when the slice size changed between them', async () => {
    const jobs = failingOpenAfter(4)
    const userIds = ids(10)
    await expect(submitBatch({ jobs, clock, sliceSize: 3 }, { jobId: 'job-k', caller: CALLER, userIds, mode: 'hard' })).rejects.toThrow(DependencyUnavailableError)
    expect(await jobs.listOpen()).toEqual([])

    const answer = await submitBatch({ jobs, clock, sliceSize: 5 }, { jobId: 'job-k', caller: CALLER, userIds, mode: 'hard' })

    expect(answer).toEqual({ jobId: 'job-k', total: 10 })
    expect((await jobs.get('job-k'))?.slices).toBe(4)
    const items = await jobs.itemsPage('job-k', 0, 100)
    expect(items.map((item) => [item.userId, item.slice])).toEqual(userIds.map((userId, index) => [userId, Math.floor(index / 3)]))
    expect((await jobs.slices('job-k')).map((slice) => slice.slice)).toEqual([0, 1, 2, 3])
    expect(await jobs.listOpen()).toEqual(['job-k'])
  })

  it('when the job is whole and being worked, then submitting it again changes nothing and answers the same job', async () => {
    const jobs = new InMemoryBatchJobs()
    const userIds = ids(3)
    const submit = () => submitBatch({ jobs, clock, sliceSize: 25 }, { jobId: 'job-w', caller: CALLER, userIds })
    await submit()
    const until = new Date(Date.now() + 60_000)
    await jobs.acquireSlice('job-w', 0, 'instance-1', new Date(), until)
    await jobs.recordItem('job-w', { userId: userIds[0] as string, slice: 0, status: 'failed', err: 'UOS_USRDLT0008', attempts: 1, at: new Date() }, until)
    const before = { job: await jobs.get('job-w'), items: await jobs.itemsPage('job-w', 0, 10), slices: await jobs.slices('job-w') }

    expect(await submit()).toEqual({ jobId: 'job-w', total: 3 })

    expect({ job: await jobs.get('job-w'), items: await jobs.itemsPage('job-w', 0, 10), slices: await jobs.slices('job-w') }).toEqual(before)
  })

  it('when the job under the id is another submit’s (another creator, mode or ids), then BatchJobIdTakenError, and nothing of it is written', async () => {
    const jobs = new InMemoryBatchJobs()
    const submit = (input: { caller?: Caller; userIds?: string[]; mode?: 'soft' | 'hard' }) =>
      submitBatch({ jobs, clock, sliceSize: 25 }, { jobId: 'job-t', caller: input.caller ?? CALLER, userIds: input.userIds ?? ids(2), ...(input.mode && { mode: input.mode }) })
    await submit({ mode: 'hard' })
    const before = { job: await jobs.get('job-t'), items: await jobs.itemsPage('job-t', 0, 10) }
    const opened = jobs.timeline.count('jobs.open')

    for (const other of [{ mode: 'soft' as const }, {}, { mode: 'hard' as const, userIds: [...ids(3)].slice(1) }, { mode: 'hard' as const, caller: { ...CALLER, userId: 'admin-2' } }]) {
      await expect(submit(other)).rejects.toThrow(BatchJobIdTakenError)
    }

    expect({ job: await jobs.get('job-t'), items: await jobs.itemsPage('job-t', 0, 10) }).toEqual(before)
    expect(jobs.timeline.count('jobs.open')).toBe(opened)
  })
})

describe('submitBatch without an Idempotency-Key (a random job id)', () => {
  const clock = { now: () => new Date() }
  const submit = (jobs: InMemoryBatchJobs, jobId: string, userIds: string[]) => submitBatch({ jobs, clock, sliceSize: 2 }, { jobId, keyed: false, caller: CALLER, userIds, mode: 'hard' })

  it('when it goes through, then the job is recorded whole and listed in one call, with no compare-and-set', async () => {
    const jobs = new InMemoryBatchJobs()

    expect(await submit(jobs, 'job-u', ids(5))).toEqual({ jobId: 'job-u', total: 5 })

    expect(jobs.timeline.writes().filter((write) => write.startsWith('jobs.'))).toEqual(['jobs.createWhole'])
    expect(await jobs.get('job-u')).toMatchObject({ id: 'job-u', total: 5, slices: 3, state: 'running', mode: 'hard' })
    expect((await jobs.itemsPage('job-u', 0, 10)).map((item) => [item.userId, item.slice])).toEqual(ids(5).map((userId, index) => [userId, Math.floor(index / 2)]))
    expect(await jobs.listOpen()).toEqual(['job-u'])
  })

  it('when its writes fail part way (a Cassandra timeout after the first of them), then it answers 503 and leaves no job: the status route finds none, no runner lists one', async () => {
    // The store's first write of the job's rows or listing fails, whichever way the submit writes them.
    const jobs = new InMemoryBatchJobs()
    for (const method of ['open', 'createWhole'] as const) jobs.failNext(method, new DependencyUnavailableError('cassandra'))

    await expect(submit(jobs, 'job-f', ids(5))).rejects.toThrow(DependencyUnavailableError)

    expect(await jobs.get('job-f')).toBeUndefined()
    await expect(readBatchStatus({ jobs, clock }, { caller: CALLER, jobId: 'job-f', offset: 0, limit: 10 })).rejects.toThrow(BatchJobNotFoundError)
    expect(await jobs.listOpen()).toEqual([])
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

  it('when every user is settled, then the job reads completed, though its stored state is still running or a late breaker write set it paused', async () => {
    const start = new Date('2026-12-04T10:00:00Z')
    const jobs = await jobSettledOver(10, start)
    expect((await statusAt(jobs, start)).state).toBe('completed')

    await jobs.setState('job-r', 'paused')
    expect((await statusAt(jobs, start)).state).toBe('completed')

    await jobs.recordItem('job-r', { userId: ids(10)[9] as string, slice: 0, status: 'pending', attempts: 0 }, new Date(start.getTime() + 3_600_000))
    expect((await statusAt(jobs, start)).state).toBe('paused')
  })

  it('when a job is cancelled, then its rate counts only the users deletion work settled (deleted or failed), not those the cancel spared: the rate does not jump, and stays so once every user is settled', async () => {
    const start = new Date('2026-12-04T10:00:00Z')
    const at = (seconds: number) => new Date(start.getTime() + seconds * 1000)
    const heldUntil = at(3600)
    const jobs = new InMemoryBatchJobs(undefined, { now: () => start })
    const users = ids(20)
    // Two slices of ten: the first worked (three deleted, one failed, one a second), then cancelled, its other six spared at once and the slice finished with its counts.
    await submitBatch({ jobs, clock: { now: () => start }, sliceSize: 10 }, { jobId: 'job-r', caller: CALLER, userIds: users })
    await jobs.acquireSlice('job-r', 0, 'instance-1', start, heldUntil)
    const first = users
      .slice(0, 10)
      .map(
        (userId, i): BatchItem =>
          i < 4
            ? { userId, slice: 0, status: i === 3 ? 'failed' : 'deleted', ...(i === 3 && { err: 'UOS_USRDLT0008' }), attempts: 0, at: at(i + 1) }
            : { userId, slice: 0, status: 'cancelled', attempts: 0, at: at(5) },
      )
    for (const item of first) await jobs.recordItem('job-r', item, heldUntil)
    await jobs.cancel('job-r', { at: at(4.5), by: CALLER.userId })
    await jobs.finishSlice('job-r', 0, tally(first), heldUntil)

    // Four worked in the last ten seconds: 0.4 a second, not the ten settled.
    expect(await statusAt(jobs, at(10))).toMatchObject({ state: 'cancelled', done: 10, cancelled: 6, ratePerSecond: 0.4, etaSeconds: null })

    await jobs.acquireSlice('job-r', 1, 'instance-2', start, heldUntil)
    for (const userId of users.slice(10)) await jobs.recordItem('job-r', { userId, slice: 1, status: 'cancelled', attempts: 0, at: at(8) }, heldUntil)

    // Every user settled: four worked over the four seconds to the last of them, not twenty, nor over the eight to the cancel's last spare.
    expect(await statusAt(jobs, at(10))).toMatchObject({ state: 'cancelled', done: 20, cancelled: 16, ratePerSecond: 1, etaSeconds: 0 })
  })

  it("when a cancel spared a done slice's last users long after its deletions, then the rate spans only the deletions: the minute after the spare reads 0, and once every user is settled the run ends at the last deletion", async () => {
    const start = new Date('2026-12-04T10:00:00Z')
    const at = (seconds: number) => new Date(start.getTime() + seconds * 1000)
    const heldUntil = at(3600)
    const jobs = new InMemoryBatchJobs(undefined, { now: () => start })
    const users = ids(20)
    // The first slice of ten deleted six users, ten seconds apart (0 to 50 s); a cancel at 300 s spared its other four, and it was finished with its counts.
    await submitBatch({ jobs, clock: { now: () => start }, sliceSize: 10 }, { jobId: 'job-r', caller: CALLER, userIds: users })
    await jobs.acquireSlice('job-r', 0, 'instance-1', start, heldUntil)
    const first = users
      .slice(0, 10)
      .map((userId, i): BatchItem => (i < 6 ? { userId, slice: 0, status: 'deleted', attempts: 0, at: at(i * 10) } : { userId, slice: 0, status: 'cancelled', attempts: 0, at: at(300) }))
    for (const item of first) await jobs.recordItem('job-r', item, heldUntil)
    await jobs.cancel('job-r', { at: at(299), by: CALLER.userId })
    await jobs.finishSlice('job-r', 0, tally(first), heldUntil)

    // Nothing was deleted in the minute before: no rate, though the slice's last settle is in it.
    expect(await statusAt(jobs, at(330))).toMatchObject({ state: 'cancelled', done: 10, cancelled: 4, ratePerSecond: 0 })

    await jobs.acquireSlice('job-r', 1, 'instance-2', start, heldUntil)
    await jobs.finishSlice('job-r', 1, tally(users.slice(10).map((userId): BatchItem => ({ userId, slice: 1, status: 'cancelled', attempts: 0, at: at(300) }))), heldUntil)

    // Every user settled: six deletions over the fifty seconds to the last of them (0.12), not over the three hundred to the spare (0.02).
    expect(await statusAt(jobs, at(330))).toMatchObject({ state: 'cancelled', done: 20, cancelled: 14, ratePerSecond: 0.12, etaSeconds: 0 })
  })

  it('when a job was never cancelled, then its status has no cancelled count: the answer is the one it always was', async () => {
    const start = new Date('2026-12-04T10:00:00Z')
    const jobs = await jobSettledOver(3, start)

    expect('cancelled' in (await statusAt(jobs, start))).toBe(false)
  })
})

describe('cancelBatch', () => {
  const start = new Date('2026-12-04T10:00:00Z')
  const heldUntil = new Date(start.getTime() + 3_600_000)
  const clock = { now: () => start }
  /** A job of three users in one slice: the first deleted, the others pending. */
  async function jobUnderWay(jobs = new InMemoryBatchJobs(undefined, clock)) {
    await submitBatch({ jobs, clock, sliceSize: 25 }, { jobId: 'job-c', caller: CALLER, userIds: ids(3) })
    await jobs.acquireSlice('job-c', 0, 'instance-1', start, heldUntil)
    await jobs.recordItem('job-c', { userId: ids(3)[0] as string, slice: 0, status: 'deleted', attempts: 0, at: start }, heldUntil)
    return jobs
  }
  const status = (jobs: InMemoryBatchJobs) => readBatchStatus({ jobs, clock }, { caller: CALLER, jobId: 'job-c', offset: 0, limit: 10 })

  it('when a job under way is cancelled, then it reads cancelled from then on, its users not yet settled pending, with no time left foretold', async () => {
    const jobs = await jobUnderWay()

    const recorded: string[] = []

    expect(await cancelBatch({ jobs, clock, cancelRecorded: (jobId) => recorded.push(jobId) }, { caller: CALLER, jobId: 'job-c' })).toEqual({
      jobId: 'job-c',
      state: 'cancelled',
      alreadyCancelled: false,
      cancelledAt: start,
    })

    expect((await jobs.get('job-c'))?.cancelled).toEqual({ at: start, by: CALLER.userId })
    // This instance's runner is told once the cancel is stored.
    expect(recorded).toEqual(['job-c'])
    expect(await status(jobs)).toMatchObject({ state: 'cancelled', done: 1, succeeded: 1, cancelled: 0, etaSeconds: null })
  })

  it('when a cancelled job is cancelled again, then the answer says a cancel was recorded already, and when: the first cancel stands', async () => {
    const jobs = await jobUnderWay()
    await cancelBatch({ jobs, clock }, { caller: CALLER, jobId: 'job-c' })
    const later = { now: () => new Date(start.getTime() + 5000) }
    const recorded: string[] = []

    expect(await cancelBatch({ jobs, clock: later, cancelRecorded: (jobId) => recorded.push(jobId) }, { caller: CALLER, jobId: 'job-c' })).toEqual({
      jobId: 'job-c',
      state: 'cancelled',
      alreadyCancelled: true,
      cancelledAt: start,
    })

    expect((await jobs.get('job-c'))?.cancelled).toEqual({ at: start, by: CALLER.userId })
    // Known recorded all the same: this instance's runner stops at once.
    expect(recorded).toEqual(['job-c'])
  })

  it('when another cancel is recorded between this one’s read and its write, then this one is told it was recorded already, and when: the store decides who cancelled', async () => {
    const earlier = new Date(start.getTime() - 200)
    /** The other operator's cancel lands right after this call has read the job not cancelled (its status read reads the slices last). */
    class CancelledMeanwhile extends InMemoryBatchJobs {
      override async slices(jobId: string) {
        const slices = await super.slices(jobId)
        if (!(await this.get(jobId))?.cancelled) await this.cancel(jobId, { at: earlier, by: 'admin-2' })
        return slices
      }
    }
    const jobs = await jobUnderWay(new CancelledMeanwhile(undefined, clock))

    expect(await cancelBatch({ jobs, clock }, { caller: CALLER, jobId: 'job-c' })).toEqual({ jobId: 'job-c', state: 'cancelled', alreadyCancelled: true, cancelledAt: earlier })

    expect((await jobs.get('job-c'))?.cancelled).toEqual({ at: earlier, by: 'admin-2' })
  })

  it('when the runners have settled its last users as cancelled, then it still reads cancelled, every user counted', async () => {
    const jobs = await jobUnderWay()
    await cancelBatch({ jobs, clock }, { caller: CALLER, jobId: 'job-c' })

    for (const userId of ids(3).slice(1)) await jobs.recordItem('job-c', { userId, slice: 0, status: 'cancelled', attempts: 0, at: start }, heldUntil)

    expect(await status(jobs)).toMatchObject({ state: 'cancelled', done: 3, succeeded: 1, failed: {}, cancelled: 2, progress: 100, etaSeconds: 0 })
  })

  it('when its cancel spared nobody (every user was settled before the runners saw it), then it reads completed', async () => {
    const jobs = await jobUnderWay()
    await jobs.cancel('job-c', { at: start, by: CALLER.userId })

    for (const userId of ids(3).slice(1)) await jobs.recordItem('job-c', { userId, slice: 0, status: 'deleted', attempts: 0, at: start }, heldUntil)

    expect((await status(jobs)).state).toBe('completed')
  })

  it('when someone who may not follow the job cancels it, then NotPermittedError, and nothing is recorded', async () => {
    const jobs = await jobUnderWay()
    const stranger: Caller = { consumer: 'portal', userId: 'admin-2', roles: [{ role: 'ORG_ADMIN', organisationIds: ['org-2'] }] }

    await expect(cancelBatch({ jobs, clock }, { caller: stranger, jobId: 'job-c' })).rejects.toThrow(NotPermittedError)

    expect((await jobs.get('job-c'))?.cancelled).toBeUndefined()
  })

  it('when the creator also holds another role in a second organisation, then an ORG_ADMIN of that organisation may neither follow nor cancel the job; one of the organisation the creator administers may', async () => {
    const jobs = new InMemoryBatchJobs(undefined, clock)
    const creator: Caller = {
      ...CALLER,
      roles: [
        { role: 'ORG_ADMIN', organisationIds: ['org-1'] },
        { role: 'CONTENT_CREATOR', organisationIds: ['org-2'] },
      ],
    }
    await submitBatch({ jobs, clock, sliceSize: 25 }, { jobId: 'job-x', caller: creator, userIds: ids(2) })
    const adminOf = (org: string): Caller => ({ consumer: 'portal', userId: `admin-of-${org}`, roles: [{ role: 'ORG_ADMIN', organisationIds: [org] }] })

    await expect(readBatchStatus({ jobs, clock }, { caller: adminOf('org-2'), jobId: 'job-x', offset: 0, limit: 10 })).rejects.toThrow(NotPermittedError)
    await expect(cancelBatch({ jobs, clock }, { caller: adminOf('org-2'), jobId: 'job-x' })).rejects.toThrow(NotPermittedError)
    expect((await readBatchStatus({ jobs, clock }, { caller: adminOf('org-1'), jobId: 'job-x', offset: 0, limit: 10 })).total).toBe(2)
  })

  it('when the caller’s deadline has passed before the cancel is written, then "retry" (unavailable), and the job is not cancelled', async () => {
    const jobs = await jobUnderWay()

    await expect(cancelBatch({ jobs, clock }, { caller: CALLER, jobId: 'job-c', answerBy: new Date(Date.now() - 1) })).rejects.toThrow(DependencyUnavailableError)

    expect((await jobs.get('job-c'))?.cancelled).toBeUndefined()
  })

  it('when no job has the id, then BatchJobNotFoundError', async () => {
    await expect(cancelBatch({ jobs: new InMemoryBatchJobs(), clock }, { caller: CALLER, jobId: 'job-none' })).rejects.toThrow(BatchJobNotFoundError)
  })
})
