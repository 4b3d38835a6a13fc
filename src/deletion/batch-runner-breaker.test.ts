import { afterEach, describe, expect, it } from 'vitest'
import { deferred } from '../../test/support/wait-until.js'
import { batchRequestId } from './batch-job.js'
import { DependencyUnavailableError } from './errors.js'
import { COOL_OFF_MS, CREATOR, JOB_ID, SETTINGS, START, U1, U2, U3, U4, UNAVAILABLE, batchWorld, deleted, eventually, pending, requestOf, stopRunners } from '../../test/support/batch-runner-world.js'

afterEach(stopRunners)

describe('BatchRunner: a dependency in trouble', () => {
  /** Two deletions meeting Keycloak down open the breaker (two attempts, every one a fault). */
  async function pausedJob() {
    const w = batchWorld()
    w.engine.down = true
    await w.submit([U1, U2, U3, U4])
    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))
    return w
  }

  it('when deletions meet a dependency in trouble, then the breaker opens, the job reads paused, the users stay pending with the try counted, and nobody is tried while it is open', async () => {
    const w = await pausedJob()

    expect(w.breakerChanges).toEqual(['opened'])
    expect(await w.item(U1)).toEqual(pending(U1, 0, 1))
    expect(await w.item(U2)).toEqual(pending(U2, 0, 1))
    // The runner looks at the breaker again every 250 ms: wait past one look.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(w.engine.users()).toEqual([U1, U2])
  })

  it('when the dependency recovers after the cool-off, then one probe goes through, the job runs again, and a later pass deletes the users left pending', async () => {
    const w = await pausedJob()
    w.engine.down = false

    w.clock.advance(COOL_OFF_MS)

    await eventually(async () => expect(await w.state()).toBe('running'))
    expect(w.breakerChanges).toEqual(['opened', 'closed'])
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    expect((await w.slice(0))?.done).toBe(false)
    const recovered = new Date(START.getTime() + COOL_OFF_MS)
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([pending(U1, 0, 1), pending(U2, 0, 1), deleted(U3, 0, recovered), deleted(U4, 0, recovered)])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect((await w.slice(0))?.tally?.succeeded).toBe(4)
    expect(await w.item(U1)).toEqual(deleted(U1, 0, recovered, 1))
    expect(w.engine.users()).toEqual([U1, U2, U3, U4, U1, U2])
  })

  it('when a restarted job finds an earlier request for each user and finishing them meets a dependency in trouble, then the faults open the breaker: the job reads paused, no further request is resumed while it is open, and the users stay pending with no try counted; once it recovers they read deleted', async () => {
    const w = batchWorld()
    const users = [U1, U2, U3, U4]
    for (const userId of users) w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, userId), userId, 'in_progress', START))
    w.engine.down = true
    await w.submit(users)
    // Every one of them was tried by instance-b, which took the slice before and died.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, START)).toBe(true)
    w.clock.advance(1)

    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))

    expect(w.breakerChanges).toEqual(['opened'])
    // The runner looks at the breaker again every 250 ms: wait past one look.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(w.engine.resumed).toEqual([batchRequestId(JOB_ID, U1), batchRequestId(JOB_ID, U2)])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual(users.map((userId) => pending(userId, 0)))

    w.engine.down = false
    w.clock.advance(COOL_OFF_MS)
    await eventually(async () => expect(await w.state()).toBe('running'))
    expect(w.breakerChanges).toEqual(['opened', 'closed'])
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.jobs.items(JOB_ID, 0)).toEqual(users.map((userId) => deleted(userId, 0, w.clock.now())))
    expect(w.engine.users()).toEqual([])
  })

  it('when a restarted job cannot look for the requests earlier tries opened (Cassandra read timeouts while writes land), then no try is counted: the faults open the breaker, each reported once, the users stay pending and are never failed, while the sweeper may be finishing their deletions; once reads answer they read deleted', async () => {
    // One try allowed: a try counted for the failed read would fail the user at once.
    const w = batchWorld({ maxAttempts: 1 })
    const users = [U1, U2, U3, U4]
    for (const userId of users) w.engine.seedRequest(requestOf(batchRequestId(JOB_ID, userId), userId, 'in_progress', START))
    await w.submit(users)
    // Every one of them was tried by instance-b, which took the slice before and died.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, START)).toBe(true)
    w.clock.advance(1)
    let readsFail = true
    const get = w.engine.get.bind(w.engine)
    w.engine.get = async (requestId) => {
      if (readsFail) throw new DependencyUnavailableError('cassandra')
      return get(requestId)
    }

    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))

    expect(await w.jobs.items(JOB_ID, 0)).toEqual(users.map((userId) => pending(userId, 0)))
    expect(w.breakerChanges).toEqual(['opened'])
    expect(w.errors).toEqual([expect.any(DependencyUnavailableError), expect.any(DependencyUnavailableError)])
    expect(w.engine.resumed).toEqual([])

    readsFail = false
    w.clock.advance(COOL_OFF_MS)
    await eventually(async () => expect(await w.state()).toBe('running'))
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.jobs.items(JOB_ID, 0)).toEqual(users.map((userId) => deleted(userId, 0, w.clock.now())))
    expect(w.engine.users()).toEqual([])
  })

  it("when the probe after the cool-off meets a user whose request is still another runner's, then the next user probes instead: the breaker closes and the job runs again", async () => {
    const w = batchWorld()
    // U3 comes first after the outage; an earlier try of theirs opened a request another runner still holds.
    const held = batchRequestId(JOB_ID, U3)
    w.engine.seedRequest(requestOf(held, U3, 'in_progress', START)).holdLease(held)
    w.engine.down = true
    await w.submit([U1, U2, U3, U4])
    // That try was instance-b's, which took the slice before and died.
    expect(await w.jobs.acquireSlice(JOB_ID, 0, 'instance-b', START, START)).toBe(true)
    w.clock.advance(1)
    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))
    w.engine.down = false

    w.clock.advance(COOL_OFF_MS)

    await eventually(async () => expect(await w.state()).toBe('running'))
    expect(w.breakerChanges).toEqual(['opened', 'closed'])
    await eventually(async () => expect(await w.item(U4)).toEqual(deleted(U4, 0, w.clock.now())))
    // U3 is left as they were, for the runner that holds their request.
    expect(await w.item(U3)).toEqual(pending(U3, 0))
  })

  it("when the probe after the cool-off cannot read the job's own state (the creator's standing), then that is the probe's fault: the breaker opens again for another cool-off, and the next user waits instead of probing at once", async () => {
    const w = batchWorld()
    const findUser = w.users.findUser.bind(w.users)
    let reads = 0
    w.users.findUser = async () => {
      reads++
      throw new DependencyUnavailableError('cassandra')
    }
    await w.submit([U1, U2, U3, U4])
    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))
    const readsWhileOpen = reads

    w.clock.advance(COOL_OFF_MS)
    await eventually(() => expect(reads).toBe(readsWhileOpen + 1))
    // The runner looks at the breaker again every 250 ms: wait past a few looks.
    await new Promise((resolve) => setTimeout(resolve, 600))

    expect(reads).toBe(readsWhileOpen + 1)
    expect(w.breakerChanges).toEqual(['opened'])
    expect(w.engine.users()).toEqual([])
    expect(await w.jobs.items(JOB_ID, 0)).toEqual([pending(U1, 0), pending(U2, 0), pending(U3, 0), pending(U4, 0)])
    w.users.findUser = findUser
  })

  it("when the slice's users cannot be listed (Cassandra in trouble), then the slice is given back at once, not held until its lease runs out, and the next pass works it", async () => {
    const w = batchWorld()
    await w.submit([U1, U2])
    const items = w.jobs.items.bind(w.jobs)
    let listings = 0
    w.jobs.items = async (jobId, slice) => {
      if (++listings === 1) throw new DependencyUnavailableError('cassandra')
      return items(jobId, slice)
    }

    await w.runner.pass()
    await eventually(() => expect(w.timeline.count('jobs.releaseSlice')).toBe(1))
    expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0))

    // Passes until the failed work has ended on this instance too (no clock moves: the lease given back is what lets it in).
    await eventually(async () => {
      await w.runner.pass()
      expect((await w.slice(0))?.done).toBe(true)
    })
    expect(w.engine.users()).toEqual([U1, U2])
  })

  it("when another instance's breaker left the job reading paused (that instance stopped before its breaker closed), then this instance, deleting with its own breaker closed, shows the job running again: once per slice, not per user", async () => {
    const w = batchWorld()
    await w.submit([U1, U2, U3])
    await w.jobs.setState(JOB_ID, 'paused')

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.state()).toBe('running')
    expect(w.timeline.count('jobs.setState(running)')).toBe(1)
  })

  it('when a deletion begun before the breaker opened succeeds while it is open, then the job keeps reading paused', async () => {
    const w = batchWorld({ concurrency: 2 })
    const u1Held = deferred<void>()
    w.engine.during(U1, () => u1Held.promise)
    w.engine.refuse(U3, new DependencyUnavailableError('keycloak')).refuse(U4, new DependencyUnavailableError('keycloak'))
    await w.submit([U1, U2, U3, U4], 2)

    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))
    u1Held.resolve()
    await eventually(async () => expect((await w.item(U1))?.status).toBe('deleted'))

    expect(await w.state()).toBe('paused')
    expect(w.timeline.count('jobs.setState(running)')).toBe(0)
  })

  it("when the slice's users keep failing to be listed, then the faults open the breaker, and while it is open no pass takes the slice again; after each cool-off one does, and its failure opens the breaker again", async () => {
    const w = batchWorld()
    await w.submit([U1, U2])
    w.jobs.items = async () => {
      throw new DependencyUnavailableError('cassandra')
    }
    // Passes until the faults (two: the breaker's minimum) have opened it.
    await eventually(async () => {
      await w.runner.pass()
      expect(w.breakerChanges).toEqual(['opened'])
    })
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    const taken = w.timeline.count('jobs.acquireSlice')

    for (let pass = 0; pass < 3; pass++) await w.runner.pass()

    expect(w.timeline.count('jobs.acquireSlice')).toBe(taken)
    w.clock.advance(COOL_OFF_MS)
    await w.runner.pass()
    expect(w.timeline.count('jobs.acquireSlice')).toBe(taken + 1)
    // That take was the probe, and its listing failed: open again, for another cool-off.
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    for (let pass = 0; pass < 3; pass++) await w.runner.pass()
    expect(w.timeline.count('jobs.acquireSlice')).toBe(taken + 1)
    w.clock.advance(COOL_OFF_MS)
    await w.runner.pass()
    expect(w.timeline.count('jobs.acquireSlice')).toBe(taken + 2)
  })

  it("when the job is cancelled through another instance while this one's breaker is open, then a pass still takes its free slices and settles their users cancelled, without waiting out the cool-off", async () => {
    const w = batchWorld({ concurrency: 1 })
    w.engine.down = true
    await w.submit([U1, U2, U3, U4], 2)
    await w.runner.pass()
    await eventually(async () => expect(await w.state()).toBe('paused'))
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    await w.jobs.cancel(JOB_ID, { at: w.clock.now(), by: CREATOR })
    w.clock.advance(1000)

    await eventually(async () => {
      await w.runner.pass()
      expect((await w.jobs.slices(JOB_ID)).every((slice) => slice.done)).toBe(true)
    })

    expect(w.engine.users()).toEqual([U1, U2])
    expect((await w.jobs.itemsPage(JOB_ID, 0, 10)).map((item) => [item.userId, item.status])).toEqual([
      [U1, 'cancelled'],
      [U2, 'cancelled'],
      [U3, 'cancelled'],
      [U4, 'cancelled'],
    ])
  })

  it('when a user meets a dependency in trouble on every try up to the limit, then they are recorded failed with the unavailable code and the slice is finished', async () => {
    // A breaker that never opens: the try limit alone ends the user.
    const w = batchWorld({ maxAttempts: 2, breaker: { ...SETTINGS.breaker, minAttempts: 100 } })
    w.engine.down = true
    await w.submit([U1])

    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.leaseUntil).toEqual(new Date(0)))
    expect(await w.item(U1)).toEqual(pending(U1, 0, 1))
    await w.runner.pass()
    await eventually(async () => expect((await w.slice(0))?.done).toBe(true))

    expect(await w.item(U1)).toEqual({ userId: U1, slice: 0, status: 'failed', err: UNAVAILABLE, attempts: 2, at: START })
    expect((await w.slice(0))?.tally).toMatchObject({ succeeded: 0, failed: { [UNAVAILABLE]: 1 } })
  })
})
