import { afterEach, describe, expect, it } from 'vitest'
import { deferred } from '../../test/support/wait-until.js'
import { batchRequestId, readBatchStatus } from './batch-job.js'
import { DependencyUnavailableError, RequestAlreadyOpenedError, RoleRestrictedError, UserNotFoundError } from './errors.js'
import {
  ALREADY_DELETED,
  CALLER,
  JOB_ID,
  LEASE_MS,
  NOT_FOUND,
  ROLE_RESTRICTED,
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
} from '../../test/support/batch-runner-world.js'

afterEach(stopRunners)

describe('BatchRunner: working a job', () => {
  it("when a job is worked, then each user is deleted once, as the job's caller, under the request named after job and user, and recorded deleted", async () => {
    const w = batchWorld()
    await w.submit([U1, U2, U3, U4, U5], 2)

    await w.runner.pass()
    await eventually(async () => expect((await w.jobs.slices(JOB_ID)).filter((slice) => slice.done)).toHaveLength(2))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(2))?.done).toBe(true))

    expect([...w.engine.users()].sort()).toEqual([U1, U2, U3, U4, U5])
    for (const userId of [U1, U2, U3, U4, U5]) {
      expect(w.engine.calls).toContainEqual({
        requestId: batchRequestId(JOB_ID, userId),
        requestIdChosenBy: 'derived',
        fencedBy: expect.any(Date),
        mayBegin: expect.any(Function),
        userId,
        caller: CALLER,
        mode: 'hard',
      })
    }
    expect(await w.jobs.itemsPage(JOB_ID, 0, 10)).toEqual([deleted(U1, 0, START), deleted(U2, 0, START), deleted(U3, 1, START), deleted(U4, 1, START), deleted(U5, 2, START)])
  })

  it("when the keyspace is behind this build's schema, then a pass takes no slice and deletes no one; once migrated, the next pass works the job", async () => {
    let migrated = false
    const w = batchWorld({}, async () => migrated)
    await w.submit([U1, U2])

    await w.runner.pass()
    expect((await w.slice(0))?.taken).toBe(false)
    expect([...w.engine.users()]).toEqual([])

    migrated = true
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect([...w.engine.users()].sort()).toEqual([U1, U2])
  })

  it('when the instance stops while a pass waits for the schema read, then stop waits for that pass, which takes no slice and deletes no one', async () => {
    const answer = deferred<boolean>()
    const w = batchWorld({}, () => answer.promise)
    await w.submit([U1, U2])
    const passing = w.runner.pass()

    let stopped = false
    const stopping = w.runner.stop().then(() => {
      stopped = true
    })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(stopped).toBe(false)
    answer.resolve(true)
    await Promise.all([passing, stopping])

    expect((await w.slice(0))?.taken).toBe(false)
    expect([...w.engine.users()]).toEqual([])
  })

  it('when every slice of a job is done, then the next pass completes the job and unlists it, deleting no one again', async () => {
    const w = batchWorld()
    await w.submit([U1, U2])
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    await w.runner.pass()

    expect(await w.state()).toBe('completed')
    expect(await w.jobs.listOpen()).toEqual([])
    expect(w.engine.users()).toEqual([U1, U2])
  })

  it("when a slice's users are all settled, then the slice is finished with their tally: successes, failures by code, first and last settling time", async () => {
    const w = batchWorld()
    // Each deletion takes a second of the clock.
    for (const userId of [U1, U2, U3, U4]) w.engine.during(userId, () => w.clock.advance(1000))
    w.engine.refuse(U2, new UserNotFoundError()).refuse(U3, new RoleRestrictedError())
    await w.submit([U1, U2, U3, U4])

    await w.runner.pass()

    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(await w.slice(0)).toEqual({
      slice: 0,
      done: true,
      leaseUntil: new Date(0),
      taken: true,
      tally: { succeeded: 2, failed: { [NOT_FOUND]: 1, [ROLE_RESTRICTED]: 1 }, firstSettledAt: new Date(START.getTime() + 1000), lastSettledAt: new Date(START.getTime() + 4000) },
    })
  })

  it("when a user's deletion still owes steps (its request partial: a store was down; or handed to the sweeper unsettled), then they are recorded deleted and owed, counted in the slice's tally and the status, which names the request to follow", async () => {
    const w = batchWorld()
    w.engine.settleAs(U2, 'partial').settleAs(U3, undefined)
    await w.submit([U1, U2, U3])

    await w.runner.pass()

    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(await w.jobs.itemsPage(JOB_ID, 0, 10)).toEqual([deleted(U1, 0, START), { ...deleted(U2, 0, START), owed: true }, { ...deleted(U3, 0, START), owed: true }])
    expect((await w.slice(0))?.tally).toMatchObject({ succeeded: 3, owed: 2, failed: {} })
    const status = await readBatchStatus({ jobs: w.jobs, clock: w.clock }, { caller: CALLER, jobId: JOB_ID, offset: 0, limit: 10 })
    expect(status).toMatchObject({ state: 'completed', done: 3, succeeded: 3, owed: 2, failed: {} })
    expect(status.outcomes).toEqual([
      { userId: U1, status: 'deleted' },
      { userId: U2, status: 'deleted', owed: true, requestId: batchRequestId(JOB_ID, U2) },
      { userId: U3, status: 'deleted', owed: true, requestId: batchRequestId(JOB_ID, U3) },
    ])
  })

  it('when a slice is taken over from an instance that died mid-user and the request it opened finishes partial, then the user is recorded deleted and owed', async () => {
    const w = batchWorld()
    await w.submit([U1])
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
    w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'partial', START)).settleAs(U1, 'partial')
    w.clock.advance(LEASE_MS + 1)

    await w.runner.pass()

    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(await w.item(U1)).toEqual({ ...deleted(U1, 0, w.clock.now()), owed: true })
  })

  it('when the request found opened for a user cannot be read back (gone since), then the user is recorded deleted and not owed: there is no request for the status to name', async () => {
    const w = batchWorld()
    w.engine.refuse(U1, new RequestAlreadyOpenedError(batchRequestId(JOB_ID, U1)))
    await w.submit([U1])

    await w.runner.pass()

    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
  })

  it('when a user is refused for a reason of their own, then they are recorded failed with its Sunbird code, never tried again, and the users after them are still deleted', async () => {
    const w = batchWorld()
    w.engine.refuse(U1, new UserNotFoundError())
    await w.submit([U1, U2, U3])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    await w.runner.pass()

    expect(await w.item(U1)).toEqual({ userId: U1, slice: 0, status: 'failed', err: NOT_FOUND, attempts: 0, at: START })
    expect(await w.item(U2)).toEqual(deleted(U2, 0, START))
    expect(await w.item(U3)).toEqual(deleted(U3, 0, START))
    expect(w.engine.users()).toEqual([U1, U2, U3])
    expect(w.breakerChanges).toEqual([])
    expect(await w.state()).toBe('completed')
  })

  it('when a pass finds more free slices than its concurrency, then it takes only that many, and a full instance does not even list the jobs', async () => {
    const w = batchWorld({ concurrency: 2 })
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    for (const userId of [U1, U2]) w.engine.during(userId, () => held)
    await w.submit([U1, U2, U3], 1)

    try {
      await w.runner.pass()
      await eventually(() => expect(w.engine.users()).toEqual([U1, U2]))
      await w.runner.pass()

      expect((await w.jobs.slices(JOB_ID)).map((slice) => slice.taken)).toEqual([true, true, false])
      expect(w.timeline.count('jobs.listOpen')).toBe(1)
    } finally {
      release()
    }
    await eventually(async () => expect((await w.jobs.slices(JOB_ID)).filter((slice) => slice.done)).toHaveLength(2))
  })
})

describe('BatchRunner: the pace limit', () => {
  it("when the job's budget for this second is spent, then no deletion starts until the next second; every instance's tokens count against it", async () => {
    const w = batchWorld({ maxDeletionsPerSecond: 2 })
    // Late in the second, so the runner's wait for the next one is short.
    w.clock.set(new Date(START.getTime() + 900))
    const second = Math.floor(START.getTime() / 1000)
    await w.submit([U1, U2, U3])
    // Another instance has deleted one user of the job this second already.
    expect(await w.jobs.takePaceToken(JOB_ID, second)).toBe(1)

    await w.runner.pass()
    await eventually(() => expect(w.timeline.count('jobs.takePaceToken')).toBeGreaterThanOrEqual(3))
    expect(w.engine.users()).toEqual([U1])

    w.clock.set(new Date(START.getTime() + 1000))
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([U1, U2, U3])
    // U2 and U3 took the next second's first two tokens.
    expect(await w.jobs.takePaceToken(JOB_ID, second + 1)).toBe(3)
  })

  it('when there is no limit, then no token is taken', async () => {
    const w = batchWorld({ maxDeletionsPerSecond: 0 })
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.timeline.count('jobs.takePaceToken')).toBe(0)
  })
})

describe('BatchRunner: a managed user whose manager is in the same job', () => {
  /** U1 manages U2: U1's deletion erases U2 too. */
  function managerFirst(w: ReturnType<typeof batchWorld>): void {
    w.managers.set(U2, U1)
    w.engine.during(U1, () => w.engine.markDeleted(U2))
  }

  it("when the manager's deletion erased them before their own turn, then they read deleted, not failed as already deleted", async () => {
    const w = batchWorld()
    managerFirst(w)
    await w.submit([U1, U2, U3])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, START), deleted(U2, 0, START), deleted(U3, 0, START)])
  })

  it("when the manager's deletion is still under way, then they stay pending with no try counted, and read deleted once it is finished", async () => {
    const w = batchWorld()
    managerFirst(w)
    // The manager's run is not finished when U2 is tried: its request reads in progress.
    w.engine.during(U2, () => w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'in_progress', START)))
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(async () => expect(w.engine.calls).toHaveLength(2))
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))

    expect(await w.item(U2)).toEqual(pending(U2, 0))
    w.engine.finishElsewhere(batchRequestId(JOB_ID, U1))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(await w.item(U2)).toEqual(deleted(U2, 0, START))
  })

  it("when the manager's hard deletion erased them (its tombstone names no manager; it holds their deletion state), then they read deleted too", async () => {
    const w = batchWorld()
    // A hard deletion's tombstone: their own deletion finds no user.
    w.engine.refuse(U2, new UserNotFoundError())
    w.engine.during(U1, () => w.states.set(U2, { mode: 'hard', requestId: batchRequestId(JOB_ID, U1) }))
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, START), deleted(U2, 0, START)])
  })

  it('when whose deletion erased them cannot be read (Cassandra in trouble), then they stay pending with no try counted, never failed for it', async () => {
    const w = batchWorld()
    managerFirst(w)
    await w.submit([U1, U2])
    const get = w.engine.get.bind(w.engine)
    // U2's own request, then their manager's: the second read fails once.
    let reads = 0
    w.engine.get = async (requestId) => {
      if (requestId === batchRequestId(JOB_ID, U1) && ++reads === 1) throw new DependencyUnavailableError('cassandra')
      return get(requestId)
    }

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    expect(await w.item(U2)).toEqual(pending(U2, 0))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.item(U2)).toEqual(deleted(U2, 0, START))
  })

  it('when a user was deleted before the job, by a deletion of their own or of another job, then they are failed as already deleted', async () => {
    const w = batchWorld()
    w.managers.set(U2, U1)
    w.engine.markDeleted(U2)
    // Erased with their manager, by another job.
    w.engine.seedRequest(requestOf(batchRequestId('another-job', U1), U1, 'completed', START))
    await w.submit([U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.item(U2)).toEqual({ userId: U2, slice: 0, status: 'failed', err: ALREADY_DELETED, attempts: 0, at: START })
  })
})
