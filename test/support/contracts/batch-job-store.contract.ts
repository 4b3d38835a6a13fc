import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import type { BatchItem, BatchJob, BatchJobStore, SliceTally } from '../../../src/deletion/ports.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'

/** A BatchJobStore, told which job ids a case uses so a shared server can be tidied after it. */
export interface BatchJobStoreSubject extends ContractSubject {
  store: BatchJobStore
  /** The same stored jobs as another instance of the service reaches them (its own store object). */
  otherInstance(): BatchJobStore
  uses?(jobId: string): void
}

const SECOND = 1000
/** What a free slice's lease reads: it ran out long ago. */
const EPOCH = new Date(0)
/** A slice lease that still holds, for the writes a holder makes. */
const HELD = () => new Date(Date.now() + 30 * SECOND)
/** A second of the pace budget, in seconds since the epoch, as the runner names it. */
const PACE_SECOND = 1_716_199_736

/**
 * What the batch runner and the status route rely on from a BatchJobStore, run against the
 * in-memory fake (unit tier) and the Cassandra adapter (integration tier) alike.
 */
export function describeBatchJobStoreContract(implementation: string, factory: SubjectFactory<BatchJobStoreSubject>): void {
  const test = contractCase(factory)

  /** A job as submitBatch builds it (whole milliseconds), under a fresh id. */
  function newJob(s: BatchJobStoreSubject, fields: Partial<BatchJob> = {}): BatchJob {
    const now = new Date()
    const createdBy = randomUUID()
    const org = `org-${randomUUID()}`
    const job: BatchJob = {
      id: randomUUID(),
      createdBy,
      organisationIds: [org],
      caller: { consumer: `consumer-${randomUUID()}`, userId: createdBy, roles: [{ role: 'ORG_ADMIN', organisationIds: [org] }] },
      mode: 'hard',
      total: 0,
      slices: 1,
      state: 'running',
      createdAt: now,
      updatedAt: now,
      ...fields,
    }
    s.uses?.(job.id)
    return job
  }

  /** Recorded, then opened with its users: a job as a submit that went through leaves it. */
  async function createAndOpen(s: BatchJobStoreSubject, job: BatchJob, items: readonly Pick<BatchItem, 'userId' | 'slice'>[]): Promise<void> {
    expect(await s.store.create(job)).toBeUndefined()
    await s.store.open(job, items)
  }

  /** A job whose slices hold the given numbers of fresh users, created and opened; its users by slice. */
  async function created(s: BatchJobStoreSubject, usersPerSlice: readonly number[], fields: Partial<BatchJob> = {}) {
    const users = usersPerSlice.map((count) => Array.from({ length: count }, () => randomUUID()))
    const items = users.flatMap((ids, slice) => ids.map((userId) => ({ userId, slice })))
    const job = newJob(s, { total: items.length, slices: usersPerSlice.length, ...fields })
    await createAndOpen(s, job, items)
    return { job, users, items }
  }

  const pending = (userId: string, slice: number): BatchItem => ({ userId, slice, status: 'pending', attempts: 0 })
  /** A slice's items in a fixed order: the port promises none within a slice. */
  const byUser = (items: readonly BatchItem[]) => [...items].sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
  const sliceOf = async (s: BatchJobStoreSubject, jobId: string, slice: number) => (await s.store.slices(jobId)).find((state) => state.slice === slice)

  describe(`BatchJobStore contract: ${implementation}`, () => {
    describe('create and get', () => {
      test('when a job is created, then get answers it as written: creator, organisations, caller, mode, counts, state and times', async (s) => {
        const org = `org-${randomUUID()}`
        const { job } = await created(s, [2, 1], {
          organisationIds: [org],
          caller: {
            consumer: 'consumer-a',
            userId: 'creator-a',
            roles: [
              { role: 'ORG_ADMIN', organisationIds: [org] },
              { role: 'PUBLIC', organisationIds: [] },
            ],
            deleteAnyUser: false,
          },
          mode: 'soft',
        })

        expect(await s.store.get(job.id)).toEqual(job)
      })

      test("when a job has no mode and its creator's organisations repeat, then it reads back without a mode and each organisation once", async (s) => {
        const [a, b] = [`org-b-${randomUUID()}`, `org-a-${randomUUID()}`]
        const { mode: _mode, ...withoutMode } = newJob(s, { organisationIds: [a, b, a] })

        await createAndOpen(s, withoutMode, [])

        const stored = await s.store.get(withoutMode.id)
        expect(stored).toBeDefined()
        expect(stored && 'mode' in stored).toBe(false)
        expect([...(stored?.organisationIds ?? [])].sort()).toEqual([a, b].sort())
      })

      test('when the creator has no organisation, then the job reads back with none', async (s) => {
        const { job } = await created(s, [1], { organisationIds: [] })

        expect((await s.store.get(job.id))?.organisationIds).toEqual([])
      })

      test('when there is no such job, then get answers undefined', async (s) => {
        expect(await s.store.get(randomUUID())).toBeUndefined()
      })
    })

    describe('created and opened again: a retried submit', () => {
      test('when a job is created under an id already recorded, then nothing is recorded: the create answers the job first recorded, which reads as it was', async (s) => {
        const { job } = await created(s, [1])
        const later = new Date(job.createdAt.getTime() + 5 * SECOND)
        const other: BatchJob = { ...job, createdBy: randomUUID(), organisationIds: [], mode: 'soft', total: 7, slices: 3, createdAt: later, updatedAt: later }

        expect(await s.store.create(other)).toEqual(job)
        expect(await s.otherInstance().create(other)).toEqual(job)

        expect(await s.store.get(job.id)).toEqual(job)
        expect(await s.store.slices(job.id)).toHaveLength(1)
      })

      test('when creates under one id race (instances retrying one submit), then exactly one records its job, and the others answer that one', async (s) => {
        const first = newJob(s)
        const contenders = [first, ...[1, 2, 3].map(() => ({ ...first, createdBy: randomUUID() }))]
        const stores = [s.store, s.otherInstance(), s.store, s.otherInstance()]

        const answers = await Promise.all(contenders.map((job, index) => stores[index]?.create(job)))

        expect(answers.filter((answer) => answer === undefined)).toHaveLength(1)
        const recorded = contenders[answers.indexOf(undefined)]
        expect(await s.store.get(first.id)).toEqual(recorded)
        for (const answer of answers) if (answer) expect(answer).toEqual(recorded)
      })

      test('when several jobs are open, then the listing names every one of them, however many pages it takes', async (s) => {
        const jobs = [newJob(s), newJob(s), newJob(s), newJob(s), newJob(s)]
        for (const job of jobs) {
          await s.store.create(job)
          await s.store.open(job, [{ userId: randomUUID(), slice: 0 }])
        }

        const listed = await s.store.listOpen()

        for (const job of jobs) expect(listed).toContain(job.id)
        expect(new Set(listed).size).toBe(listed.length)
      })

      test('when a job is recorded and not opened (its submit stopped there), then it is not listed and has no slices or users; opened, it has them all and is listed', async (s) => {
        const job = newJob(s, { total: 3, slices: 2 })
        const items = [randomUUID(), randomUUID(), randomUUID()].map((userId, index) => ({ userId, slice: index < 2 ? 0 : 1 }))
        expect(await s.store.create(job)).toBeUndefined()

        expect(await s.store.get(job.id)).toEqual(job)
        expect(await s.store.listOpen()).not.toContain(job.id)
        expect(await s.store.slices(job.id)).toEqual([])
        expect(await s.store.itemsPage(job.id, 0, 10)).toEqual([])

        await s.otherInstance().open(job, items)

        expect(await s.store.listOpen()).toContain(job.id)
        expect(await s.store.slices(job.id)).toEqual([0, 1].map((slice) => ({ slice, done: false, leaseUntil: EPOCH, taken: false })))
        expect(byUser(await s.store.itemsPage(job.id, 0, 10))).toEqual(byUser(items.map((item) => pending(item.userId, item.slice))))
      })

      test('when a job is opened again after its users were worked, then nothing worked is reset: outcomes and tries, a slice’s holder, lease and counts stay; a user not written before is written pending', async (s) => {
        const [a0, a1, b0, b1] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()]
        const everyone = [
          { userId: a0, slice: 0 },
          { userId: a1, slice: 0 },
          { userId: b0, slice: 1 },
          { userId: b1, slice: 1 },
        ]
        const job = newJob(s, { total: 4, slices: 2 })
        // The first open wrote all but the last user (its submit failed there).
        await createAndOpen(s, job, everyone.slice(0, 3))
        const at = new Date('2024-05-20T10:09:00.123Z')
        await s.store.acquireSlice(job.id, 0, 'instance-a', new Date(), HELD())
        await s.store.recordItem(job.id, { userId: a0, slice: 0, status: 'deleted', attempts: 0, at }, HELD())
        await s.store.recordItem(job.id, { userId: a1, slice: 0, status: 'failed', err: 'UOS_USRDLT0008', attempts: 2, at }, HELD())
        const tally: SliceTally = { succeeded: 1, failed: { UOS_USRDLT0008: 1 }, firstSettledAt: at, lastSettledAt: at }
        await s.store.finishSlice(job.id, 0, tally, HELD())
        const heldUntil = new Date(Date.now() + 60 * SECOND)
        await s.store.acquireSlice(job.id, 1, 'instance-b', new Date(), heldUntil)
        await s.store.recordItem(job.id, { userId: b0, slice: 1, status: 'pending', attempts: 1 }, HELD())

        // Every user given again, as a retried submit that does not know what was written may give them.
        await s.otherInstance().open(job, everyone)

        expect(await s.store.slices(job.id)).toEqual([
          { slice: 0, done: true, leaseUntil: EPOCH, taken: true, tally },
          { slice: 1, done: false, leaseUntil: heldUntil, taken: true },
        ])
        expect(byUser(await s.store.itemsPage(job.id, 0, 10))).toEqual(
          byUser([
            { userId: a0, slice: 0, status: 'deleted', attempts: 0, at },
            { userId: a1, slice: 0, status: 'failed', err: 'UOS_USRDLT0008', attempts: 2, at },
            { userId: b0, slice: 1, status: 'pending', attempts: 1 },
            pending(b1, 1),
          ]),
        )
        expect(await s.store.listOpen()).toContain(job.id)
        // The slice is still instance-b's alone.
        expect(await s.store.acquireSlice(job.id, 1, 'instance-c', new Date(), new Date(Date.now() + 30 * SECOND))).toBe(false)
        expect(await s.store.renewSlice(job.id, 1, 'instance-b', heldUntil)).toBe(true)
      })

      test('when a job completed meanwhile is opened again (by a submit that read it running), then it stays completed and unlisted, its users as they were', async (s) => {
        const { job, users, items } = await created(s, [1])
        const userId = users[0]?.[0] as string
        const at = new Date('2024-05-20T10:09:00.123Z')
        await s.store.acquireSlice(job.id, 0, 'instance-a', new Date(), HELD())
        await s.store.recordItem(job.id, { userId, slice: 0, status: 'deleted', attempts: 0, at }, HELD())
        await s.store.complete(job.id)

        await s.store.open(job, items)

        expect((await s.store.get(job.id))?.state).toBe('completed')
        expect(await s.store.listOpen()).not.toContain(job.id)
        expect(await s.store.items(job.id, 0)).toEqual([{ userId, slice: 0, status: 'deleted', attempts: 0, at }])
      })
    })

    describe('created whole: a submit without an Idempotency-Key', () => {
      test('when a job is created whole, then it reads as recorded (its organisations a set, no mode when it has none), with its slices free and its users pending, and is listed open', async (s) => {
        const [a, b] = [`org-b-${randomUUID()}`, `org-a-${randomUUID()}`]
        const { mode: _mode, ...job } = newJob(s, { organisationIds: [a, b, a], total: 3, slices: 2 })
        const items = [randomUUID(), randomUUID(), randomUUID()].map((userId, index) => ({ userId, slice: index < 2 ? 0 : 1 }))

        await s.store.createWhole(job, items)

        expect(await s.otherInstance().get(job.id)).toEqual({ ...job, organisationIds: [a, b].sort() })
        expect(await s.otherInstance().listOpen()).toContain(job.id)
        expect(await s.store.slices(job.id)).toEqual([0, 1].map((slice) => ({ slice, done: false, leaseUntil: EPOCH, taken: false })))
        expect(byUser(await s.store.itemsPage(job.id, 0, 10))).toEqual(byUser(items.map((item) => pending(item.userId, item.slice))))
      })

      test('when a job created whole is worked and completed, then it is unlisted and reads completed, its outcomes kept', async (s) => {
        const job = newJob(s, { total: 1, slices: 1 })
        const userId = randomUUID()
        await s.store.createWhole(job, [{ userId, slice: 0 }])
        const at = new Date('2024-05-20T10:09:00.123Z')
        expect(await s.store.acquireSlice(job.id, 0, 'instance-a', new Date(), HELD())).toBe(true)
        await s.store.recordItem(job.id, { userId, slice: 0, status: 'deleted', attempts: 0, at }, HELD())

        await s.store.complete(job.id)

        expect((await s.store.get(job.id))?.state).toBe('completed')
        expect(await s.store.listOpen()).not.toContain(job.id)
        expect(await s.store.items(job.id, 0)).toEqual([{ userId, slice: 0, status: 'deleted', attempts: 0, at }])
      })
    })

    describe('items', () => {
      test('when a job is created, then each slice holds its own users, all pending with no tries; a slice or job with none answers none', async (s) => {
        const { job, users } = await created(s, [3, 2])

        expect(byUser(await s.store.items(job.id, 0))).toEqual(byUser(users[0]?.map((userId) => pending(userId, 0)) ?? []))
        expect(byUser(await s.store.items(job.id, 1))).toEqual(byUser(users[1]?.map((userId) => pending(userId, 1)) ?? []))
        expect(await s.store.items(job.id, 2)).toEqual([])
        expect(await s.store.items(randomUUID(), 0)).toEqual([])
      })

      test('when users are paged, then they come in slice order, from the offset, at most the limit, each page a run of the whole list', async (s) => {
        const users = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()]
        // Given out of slice order: the order of the pages is the store's, not the caller's.
        const items = [
          { userId: users[0] as string, slice: 2 },
          { userId: users[1] as string, slice: 0 },
          { userId: users[2] as string, slice: 1 },
          { userId: users[3] as string, slice: 0 },
          { userId: users[4] as string, slice: 1 },
        ]
        const job = newJob(s, { total: items.length, slices: 3 })
        await createAndOpen(s, job, items)

        const all = await s.store.itemsPage(job.id, 0, 10)

        expect(all.map((item) => item.slice)).toEqual([0, 0, 1, 1, 2])
        expect(byUser(all)).toEqual(byUser(items.map((item) => pending(item.userId, item.slice))))
        expect(await s.store.itemsPage(job.id, 1, 2)).toEqual(all.slice(1, 3))
        expect(await s.store.itemsPage(job.id, 3, 10)).toEqual(all.slice(3))
        expect(await s.store.itemsPage(job.id, 5, 10)).toEqual([])
        expect(await s.store.itemsPage(job.id, 0, 0)).toEqual([])
      })

      test('when outcomes are recorded, then each replaces the pending one, in the slice and in the pages, and the other users stay pending', async (s) => {
        const { job, users } = await created(s, [3])
        const [failed, retried, untouched] = users[0] as [string, string, string]
        const at = new Date('2024-05-20T10:09:00.123Z')

        await s.store.recordItem(job.id, { userId: failed, slice: 0, status: 'failed', err: 'UOS_USRDLT0013', attempts: 0, at }, HELD())
        await s.store.recordItem(job.id, { userId: retried, slice: 0, status: 'pending', attempts: 1 }, HELD())

        const expected: BatchItem[] = [
          { userId: failed, slice: 0, status: 'failed', err: 'UOS_USRDLT0013', attempts: 0, at },
          { userId: retried, slice: 0, status: 'pending', attempts: 1 },
          pending(untouched, 0),
        ]
        expect(byUser(await s.store.items(job.id, 0))).toEqual(byUser(expected))
        expect(byUser(await s.store.itemsPage(job.id, 0, 10))).toEqual(byUser(expected))
      })

      test('when a user is recorded cancelled, then they read back so, with the time', async (s) => {
        const { job, users } = await created(s, [1])
        const userId = users[0]?.[0] as string
        const at = new Date('2024-05-20T10:09:00.000Z')

        await s.store.recordItem(job.id, { userId, slice: 0, status: 'cancelled', attempts: 0, at }, HELD())

        expect(await s.store.items(job.id, 0)).toEqual([{ userId, slice: 0, status: 'cancelled', attempts: 0, at }])
      })

      test('when an outcome is recorded over an earlier one, then only the later reads back: a code or time it does not carry is gone', async (s) => {
        const { job, users } = await created(s, [1])
        const userId = users[0]?.[0] as string
        await s.store.recordItem(job.id, { userId, slice: 0, status: 'failed', err: 'UOS_USRDLT0064', attempts: 3, at: new Date('2024-05-20T10:09:00.000Z') }, HELD())

        await s.store.recordItem(job.id, { userId, slice: 0, status: 'pending', attempts: 3 }, HELD())

        expect(await s.store.items(job.id, 0)).toEqual([{ userId, slice: 0, status: 'pending', attempts: 3 }])
      })

      test("when the holder's slice lease has run out, then its outcome and its finish write nothing and say so", async (s) => {
        const { job, users } = await created(s, [1])
        const userId = users[0]?.[0] as string
        const lapsed = new Date(Date.now() - SECOND)

        expect(await s.store.recordItem(job.id, { userId, slice: 0, status: 'pending', attempts: 1 }, lapsed)).toBe(false)
        expect(await s.store.finishSlice(job.id, 0, { succeeded: 1, failed: {} }, lapsed)).toBe(false)

        expect(await s.store.items(job.id, 0)).toEqual([pending(userId, 0)])
        expect(await sliceOf(s, job.id, 0)).toMatchObject({ done: false })
      })
    })

    describe('state and the open list', () => {
      test('when the state is set, then get answers it with a newer updatedAt, and everything else as created', async (s) => {
        const { job } = await created(s, [1], { createdAt: new Date(Date.now() - 60 * SECOND), updatedAt: new Date(Date.now() - 60 * SECOND) })
        const before = Date.now()

        await s.store.setState(job.id, 'paused')

        const stored = await s.store.get(job.id)
        expect(stored).toEqual({ ...job, state: 'paused', updatedAt: expect.any(Date) })
        expect(stored?.updatedAt.getTime()).toBeGreaterThanOrEqual(before)
        expect(stored?.updatedAt.getTime()).toBeLessThanOrEqual(Date.now())

        await s.store.setState(job.id, 'running')

        expect((await s.store.get(job.id))?.state).toBe('running')
      })

      test('when a job is created, then it is listed open, paused or not, until it is completed', async (s) => {
        const { job } = await created(s, [1])

        expect(await s.store.listOpen()).toContain(job.id)
        await s.store.setState(job.id, 'paused')
        expect(await s.store.listOpen()).toContain(job.id)

        await s.store.complete(job.id)

        expect(await s.store.listOpen()).not.toContain(job.id)
        expect((await s.store.get(job.id))?.state).toBe('completed')
      })

      test('when a job is cancelled, then it reads cancelled by whom and when, its state, times and listing as they were; a breaker write since keeps the cancel', async (s) => {
        const { job } = await created(s, [1])
        const cancellation = { at: new Date('2024-05-20T10:09:00.123Z'), by: 'admin-b' }

        await s.store.cancel(job.id, cancellation)

        expect(await s.store.get(job.id)).toEqual({ ...job, cancelled: cancellation })
        expect(await s.store.listOpen()).toContain(job.id)
        await s.store.setState(job.id, 'paused')
        expect(await s.store.get(job.id)).toMatchObject({ state: 'paused', cancelled: cancellation })
        await s.store.complete(job.id)
        expect(await s.store.get(job.id)).toMatchObject({ state: 'completed', cancelled: cancellation })
      })

      test('when a cancelled job is cancelled again, then the first cancel stands, who and when: the second is told it was not recorded, and when the first was', async (s) => {
        const { job } = await created(s, [1])
        const first = { at: new Date('2024-05-20T10:09:00.123Z'), by: 'admin-a' }

        expect(await s.store.cancel(job.id, first)).toEqual({ recorded: true, at: first.at })
        expect(await s.store.cancel(job.id, { at: new Date('2024-05-20T10:09:05.456Z'), by: 'admin-b' })).toEqual({ recorded: false, at: first.at })

        expect((await s.store.get(job.id))?.cancelled).toEqual(first)
      })

      test('when cancels race (two operators, two instances), then exactly one is recorded, and every one is told when the one that stands was', async (s) => {
        const { job } = await created(s, [1])
        const cancels = [1, 2, 3, 4].map((n) => ({ at: new Date(Date.UTC(2024, 4, 20, 10, 9, 0, n)), by: `admin-${n}` }))
        const stores = [s.store, s.otherInstance(), s.store, s.otherInstance()]

        const outcomes = await Promise.all(cancels.map((cancel, index) => stores[index]?.cancel(job.id, cancel)))

        expect(outcomes.filter((outcome) => outcome?.recorded)).toHaveLength(1)
        const standing = cancels[outcomes.findIndex((outcome) => outcome?.recorded)]
        expect((await s.store.get(job.id))?.cancelled).toEqual(standing)
        for (const outcome of outcomes) expect(outcome?.at).toEqual(standing?.at)
      })

      test('when a completed job is completed again, then it stays completed and unlisted', async (s) => {
        const { job } = await created(s, [1])
        await s.store.complete(job.id)

        await s.store.complete(job.id)

        expect((await s.store.get(job.id))?.state).toBe('completed')
        expect(await s.store.listOpen()).not.toContain(job.id)
      })
    })

    describe('slices', () => {
      test('when a job is created, then each slice reads not done, free, never taken and without counts, in slice order', async (s) => {
        const { job } = await created(s, [1, 1, 1])

        expect(await s.store.slices(job.id)).toEqual([0, 1, 2].map((slice) => ({ slice, done: false, leaseUntil: EPOCH, taken: false })))
        expect(await s.store.slices(randomUUID())).toEqual([])
      })

      test('when a slice is taken, then it reads taken and held until the lease ends; the other slices stay untaken', async (s) => {
        const { job } = await created(s, [1, 1])
        const until = new Date(Date.now() + 30 * SECOND)

        expect(await s.store.acquireSlice(job.id, 1, 'instance-a', new Date(), until)).toBe(true)

        expect(await s.store.slices(job.id)).toEqual([
          { slice: 0, done: false, leaseUntil: EPOCH, taken: false },
          { slice: 1, done: false, leaseUntil: until, taken: true },
        ])
      })

      test('when a taken slice is finished, then it reads done with its counts, free, and still taken', async (s) => {
        const { job } = await created(s, [3, 1])
        await s.store.acquireSlice(job.id, 0, 'instance-a', new Date(), new Date(Date.now() + 30 * SECOND))
        const tally: SliceTally = {
          succeeded: 1,
          failed: { UOS_USRDLT0013: 1, UOS_USRDLT0008: 1 },
          firstSettledAt: new Date('2024-05-20T10:09:00.000Z'),
          lastSettledAt: new Date('2024-05-20T10:09:02.500Z'),
        }

        await s.store.finishSlice(job.id, 0, tally, HELD())

        expect(await s.store.slices(job.id)).toEqual([
          { slice: 0, done: true, leaseUntil: EPOCH, taken: true, tally },
          { slice: 1, done: false, leaseUntil: EPOCH, taken: false },
        ])
      })

      test('when a slice is finished with no failures and no settling times, then its counts read back as such', async (s) => {
        const { job } = await created(s, [2])
        await s.store.acquireSlice(job.id, 0, 'instance-a', new Date(), new Date(Date.now() + 30 * SECOND))

        await s.store.finishSlice(job.id, 0, { succeeded: 2, failed: {} }, HELD())

        expect(await sliceOf(s, job.id, 0)).toEqual({ slice: 0, done: true, leaseUntil: EPOCH, taken: true, tally: { succeeded: 2, failed: {} } })
      })

      test('when a slice is finished with users its job’s cancel spared, then its counts read them back', async (s) => {
        const { job } = await created(s, [3])
        await s.store.acquireSlice(job.id, 0, 'instance-a', new Date(), new Date(Date.now() + 30 * SECOND))

        await s.store.finishSlice(job.id, 0, { succeeded: 1, failed: {}, cancelled: 2 }, HELD())

        expect((await sliceOf(s, job.id, 0))?.tally).toEqual({ succeeded: 1, failed: {}, cancelled: 2 })
      })
    })

    describe('slice leases: one instance at a time', () => {
      test('when a slice is taken, then nobody takes it before its lease runs out, and anyone may after', async (s) => {
        const { job } = await created(s, [1])
        const start = new Date(Date.now() + 60 * SECOND)
        const until = new Date(start.getTime() + 30 * SECOND)
        const later = new Date(until.getTime() + 60 * SECOND)
        expect(await s.store.acquireSlice(job.id, 0, 'instance-a', start, until)).toBe(true)

        expect(await s.store.acquireSlice(job.id, 0, 'instance-b', new Date(until.getTime() - 1), later)).toBe(false)
        expect(await s.store.acquireSlice(job.id, 0, 'instance-b', until, later)).toBe(false)
        expect((await sliceOf(s, job.id, 0))?.leaseUntil).toEqual(until)

        expect(await s.store.acquireSlice(job.id, 0, 'instance-b', new Date(until.getTime() + 1), later)).toBe(true)
        expect((await sliceOf(s, job.id, 0))?.leaseUntil).toEqual(later)
      })

      test('when a slice read never taken was taken since, then taking it as never taken is refused, even once that lease was given back or ran out; taken as it is, it is not', async (s) => {
        const { job } = await created(s, [1])
        expect((await sliceOf(s, job.id, 0))?.taken).toBe(false)
        const until = new Date(Date.now() + 30 * SECOND)
        expect(await s.store.acquireSlice(job.id, 0, 'instance-a', new Date(), until, true)).toBe(true)
        await s.store.releaseSlice(job.id, 0, 'instance-a')
        const past = new Date(until.getTime() + 1)

        expect(await s.store.acquireSlice(job.id, 0, 'instance-b', past, new Date(past.getTime() + 30 * SECOND), true)).toBe(false)

        expect(await sliceOf(s, job.id, 0)).toMatchObject({ leaseUntil: EPOCH, taken: true })
        expect(await s.store.acquireSlice(job.id, 0, 'instance-b', past, new Date(past.getTime() + 30 * SECOND))).toBe(true)
      })

      test('when instances race for a free slice, then exactly one gets it', async (s) => {
        const { job } = await created(s, [1])
        const now = new Date()
        const owners = ['instance-a', 'instance-b', 'instance-c', 'instance-d']

        const taken = await Promise.all(owners.map((owner) => s.store.acquireSlice(job.id, 0, owner, now, new Date(now.getTime() + 30 * SECOND))))

        expect(taken.filter(Boolean)).toHaveLength(1)
      })

      test('when a finished slice is taken again (by a pass that read it before it was finished), then it reads not done until its new holder finishes it', async (s) => {
        const { job } = await created(s, [1])
        await s.store.acquireSlice(job.id, 0, 'instance-a', new Date(), new Date(Date.now() + 30 * SECOND))
        await s.store.finishSlice(job.id, 0, { succeeded: 1, failed: {} }, HELD())
        const until = new Date(Date.now() + 30 * SECOND)

        expect(await s.store.acquireSlice(job.id, 0, 'instance-b', new Date(), until)).toBe(true)

        expect(await sliceOf(s, job.id, 0)).toEqual({ slice: 0, done: false, leaseUntil: until, taken: true })
        await s.store.finishSlice(job.id, 0, { succeeded: 1, failed: {} }, HELD())
        expect(await sliceOf(s, job.id, 0)).toEqual({ slice: 0, done: true, leaseUntil: EPOCH, taken: true, tally: { succeeded: 1, failed: {} } })
      })

      test('when there is no such slice, then nobody takes it and no slice appears', async (s) => {
        const { job } = await created(s, [1])

        expect(await s.store.acquireSlice(job.id, 1, 'instance-a', new Date(), new Date(Date.now() + 30 * SECOND))).toBe(false)
        expect(await s.store.renewSlice(job.id, 1, 'instance-a', new Date(Date.now() + 30 * SECOND))).toBe(false)
        expect((await s.store.slices(job.id)).map((slice) => slice.slice)).toEqual([0])
      })

      test('when the holder renews, then it answers true and holds the slice until the new end', async (s) => {
        const { job } = await created(s, [1])
        const start = new Date(Date.now() + 60 * SECOND)
        const until = new Date(start.getTime() + 30 * SECOND)
        const renewedUntil = new Date(start.getTime() + 90 * SECOND)
        await s.store.acquireSlice(job.id, 0, 'instance-a', start, until)

        expect(await s.store.renewSlice(job.id, 0, 'instance-a', renewedUntil)).toBe(true)

        expect((await sliceOf(s, job.id, 0))?.leaseUntil).toEqual(renewedUntil)
        expect(await s.store.acquireSlice(job.id, 0, 'instance-b', new Date(until.getTime() + 1), new Date(renewedUntil.getTime() + 30 * SECOND))).toBe(false)
        expect(await s.store.acquireSlice(job.id, 0, 'instance-b', new Date(renewedUntil.getTime() + 1), new Date(renewedUntil.getTime() + 30 * SECOND))).toBe(true)
      })

      test("when another instance took the slice over, then the former holder's renewal answers false and leaves the new lease as it is", async (s) => {
        const { job } = await created(s, [1])
        const start = new Date(Date.now() + 60 * SECOND)
        const until = new Date(start.getTime() + 30 * SECOND)
        const takeoverUntil = new Date(until.getTime() + 30 * SECOND)
        await s.store.acquireSlice(job.id, 0, 'instance-a', start, until)
        expect(await s.store.acquireSlice(job.id, 0, 'instance-b', new Date(until.getTime() + 1), takeoverUntil)).toBe(true)

        expect(await s.store.renewSlice(job.id, 0, 'instance-a', new Date(takeoverUntil.getTime() + 60 * SECOND))).toBe(false)

        expect((await sliceOf(s, job.id, 0))?.leaseUntil).toEqual(takeoverUntil)
        expect(await s.store.renewSlice(job.id, 0, 'instance-b', new Date(takeoverUntil.getTime() + 30 * SECOND))).toBe(true)
      })

      test('when a slice was never taken, then no instance can renew it', async (s) => {
        const { job } = await created(s, [1])

        expect(await s.store.renewSlice(job.id, 0, 'instance-a', new Date(Date.now() + 30 * SECOND))).toBe(false)
        expect(await sliceOf(s, job.id, 0)).toEqual({ slice: 0, done: false, leaseUntil: EPOCH, taken: false })
      })

      test('when the holder releases a slice, then it reads free but taken, and another instance takes it at once', async (s) => {
        const { job } = await created(s, [1])
        await s.store.acquireSlice(job.id, 0, 'instance-a', new Date(), new Date(Date.now() + 60 * SECOND))

        await s.store.releaseSlice(job.id, 0, 'instance-a')

        expect(await sliceOf(s, job.id, 0)).toEqual({ slice: 0, done: false, leaseUntil: EPOCH, taken: true })
        const until = new Date(Date.now() + 30 * SECOND)
        expect(await s.store.acquireSlice(job.id, 0, 'instance-b', new Date(), until)).toBe(true)
        expect((await sliceOf(s, job.id, 0))?.leaseUntil).toEqual(until)
      })

      test('when an instance gives back a slice another instance has taken over since, then the new holder keeps it', async (s) => {
        const { job } = await created(s, [1])
        await s.store.acquireSlice(job.id, 0, 'instance-a', new Date(Date.now() - 60 * SECOND), new Date(Date.now() - SECOND))
        const until = new Date(Date.now() + 30 * SECOND)
        expect(await s.store.acquireSlice(job.id, 0, 'instance-b', new Date(), until)).toBe(true)

        await s.store.releaseSlice(job.id, 0, 'instance-a')

        expect((await sliceOf(s, job.id, 0))?.leaseUntil).toEqual(until)
        expect(await s.store.acquireSlice(job.id, 0, 'instance-c', new Date(), new Date(Date.now() + 30 * SECOND))).toBe(false)
      })
    })

    describe('the pace budget, shared by every instance', () => {
      test('when tokens of one second are taken, then each answers how many were taken in that second so far, whichever instance takes it', async (s) => {
        const job = newJob(s)
        const other = s.otherInstance()

        expect(await s.store.takePaceToken(job.id, PACE_SECOND)).toBe(1)
        expect(await other.takePaceToken(job.id, PACE_SECOND)).toBe(2)
        expect(await s.store.takePaceToken(job.id, PACE_SECOND)).toBe(3)
      })

      test('when another second begins, or another job takes a token, then its count starts from one; the earlier count goes on', async (s) => {
        const job = newJob(s)
        const otherJob = newJob(s)
        await s.store.takePaceToken(job.id, PACE_SECOND)
        await s.store.takePaceToken(job.id, PACE_SECOND)

        expect(await s.store.takePaceToken(job.id, PACE_SECOND + 1)).toBe(1)
        expect(await s.store.takePaceToken(otherJob.id, PACE_SECOND)).toBe(1)
        expect(await s.store.takePaceToken(job.id, PACE_SECOND)).toBe(3)
      })

      test('when instances take tokens of one second at once, then none is lost and no more callers see a count within a budget than it allows', async (s) => {
        const job = newJob(s)
        const stores = [s.store, s.otherInstance(), s.store, s.otherInstance(), s.store]

        const counts = await Promise.all(stores.map((store) => store.takePaceToken(job.id, PACE_SECOND)))

        // Sorted, the nth answer is at least n: a budget of n tokens lets at most n callers through.
        const sorted = [...counts].sort((a, b) => a - b)
        for (const [index, count] of sorted.entries()) expect(count).toBeGreaterThanOrEqual(index + 1)
        expect(Math.max(...counts)).toBe(stores.length)
        expect(await s.store.takePaceToken(job.id, PACE_SECOND)).toBe(stores.length + 1)
      })
    })
  })
}
