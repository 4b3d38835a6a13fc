import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../test/support/fakes/timeline.js'
import { batchRequestId, readBatchStatus, submitBatch } from './batch-job.js'
import type { Caller } from './caller.js'
import { DependencyUnavailableError } from './errors.js'
import { OWN_ACCOUNT_DWELL_MS } from './own-account-dwell.js'
import type { BatchItem } from './ports.js'
import {
  CALLER,
  COOL_OFF_MS,
  CREATOR,
  JOB_ID,
  LEASE_MS,
  LOCKED_OUT,
  START,
  U1,
  U2,
  U3,
  U4,
  U5,
  batchWorld,
  deleted,
  dwellBegins,
  eventually,
  pending,
  requestOf,
  stopRunners,
} from '../../test/support/batch-runner-world.js'

afterEach(stopRunners)

describe("BatchRunner: the creator's own account", () => {
  it("when a job lists its creator's own account first, then it is deleted last, once every other slice is done; an instance of concurrency 1 that found it waiting works the other slices instead of taking that one again every pass", async () => {
    const w = batchWorld({ concurrency: 1 })
    await w.submit([CREATOR, U1, U2, U3], 2)

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime()))
    expect(w.engine.users()).toEqual([U1])
    expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 0))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(1))?.done).toBe(true))
    expect(w.engine.users()).toEqual([U1, U2, U3])
    await dwellBegins(w)
    w.clock.advance(OWN_ACCOUNT_DWELL_MS)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([U1, U2, U3, CREATOR])
    expect(await w.item(CREATOR)).toEqual(deleted(CREATOR, 0, w.clock.now()))
  })

  it("when every other user of the job is settled, then the creator's own account waits OWN_ACCOUNT_DWELL_MS from when the instance first found them so, by its own clock, its slice not even taken meanwhile, so a creator polling the status reads it pending once the others are settled", async () => {
    const w = batchWorld({ concurrency: 1 })
    await w.submit([CREATOR, U1, U2, U3], 2)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime()))
    w.clock.advance(500)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(1))?.done).toBe(true))

    // The last other user (U3, of slice 1) was settled at START + 500; the instance finds that at START + 700: the dwell runs from then.
    w.clock.advance(200)
    await dwellBegins(w)
    const taken = w.timeline.count('jobs.acquireSlice')
    w.clock.set(new Date(START.getTime() + 700 + OWN_ACCOUNT_DWELL_MS - 1))
    await w.runner.pass()
    await w.runner.pass()
    expect(w.timeline.count('jobs.acquireSlice')).toBe(taken)
    expect(w.engine.users()).toEqual([U1, U2, U3])
    expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 0))
    const status = await readBatchStatus({ jobs: w.jobs, clock: w.clock }, { caller: CALLER, jobId: JOB_ID, offset: 0, limit: 10 })
    expect(status.outcomes.find((outcome) => outcome.userId === CREATOR)).toEqual({ userId: CREATOR, status: 'pending' })

    w.clock.advance(1)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(w.engine.users()).toEqual([U1, U2, U3, CREATOR])
  })

  for (const [skew, what] of [
    [3_600_000, 'an hour ahead of this one (its settled times stamped in the future)'],
    [-10_000, '10 s behind this one (its settled times 10 s in the past)'],
  ] as const)
    it(`when the other users were settled by an instance whose clock is ${what}, then the creator's own account still waits exactly OWN_ACCOUNT_DWELL_MS from when this instance found them settled, by this instance's clock`, async () => {
      const w = batchWorld({ concurrency: 1 })
      await w.submit([U1, U2, CREATOR], 2)
      const skewed = new ManualClock(new Date(START.getTime() + skew))
      await w.instance('instance-b', skewed).pass()
      await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
      expect((await w.item(U2))?.at).toEqual(skewed.now())

      // This instance takes the creator's slice and finds every other user settled: the dwell begins.
      const taken = w.timeline.count('jobs.acquireSlice')
      await w.runner.pass()
      expect(w.timeline.count('jobs.acquireSlice')).toBe(taken + 1)
      await eventually(async () => expect((await w.slice(1))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime()))
      expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 1))

      w.clock.advance(OWN_ACCOUNT_DWELL_MS - 1)
      await w.runner.pass()
      expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 1))
      w.clock.advance(1)
      await w.runner.pass()
      await eventually(async () => expect((await w.slice(1))?.done).toBe(true))
      expect(await w.item(CREATOR)).toEqual(deleted(CREATOR, 1, w.clock.now()))
    })

  it("when the job is cancelled during the creator's own account's dwell, then the own account is recorded cancelled at the next pass, without waiting out the dwell", async () => {
    const w = batchWorld({ concurrency: 1 })
    await w.submit([CREATOR, U1])
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime()))
    expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 0))

    await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
    w.clock.advance(1000)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(w.engine.users()).toEqual([U1])
    expect((await w.item(CREATOR))?.status).toBe('cancelled')
  })

  it("when the creator's own slice settles the job's last other user, then that pass leaves the own account pending: it is deleted at a pass OWN_ACCOUNT_DWELL_MS later", async () => {
    const w = batchWorld({ concurrency: 1 })
    await w.submit([CREATOR, U1])
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime()))
    expect(w.engine.users()).toEqual([U1])
    expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 0))

    w.clock.advance(OWN_ACCOUNT_DWELL_MS)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(w.engine.users()).toEqual([U1, CREATOR])
  })

  it("when another user of the creator's slice is left pending by a fault, then that slice is taken again at the next pass (that user retried at once), not held back until every other slice is done", async () => {
    const w = batchWorld({ concurrency: 1 })
    await w.submit([CREATOR, U1, U2, U3], 2)
    w.engine.during(U1, () => {
      throw new DependencyUnavailableError('keycloak')
    })
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime()))
    expect(await w.item(U1)).toEqual(pending(U1, 0, 1))

    await w.runner.pass()
    await eventually(async () => expect(await w.item(U1)).toEqual(deleted(U1, 0, START, 1)))
    expect(w.engine.users()).toEqual([U1, U1])
    expect((await w.slice(1))?.taken).toBe(false)
  })

  it("when an instance that knows nothing of the wait (restarted, or another) takes the creator's slice while another slice is still pending, then it too leaves the creator's own account pending; it is deleted once, after the others", async () => {
    const w = batchWorld({ concurrency: 1 })
    await w.submit([CREATOR, U1, U2, U3], 2)
    const givenBack = async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime())
    await w.runner.pass()
    await eventually(givenBack)
    await w.runner.stop()

    const restarted = w.instance('instance-b')
    await restarted.pass()
    await eventually(givenBack)
    expect(w.engine.users()).toEqual([U1])
    expect(await w.item(CREATOR)).toEqual(pending(CREATOR, 0))
    await restarted.pass()
    await eventually(async () => expect((await w.slice(1))?.done).toBe(true))
    await dwellBegins(w, restarted)
    w.clock.advance(OWN_ACCOUNT_DWELL_MS)
    await restarted.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([U1, U2, U3, CREATOR])
  })

  it("when the job is cancelled while the creator's own account waits for the others, then the others not begun and their own account are recorded cancelled: it is never deleted", async () => {
    const w = batchWorld({ concurrency: 1 })
    await w.submit([CREATOR, U1, U2, U3], 2)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil.getTime()).toBeLessThanOrEqual(START.getTime()))

    await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
    w.clock.set(new Date(START.getTime() + 2000))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(1))?.done).toBe(true))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([U1])
    expect((await w.item(CREATOR))?.status).toBe('cancelled')
    expect((await w.item(U2))?.status).toBe('cancelled')
  })

  it("when a trusted consumer's job lists the id its caller names, then that id is deleted in its turn: no person is behind such a job", async () => {
    const w = batchWorld({ concurrency: 1 })
    await submitBatch({ jobs: w.jobs, clock: w.clock, sliceSize: 2 }, { jobId: JOB_ID, caller: { ...CALLER, deleteAnyUser: true }, userIds: [CREATOR, U1, U2, U3], mode: 'hard' })

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([CREATOR, U1])
  })
})

describe('BatchRunner: a creator locked out mid-job', () => {
  type World = ReturnType<typeof batchWorld>
  /** The creator's account as each way of losing their standing leaves it: the row locked (status 2), and the deletion that holds it, if any. */
  const lockOuts: Record<string, (w: World) => void> = {
    deleted: (w) => w.users.add({ id: CREATOR, status: 2, isDeleted: true }),
    'soft-deleted': (w) => {
      w.users.add({ id: CREATOR, status: 2, isDeleted: true })
      w.states.set(CREATOR, { mode: 'soft', requestId: 'request-of-creator' })
    },
    'being deleted': (w) => {
      w.users.add({ id: CREATOR, status: 2, isDeleted: true })
      w.states.set(CREATOR, { mode: 'hard', requestId: 'request-of-creator' })
    },
  }
  /** Passes until the job is completed, each waiting for the slice it took. */
  async function workToTheEnd(w: World): Promise<void> {
    for (let pass = 0; pass < 10 && (await w.state()) !== 'completed'; pass++) {
      await w.runner.pass()
      await eventually(async () => expect((await w.jobs.slices(JOB_ID)).every((slice) => slice.done || slice.leaseUntil.getTime() === 0)).toBe(true))
    }
  }
  const lockedOut = (userId: string, slice: number, at: Date): BatchItem => ({ userId, slice, status: 'failed', err: LOCKED_OUT, attempts: 0, at })

  it.each(Object.keys(lockOuts))(
    "when the creator is %s while the job runs, then the users left are not deleted: in every slice they are failed with a locked-out person's code, without a pace token, and the job completes",
    async (standing) => {
      // One slice at a time: the later slices are taken after the creator lost their standing.
      const w = batchWorld({ concurrency: 1, maxDeletionsPerSecond: 100 })
      w.engine.during(U1, () => lockOuts[standing]?.(w))
      await w.submit([U1, U2, U3, U4, U5], 2)

      await workToTheEnd(w)

      // U1's deletion had begun: it is finished.
      expect(w.engine.users()).toEqual([U1])
      expect(await w.jobs.itemsPage(JOB_ID, 0, 10)).toEqual([deleted(U1, 0, START), lockedOut(U2, 0, START), lockedOut(U3, 1, START), lockedOut(U4, 1, START), lockedOut(U5, 2, START)])
      expect(w.timeline.count('jobs.takePaceToken')).toBe(1)
      expect(w.breakerChanges).toEqual([])
      const status = await readBatchStatus({ jobs: w.jobs, clock: w.clock }, { caller: CALLER, jobId: JOB_ID, offset: 0, limit: 10 })
      expect(status).toMatchObject({ state: 'completed', total: 5, done: 5, succeeded: 1, failed: { [LOCKED_OUT]: 4 }, progress: 100 })
    },
  )

  it('when the creator is locked out while a user waits for a pace token, then the standing is read again after the wait, and that user is not deleted', async () => {
    const w = batchWorld({ maxDeletionsPerSecond: 1 })
    w.clock.set(new Date(START.getTime() + 900))
    const second = Math.floor(START.getTime() / 1000)
    await w.submit([U1, U2])
    // Another instance spent this second's budget: U1 waits for the next second.
    expect(await w.jobs.takePaceToken(JOB_ID, second)).toBe(1)
    await w.runner.pass()
    await eventually(() => expect(w.timeline.count('jobs.takePaceToken')).toBeGreaterThanOrEqual(2))

    lockOuts.deleted?.(w)
    w.clock.set(new Date(START.getTime() + 1000))
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.users()).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([lockedOut(U1, 0, w.clock.now()), lockedOut(U2, 0, w.clock.now())])
    // U1 took the next second's first token; U2 took none.
    expect(await w.jobs.takePaceToken(JOB_ID, second + 1)).toBe(2)
  })

  it("when a user's deletion was opened by an earlier try before the creator was locked out, then that deletion is finished and the user recorded deleted, not failed", async () => {
    const w = batchWorld()
    await w.submit([U1, U2])
    // instance-b took the slice, opened U1's request and died; then the creator was deleted.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
    w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'in_progress', START))
    lockOuts.deleted?.(w)
    w.clock.advance(LEASE_MS + 1)

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.resumed).toEqual([batchRequestId(JOB_ID, U1)])
    expect(w.engine.users()).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, w.clock.now()), lockedOut(U2, 0, w.clock.now())])
  })

  it("when the creator's standing cannot be read (Cassandra in trouble), then no user is failed for it: no try of theirs is counted, the faults pause the job, and once Cassandra answers every user is deleted", async () => {
    const w = batchWorld()
    w.users.failNext('findUser', new DependencyUnavailableError('cassandra')).failNext('findUser', new DependencyUnavailableError('cassandra'))
    await w.submit([U1, U2, U3, U4])

    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))

    expect(await w.jobs.items(JOB_ID, 0)).toEqual([pending(U1, 0), pending(U2, 0), pending(U3, 0), pending(U4, 0)])
    expect(w.engine.users()).toEqual([])

    w.clock.advance(COOL_OFF_MS)
    await eventually(async () => expect(await w.state()).toBe('running'))
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect((await w.slice(0))?.tally).toMatchObject({ succeeded: 4, failed: {} })
    expect([...w.engine.users()].sort()).toEqual([U1, U2, U3, U4])
  })

  it('when the API consumer the job was submitted through is no longer admitted (taken out of the consumers file, or its deleteAnyUser trust withdrawn), then no user is deleted: each is failed with the 401 code a single delete of it would get', async () => {
    let admitted = true
    const asked: Caller[] = []
    const w = batchWorld({ maxDeletionsPerSecond: 100 }, undefined, (caller) => {
      asked.push(caller)
      return admitted
    })
    w.engine.during(U1, () => {
      admitted = false
    })
    await w.submit([U1, U2, U3])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    // U1's deletion had begun: it is finished.
    expect(w.engine.users()).toEqual([U1])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, START), lockedOut(U2, 0, START), lockedOut(U3, 0, START)])
    expect(w.timeline.count('jobs.takePaceToken')).toBe(1)
    expect(asked[0]).toMatchObject({ consumer: CALLER.consumer, userId: CREATOR })
  })

  it("when the job is a trusted consumer's, then no standing is read: no person stands behind it", async () => {
    const w = batchWorld()
    const consumer: Caller = { consumer: 'admin-consumer', userId: 'consumer:admin-consumer', roles: [], deleteAnyUser: true }
    await submitBatch({ jobs: w.jobs, clock: w.clock, sliceSize: 2 }, { jobId: JOB_ID, caller: consumer, userIds: [U1, U2] })

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.users.calls).toEqual([])
    expect(w.engine.users()).toEqual([U1, U2])
  })
})
