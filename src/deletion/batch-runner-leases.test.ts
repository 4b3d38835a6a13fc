import { afterEach, describe, expect, it, vi } from 'vitest'
import { batchRequestId, submitBatch } from './batch-job.js'
import { DependencyUnavailableError } from './errors.js'
import { FencePassedError } from './lease.js'
import { CALLER, JOB_ID, LEASE_MS, SETTINGS, START, U1, U2, U3, batchWorld, deleted, eventually, pending, requestOf, stopRunners, waitingForPace } from '../../test/support/batch-runner-world.js'

afterEach(stopRunners)

describe('BatchRunner: outcomes, leases and stopping', () => {
  it('when an outcome cannot be recorded, then the slice is not finished; a later pass records the user from the request their deletion opened, deleting no one again', async () => {
    const w = batchWorld()
    w.jobs.failNext('recordItem', new DependencyUnavailableError('cassandra'))
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))

    expect((await w.slice(0))?.done).toBe(false)
    expect(w.timeline.count('jobs.finishSlice')).toBe(0)
    expect(await w.item(U1)).toEqual(pending(U1, 0))
    expect(await w.item(U2)).toEqual(deleted(U2, 0, START))
    expect(w.errors).toEqual([expect.any(DependencyUnavailableError)])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.item(U1)).toEqual(deleted(U1, 0, START))
    expect((await w.slice(0))?.tally?.succeeded).toBe(2)
    expect(w.engine.users()).toEqual([U1, U2])
  })

  it('when a slice is taken over from an instance that died mid-user, then the request that instance opened is finished, and the user is not deleted a second time', async () => {
    const w = batchWorld()
    await w.submit([U1, U2])
    // instance-b took the slice and opened U1's request, then died.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
    w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'in_progress', START))

    await w.runner.pass()
    expect(w.timeline.count('jobs.acquireSlice')).toBe(1)
    w.clock.advance(LEASE_MS + 1)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.resumed).toEqual([batchRequestId(JOB_ID, U1)])
    expect(w.engine.users()).toEqual([U2])
    expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
  })

  it('when finishing the request an instance that died opened for a user meets a dependency in trouble, then the user stays pending with no try counted, never failed; once it recovers, they read deleted', async () => {
    // A breaker that never opens and a try limit of 2: counted tries would fail the user on the second pass.
    const w = batchWorld({ maxAttempts: 2, breaker: { ...SETTINGS.breaker, minAttempts: 100 } })
    await w.submit([U1])
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
    w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'in_progress', START))
    w.engine.down = true
    w.clock.advance(LEASE_MS + 1)

    for (let pass = 0; pass < 3; pass++) {
      await w.runner.pass()
      await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    }
    expect(await w.item(U1)).toEqual(pending(U1, 0, 0))

    w.engine.down = false
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
    expect(w.engine.users()).toEqual([])
  })

  it.each(['cancelled', 'cancelling'] as const)(
    'when the request an instance that died opened for a user was soft and is now %s by its person, then the user reads deleted and the slice finishes, never tried again for ever',
    async (state) => {
      const w = batchWorld()
      await w.submit([U1, U2])
      expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
      w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, state, START))

      w.clock.advance(LEASE_MS + 1)
      await w.runner.pass()
      await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

      expect(w.engine.resumed).toEqual([])
      expect(w.engine.users()).toEqual([U2])
      expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
    },
  )

  it("when the slice's lease is lost to another instance (its renewal refused), then this instance tries no further user of it, and neither finishes nor gives back the slice", async () => {
    const w = batchWorld()
    const takenOverUntil = new Date(START.getTime() + 2 * LEASE_MS)
    // Deleting U1 takes a third of the lease; instance-b, whose clock runs ahead, takes the slice meanwhile.
    w.engine.during(U1, async () => {
      w.clock.advance(LEASE_MS / 3)
      expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', new Date(START.getTime() + LEASE_MS + 1), takenOverUntil)).toBe(true)
    })
    await w.submit([U1, U2, U3])

    await w.runner.pass()
    await eventually(() => expect(w.timeline.count('jobs.renewSlice')).toBe(1))

    expect(w.engine.users()).toEqual([U1])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, w.clock.now()), pending(U2, 0), pending(U3, 0)])
    expect(await w.slice(0)).toEqual({ slice: 0, done: false, leaseUntil: takenOverUntil, taken: true })
    expect(w.timeline.count('jobs.finishSlice')).toBe(0)
    expect(w.timeline.count('jobs.releaseSlice')).toBe(0)
  })

  // workSlice gives the slice back whenever a user of it is still pending, also when it stopped
  // because renewSlice answered false: the release must leave the new holder's lease alone.
  it('when the lease is lost after a user of the slice was left pending, then the new holder keeps its lease', async () => {
    const w = batchWorld()
    const takenOverUntil = new Date(START.getTime() + 2 * LEASE_MS)
    w.engine.down = true
    w.engine.during(U1, async () => {
      w.clock.advance(LEASE_MS / 3)
      expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', new Date(START.getTime() + LEASE_MS + 1), takenOverUntil)).toBe(true)
    })
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(() => expect(w.timeline.count('jobs.renewSlice')).toBe(1))

    expect(await w.item(U1)).toEqual(pending(U1, 0, 1))
    expect((await w.slice(0))?.leaseUntil).toEqual(takenOverUntil)
  })

  it('when a deletion outlasts the slice lease and another instance finishes the slice meanwhile, then the late holder writes nothing: the outcomes and counts of the new holder stand', async () => {
    const w = batchWorld()
    const b = w.instance('instance-b')
    // instance-a's deletion of U1 stalls past its lease; instance-b takes the slice and settles
    // every user. Then a's deletion meets a dependency in trouble: it would record U1 pending.
    w.engine.during(U1, async () => {
      w.clock.advance(LEASE_MS + 1)
      await b.pass()
      await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
      w.engine.down = true
    })
    await w.submit([U1, U2])
    await w.runner.pass()
    await eventually(() => expect(w.timeline.count('jobs.recordItem(pending)')).toBe(1))
    const settledByB = await w.jobs.items(JOB_ID, 0)

    expect(settledByB.map((item) => item.status)).toEqual(['deleted', 'deleted'])
    expect(await w.slice(0)).toMatchObject({ done: true, tally: { succeeded: 2, failed: {} } })
    expect(w.timeline.count('jobs.finishSlice')).toBe(1)
    // a tried U1 (the stalled try), b tried U1 and U2; a tried nothing after its refused outcome and gave nothing back.
    expect(w.engine.users()).toEqual([U1, U1, U2])
    expect(w.timeline.count('jobs.releaseSlice')).toBe(0)
  })

  it('when renewing the lease fails (Cassandra in trouble), then the next user is left pending with no try counted, and nothing more of the slice is written', async () => {
    const w = batchWorld()
    w.engine.during(U1, () => {
      w.clock.advance(LEASE_MS / 3)
      w.jobs.failNext('renewSlice', new DependencyUnavailableError('cassandra'))
    })
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(() => expect(w.errors).toEqual([expect.any(DependencyUnavailableError)]))

    expect(w.engine.users()).toEqual([U1])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, w.clock.now()), pending(U2, 0)])
    expect(w.timeline.count('jobs.finishSlice')).toBe(0)
    expect(w.timeline.count('jobs.releaseSlice')).toBe(0)
  })

  it('when the holder keeps working past a third of its lease, then it renews the lease before the next user', async () => {
    const w = batchWorld()
    w.engine.during(U1, () => w.clock.advance(LEASE_MS / 3))
    await w.submit([U1, U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.timeline.count('jobs.renewSlice')).toBe(1)
    expect(w.engine.users()).toEqual([U1, U2])
  })

  it('when the instance stops mid-slice, then stop waits for the deletion in flight, which is recorded; no further user is tried and the slice is given back at once', async () => {
    const w = batchWorld()
    let finishDeletion: () => void = () => undefined
    w.engine.during(
      U1,
      () =>
        new Promise<void>((resolve) => {
          finishDeletion = resolve
        }),
    )
    await w.submit([U1, U2, U3])
    await w.runner.pass()
    await eventually(() => expect(w.engine.users()).toEqual([U1]))

    let stopped = false
    const stopping = w.runner.stop().then(() => {
      stopped = true
    })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(stopped).toBe(false)
    finishDeletion()
    await stopping

    expect(await w.jobs.items(JOB_ID, 0)).toEqual([deleted(U1, 0, START), pending(U2, 0), pending(U3, 0)])
    expect(await w.slice(0)).toEqual({ slice: 0, done: false, leaseUntil: new Date(0), taken: true })
    expect(w.engine.users()).toEqual([U1])
  })

  it("when a user's earlier request is still another runner's, then they stay pending with no try counted, the rest of the slice goes on, and they are settled once that request is finished", async () => {
    const w = batchWorld({ maxAttempts: 2 })
    await w.submit([U1, U2])
    // instance-b took the slice, opened U1's request and died; the request's lease outlives the slice's.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
    const held = batchRequestId(JOB_ID, U1)
    w.engine.seedRequest(requestOf(held, U1, 'in_progress', START)).holdLease(held)
    w.clock.advance(LEASE_MS + 1)

    for (let pass = 0; pass < 3; pass++) {
      await w.runner.pass()
      await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    }

    expect(await w.item(U1)).toEqual(pending(U1, 0))
    expect(await w.item(U2)).toEqual(deleted(U2, 0, w.clock.now()))
    expect(w.breakerChanges).toEqual([])

    w.engine.finishElsewhere(held)
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
    expect(w.engine.users()).toEqual([U2])
  })

  it('when another runner of the same user opened their request first, then this one settles the user from that request and opens none', async () => {
    const w = batchWorld()
    await w.submit([U1])
    // instance-b held the slice and lost it, but still works U1: it opens U1's request as this one creates it.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, START)).toBe(true)
    w.clock.advance(1)
    w.engine.during(U1, () => w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'in_progress', START)))

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.calls.map((call) => call.fencedBy)).toEqual([undefined])
    expect(w.engine.resumed).toEqual([batchRequestId(JOB_ID, U1)])
    expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
  })

  it('when the instance stops while it waits for the pace budget, then no deletion starts after the stop, and the slice is given back', async () => {
    const w = batchWorld({ maxDeletionsPerSecond: 1 })
    w.clock.set(new Date(START.getTime() + 900))
    await w.submit([U1, U2])
    // Another instance spent this second's budget.
    expect(await w.jobs.takePaceToken(JOB_ID, Math.floor(START.getTime() / 1000))).toBe(1)
    await w.runner.pass()
    await eventually(() => expect(w.timeline.count('jobs.takePaceToken')).toBeGreaterThanOrEqual(2))

    const stopping = w.runner.stop()
    w.clock.set(new Date(START.getTime() + 1000))
    await stopping

    expect(w.engine.users()).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([pending(U1, 0), pending(U2, 0)])
    expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0))
  })

  it('when the holder waits for the pace budget longer than a third of its lease, then it renews the lease meanwhile, so no other instance takes the slice', async () => {
    const { w, later } = await waitingForPace()
    const renewals = w.timeline.count('jobs.renewSlice')

    w.clock.set(later)

    await eventually(() => expect(w.timeline.count('jobs.renewSlice')).toBe(renewals + 1))
    expect((await w.slice(0))?.leaseUntil).toEqual(new Date(later.getTime() + LEASE_MS))
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', later, new Date(later.getTime() + LEASE_MS))).toBe(false)
    expect(w.engine.users()).toEqual([])
  })

  it('when renewing the lease fails while the holder waits for the pace budget (Cassandra in trouble), then the user is left pending with no try counted', async () => {
    const { w, later } = await waitingForPace()
    w.jobs.failNext('renewSlice', new DependencyUnavailableError('cassandra'))

    w.clock.set(later)

    await eventually(() => expect(w.errors).toHaveLength(1))
    await eventually(async () => expect(w.timeline.count('jobs.renewSlice')).toBe(1))
    expect(await w.item(U1)).toEqual(pending(U1, 0, 0))
    expect(w.engine.users()).toEqual([])
  })

  it('when the holder waits out an open breaker for longer than a third of its lease, then it renews the lease meanwhile, so no other instance takes the slice', async () => {
    // A cool-off longer than the lease: the breaker stays open throughout.
    const w = batchWorld({ breaker: { ...SETTINGS.breaker, coolOffMs: 2 * LEASE_MS } })
    w.engine.down = true
    await w.submit([U1, U2, U3])
    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))
    const renewals = w.timeline.count('jobs.renewSlice')

    w.clock.advance(LEASE_MS / 3)

    await eventually(() => expect(w.timeline.count('jobs.renewSlice')).toBe(renewals + 1))
    expect((await w.slice(0))?.leaseUntil).toEqual(new Date(w.clock.now().getTime() + LEASE_MS))
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', w.clock.now(), new Date(w.clock.now().getTime() + LEASE_MS))).toBe(false)
  })

  it('when one job cannot be read in a pass, then the jobs after it are still worked in that pass, and it is worked in the next', async () => {
    const w = batchWorld()
    await w.submit([U1])
    await submitBatch({ jobs: w.jobs, clock: w.clock, sliceSize: 1 }, { jobId: 'job-2', caller: CALLER, userIds: [U2], mode: 'hard' })
    w.jobs.failNext('slices', new DependencyUnavailableError('cassandra'))

    await w.runner.pass()
    await eventually(async () => expect((await w.jobs.slices('job-2'))[0]?.done).toBe(true))
    expect(w.errors).toHaveLength(1)
    expect(w.engine.users()).toEqual([U2])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))
    expect(w.engine.users()).toEqual([U2, U1])
  })

  it('when the instance has stopped, then a pass takes no more work', async () => {
    const w = batchWorld()
    await w.submit([U1])
    await w.runner.stop()

    await w.runner.pass()

    expect(w.timeline.count('jobs.listOpen')).toBe(0)
    expect(w.engine.users()).toEqual([])
  })
})

describe('BatchRunner: the create of a deletion no earlier try can have opened', () => {
  it('when a user of a slice never taken is tried for the first time, then their deletion is created fenced by the slice lease, with no read of an earlier request first', async () => {
    const w = batchWorld()
    await w.submit([U1])
    const reads = vi.spyOn(w.engine, 'get')

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.calls).toEqual([
      { requestId: batchRequestId(JOB_ID, U1), requestIdChosenBy: 'derived', fencedBy: new Date(START.getTime() + LEASE_MS), mayBegin: expect.any(Function), userId: U1, caller: CALLER, mode: 'hard' },
    ])
    expect(reads).not.toHaveBeenCalled()
    expect(await w.item(U1)).toEqual(deleted(U1, 0, START))
  })

  it('when a user was tried before, or their slice was taken before, then their earlier request is looked for first and their deletion is created by compare-and-set, not fenced', async () => {
    const w = batchWorld()
    await w.submit([U1, U2, U3], 2)
    // U1 was tried once (a dependency in trouble): the try count alone says an earlier try may exist.
    expect(await w.jobs.recordItem(JOB_ID, pending(U1, 0, 1), new Date(START.getTime() + 1))).toBe(true)
    // Slice 1 was taken by instance-b, which died.
    expect(await w.jobs.acquireSlice(JOB_ID, 1, 'instance-b', START, START)).toBe(true)
    w.clock.advance(1)

    await w.runner.pass()
    await eventually(async () => expect((await w.jobs.slices(JOB_ID)).every((slice) => slice.done)).toBe(true))

    const fencedBy = Object.fromEntries(w.engine.calls.map((call) => [call.userId, call.fencedBy]))
    expect(fencedBy).toEqual({ [U1]: undefined, [U2]: new Date(START.getTime() + 1 + LEASE_MS), [U3]: undefined })
    // Those by compare-and-set are sent within the slice lease all the same.
    const sentWithin = Object.fromEntries(w.engine.calls.map((call) => [call.userId, call.sentWithin]))
    expect(sentWithin).toEqual({ [U1]: new Date(START.getTime() + 1 + LEASE_MS), [U2]: undefined, [U3]: new Date(START.getTime() + 1 + LEASE_MS) })
  })

  it("when a user's create is answered only after the slice lease ended, then the slice's work ends as with a lease lost: the user stays pending, no try counted, nobody after them tried, the slice neither finished nor given back", async () => {
    const w = batchWorld()
    await w.submit([U1, U2])
    w.engine.refuse(U1, new FencePassedError(batchRequestId(JOB_ID, U1)))

    await w.runner.pass()
    await eventually(() => expect(w.engine.calls).toHaveLength(1))
    await w.runner.stop()

    expect(w.engine.users()).toEqual([U1])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([pending(U1, 0), pending(U2, 0)])
    expect(w.timeline.entries.filter((entry) => /^jobs\.(recordItem|finishSlice|releaseSlice|renewSlice)/.test(entry))).toEqual([])
    expect(w.breakerChanges).toEqual([])
    expect(w.errors).toEqual([])
  })

  it('when another instance takes a slice this pass read never taken, before this pass takes it, then this pass leaves it even once that lease has run out; the next takes it as taken before and finishes the request opened meanwhile', async () => {
    const w = batchWorld()
    await w.submit([U1])
    const read = w.jobs.slices.bind(w.jobs)
    vi.spyOn(w.jobs, 'slices').mockImplementationOnce(async (jobId) => {
      const slices = await read(jobId)
      // Right after this read: instance-b takes the slice, opens U1's request and dies; its lease runs out.
      expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, new Date(START.getTime() + LEASE_MS))).toBe(true)
      w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, U1), U1, 'in_progress', START))
      w.clock.advance(LEASE_MS + 1)
      return slices
    })

    await w.runner.pass()
    expect(await w.slice(0)).toMatchObject({ leaseUntil: new Date(START.getTime() + LEASE_MS), taken: true })
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(w.engine.calls).toEqual([])
    expect(w.engine.resumed).toEqual([batchRequestId(JOB_ID, U1)])
    expect(await w.item(U1)).toEqual(deleted(U1, 0, w.clock.now()))
  })
})
