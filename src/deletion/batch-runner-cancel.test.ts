import { afterEach, describe, expect, it } from 'vitest'
import { deferred } from '../../test/support/wait-until.js'
import { batchRequestId, readBatchStatus } from './batch-job.js'
import { DependencyUnavailableError, UserNotFoundError } from './errors.js'
import type { BatchItem } from './ports.js'
import {
  CALLER,
  CREATOR,
  JOB_ID,
  LEASE_MS,
  NOT_FOUND,
  SETTINGS,
  START,
  U1,
  U2,
  U3,
  U4,
  U5,
  batchWorld,
  deleted,
  eventually,
  pending,
  requestOf,
  stopRunners,
  waitingForPace,
} from '../../test/support/batch-runner-world.js'

afterEach(stopRunners)

describe('BatchRunner: a cancelled job', () => {
  type World = ReturnType<typeof batchWorld>
  /** The job's creator cancels it (the route's write), and the runner's last look at it grows old. */
  async function cancel(w: World): Promise<void> {
    await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
    w.clock.advance(1000)
  }
  /** Passes until the job is completed, each waiting for the slices it took to be done or given back. */
  async function workToTheEnd(w: World): Promise<void> {
    for (let pass = 0; pass < 10 && (await w.state()) !== 'completed'; pass++) {
      await w.runner.pass()
      await eventually(async () => expect((await w.jobs.slices(JOB_ID)).every((slice) => slice.done || slice.leaseUntil.getTime() === 0)).toBe(true))
    }
  }
  const cancelled = (userId: string, slice: number, at: Date, attempts = 0): BatchItem => ({ userId, slice, status: 'cancelled', attempts, at })
  const status = (w: World) => readBatchStatus({ jobs: w.jobs, clock: w.clock }, { caller: CALLER, jobId: JOB_ID, offset: 0, limit: 10 })

  it('when the job is cancelled during a deletion, then that deletion is recorded, no later user of any slice is deleted or waits on the pace, each is recorded cancelled, and the job completes reading cancelled', async () => {
    const w = batchWorld({ concurrency: 1, maxDeletionsPerSecond: 100 })
    w.engine.begun(U1, () => cancel(w))
    await w.submit([U1, U2, U3, U4, U5], 2)

    await workToTheEnd(w)

    const at = w.clock.now()
    expect(w.engine.users()).toEqual([U1])
    expect(await w.jobs.itemsPage(JOB_ID, 0, 10)).toEqual([deleted(U1, 0, at), cancelled(U2, 0, at), cancelled(U3, 1, at), cancelled(U4, 1, at), cancelled(U5, 2, at)])
    expect(w.timeline.count('jobs.takePaceToken')).toBe(1)
    expect(w.breakerChanges).toEqual([])
    expect((await w.slice(1))?.tally).toMatchObject({ succeeded: 0, failed: {}, cancelled: 2 })
    expect(await status(w)).toMatchObject({ state: 'cancelled', total: 5, done: 5, succeeded: 1, failed: {}, cancelled: 4, progress: 100, etaSeconds: 0 })
  })

  it('when this instance recorded the cancel (its cancel route), then its runner begins no further deletion at once, without waiting for its next look', async () => {
    const w = batchWorld({ concurrency: 1 })
    // No time passes: the runner's last look (no cancel) is still fresh.
    w.engine.begun(U1, async () => {
      await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
      w.runner.cancelSeen(JOB_ID)
    })
    await w.submit([U1, U2, U3])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([U1])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, START), cancelled(U2, 0, START), cancelled(U3, 0, START)])
  })

  it('when this instance records the cancel while a deletion is still in its reads, before its request is created, then that deletion is withdrawn: the user is recorded cancelled, no request opened, however long the reads took', async () => {
    const w = batchWorld({ concurrency: 1 })
    // No time passes: the runner's look before the deletion (no cancel) is still fresh when its create comes.
    w.engine.during(U1, async () => {
      await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
      w.runner.cancelSeen(JOB_ID)
    })
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.begunFor).toEqual([])
    expect(w.engine.users()).toEqual([U1])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([cancelled(U1, 0, START), cancelled(U2, 0, START)])
    expect(w.breakerChanges).toEqual([])
  })

  it('when this instance records the cancel while a user’s checks are under way and they fail (no such user), then that user reads failed with its code, not cancelled (the last look comes only before a create, docs/integrating.md), and the users after them read cancelled', async () => {
    const w = batchWorld({ concurrency: 1 })
    w.engine.during(U1, async () => {
      await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
      w.runner.cancelSeen(JOB_ID)
    })
    w.engine.refuse(U1, new UserNotFoundError())
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.begunFor).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([{ userId: U1, slice: 0, status: 'failed', err: NOT_FOUND, attempts: 0, at: START }, cancelled(U2, 0, START)])
  })

  it('when this instance records the cancel while the look right before a create is under way, having read the job before the cancel, then that deletion is withdrawn all the same', async () => {
    const w = batchWorld({ concurrency: 1 })
    const get = w.jobs.get.bind(w.jobs)
    let holdNextRead = false
    const readDone = deferred()
    const answer = deferred()
    // The look reads the job (not cancelled yet), and its answer is slow to come back.
    w.jobs.get = async (jobId) => {
      if (!holdNextRead) return get(jobId)
      holdNextRead = false
      const read = await get(jobId)
      readDone.resolve()
      await answer.promise
      return read
    }
    // The deletion's reads outlast the runner's last look: the look before its create reads the job again.
    w.engine.during(U1, () => {
      w.clock.advance(1000)
      holdNextRead = true
    })
    await w.submit([U1])

    await w.runner.pass()
    await readDone.promise
    await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
    w.runner.cancelSeen(JOB_ID)
    answer.resolve()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.begunFor).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([cancelled(U1, 0, w.clock.now())])
  })

  it('when another instance records the cancel while a deletion here is in its reads, then the deletion is withdrawn once this runner looks again (a second after its last look), not begun whatever the reads took', async () => {
    const w = batchWorld({ concurrency: 1 })
    // The reads outlast the runner's last look: the cancel, recorded elsewhere, is read before the create.
    w.engine.during(U1, () => cancel(w))
    await w.submit([U1])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.begunFor).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([cancelled(U1, 0, w.clock.now())])
  })

  it('when the look right before the create cannot be read (Cassandra in trouble), then the deletion is withdrawn, not begun on a guess: no try of the user counted, and they are deleted once a look goes through', async () => {
    const w = batchWorld({ breaker: { ...SETTINGS.breaker, minAttempts: 10 } })
    const get = w.jobs.get.bind(w.jobs)
    let failLook = false
    w.jobs.get = async (jobId) => {
      if (failLook) {
        failLook = false
        throw new DependencyUnavailableError('cassandra')
      }
      return get(jobId)
    }
    // The reads outlast the runner's last look, and the next one fails.
    w.engine.during(U1, () => {
      w.clock.advance(1000)
      failLook = true
    })
    await w.submit([U1])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    expect(await w.item(U1)).toMatchObject({ status: 'pending', attempts: 0 })
    expect(w.engine.begunFor).toEqual([])
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.begunFor).toEqual([U1])
    expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
  })

  it('when the job is not cancelled, then a slice of users worked in the same second reads the job once for its cancel, not once per user', async () => {
    const w = batchWorld()
    await w.submit([U1, U2, U3, U4, U5])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([U1, U2, U3, U4, U5])
    // One read for the job the slice is taken for, one look at its cancel.
    expect(w.timeline.count('jobs.get')).toBe(2)
  })

  it("when a user's deletion was opened by an earlier try before the cancel, then it is finished and the user recorded deleted; the others are recorded cancelled", async () => {
    const w = batchWorld()
    await w.submit([U1, U2])
    // instance-b took the slice, opened U1's request and died; then the job was cancelled.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
    w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'in_progress', START))
    await cancel(w)
    w.clock.advance(LEASE_MS)

    await workToTheEnd(w)

    expect(w.engine.resumed).toEqual([batchRequestId(JOB_ID, U1)])
    expect(w.engine.users()).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, w.clock.now()), cancelled(U2, 0, w.clock.now())])
  })

  it('when the job is cancelled while a user waits for a pace token, then that user is not deleted and takes no further token', async () => {
    const { w } = await waitingForPace()
    const second = Math.floor(START.getTime() / 1000)

    await cancel(w)
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([cancelled(U1, 0, w.clock.now())])
    // Only the other instance's token was ever taken in the next second.
    expect(await w.jobs.takePaceToken(JOB_ID, second + 1)).toBe(1)
  })

  it('when the job is cancelled while its breaker is open, then its users are recorded cancelled without waiting out the cool-off, their tries kept', async () => {
    const w = batchWorld()
    w.engine.down = true
    await w.submit([U1, U2, U3, U4])
    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))

    await cancel(w)
    // U1 and U2, left pending by their faults, are settled when the slice is taken again.
    await workToTheEnd(w)

    const at = w.clock.now()
    expect(w.engine.users()).toEqual([U1, U2])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([cancelled(U1, 0, at, 1), cancelled(U2, 0, at, 1), cancelled(U3, 0, at), cancelled(U4, 0, at)])
    expect(await status(w)).toMatchObject({ state: 'cancelled', done: 4, succeeded: 0, cancelled: 4 })
  })

  it('when the look at the cancel cannot be read (Cassandra in trouble), then no deletion begins on a guess: no try of the user is counted, and the user is deleted once a look goes through', async () => {
    // One fault in two tries would open the default breaker: not what this case is about.
    const w = batchWorld({ breaker: { ...SETTINGS.breaker, minAttempts: 10 } })
    await w.submit([U1, U2])
    const get = w.jobs.get.bind(w.jobs)
    let looks = 0
    // The first read is the job's, for the slice; the second the look at its cancel.
    w.jobs.get = async (jobId) => {
      if (++looks === 2) throw new DependencyUnavailableError('cassandra')
      return get(jobId)
    }

    // Passes of its own: workToTheEnd's reads of the job would be counted.
    await w.runner.pass()
    await eventually(async () => expect((await w.item(U2))?.status).toBe('deleted'))
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([U2, U1])
    expect(await w.item(U1)).toEqual(deleted(U1, 0, START))
  })

  it('when several slices of a job look at its cancel at once, then they share one read', async () => {
    const w = batchWorld({ concurrency: 2 })
    await w.submit([U1, U2, U3, U4], 2)
    // A read that takes a while, as Cassandra's does: both slices ask while the first look is under way.
    const get = w.jobs.get.bind(w.jobs)
    w.jobs.get = async (jobId) => {
      await new Promise((resolve) => setTimeout(resolve, 20))
      return get(jobId)
    }

    await w.runner.pass()
    await eventually(async () => expect((await w.jobs.slices(JOB_ID)).every((slice) => slice.done)).toBe(true))

    expect(w.engine.users().sort()).toEqual([U1, U2, U3, U4])
    // One read of the job for the slices taken, one look at its cancel for both.
    expect(w.timeline.count('jobs.get')).toBe(2)
  })

  it('when finishing the requests earlier tries opened for a cancelled job’s users meets a dependency in trouble, pass after pass, then its breaker never opens (its users spared by the cancel give every probe back: it might never close again), and each user is reported once, not once per pass; once it recovers they read deleted and the job completes', async () => {
    const w = batchWorld()
    const users = [U1, U2, U3, U4]
    for (const userId of users) w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, userId), userId, 'in_progress', START))
    await w.submit(users)
    // instance-b took the slice, opened every user's request and died; then the job was cancelled.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
    const before = await w.state()
    await cancel(w)
    w.clock.advance(LEASE_MS)
    w.engine.down = true

    for (let pass = 0; pass < 3; pass++) {
      await w.runner.pass()
      await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    }

    expect(w.engine.resumed).toHaveLength(3 * users.length)
    expect(w.breakerChanges).toEqual([])
    expect(await w.state()).toBe(before)
    expect(w.errors).toEqual(users.map(() => expect.any(DependencyUnavailableError)))
    expect(await w.jobs.items(JOB_ID, 0)).toEqual(users.map((userId) => pending(userId, 0)))

    w.engine.down = false
    await workToTheEnd(w)

    expect(await w.state()).toBe('completed')
    expect(await w.jobs.items(JOB_ID, 0)).toEqual(users.map((userId) => deleted(userId, 0, w.clock.now())))
    expect(w.engine.users()).toEqual([])
  })

  it('when a cancelled job’s user may have an earlier request and it cannot be looked for (Cassandra in trouble), then they stay pending with no try counted, never failed, and are recorded cancelled once it can', async () => {
    const w = batchWorld({ maxAttempts: 1 })
    await w.submit([U1])
    // U1 was tried once: an earlier request of theirs may exist.
    expect(await w.jobs.recordItem(JOB_ID, pending(U1, 0, 1), new Date(START.getTime() + 1))).toBe(true)
    await cancel(w)
    const get = w.engine.get.bind(w.engine)
    let reads = 0
    w.engine.get = async (requestId) => {
      if (++reads === 1) throw new DependencyUnavailableError('cassandra')
      return get(requestId)
    }

    await workToTheEnd(w)

    expect(await w.item(U1)).toEqual(cancelled(U1, 0, w.clock.now(), 1))
    expect(w.engine.users()).toEqual([])
  })
})
