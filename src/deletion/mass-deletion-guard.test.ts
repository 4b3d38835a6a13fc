import { describe, expect, it, vi } from 'vitest'
import { InMemoryRequesterDeletionCounts } from '../../test/support/fakes/in-memory-requester-deletion-counts.js'
import type { Caller } from './caller.js'
import type { DeletionInput, DeletionOutcome } from './delete-account.js'
import { DeletionLimitReachedError, DependencyUnavailableError, UserNotFoundError } from './errors.js'
import { guardMassDeletion, requesterOf } from './mass-deletion-guard.js'
import { seededRandom } from '../../test/support/seeded-random.js'

const MINUTE_MS = 60_000
/** 10:00 of some day, in minutes since the epoch: the guard counts per minute. */
const M = 480_000 * 60
const admin: Caller = { consumer: 'portal', userId: 'admin-1', roles: [] }
const REQUESTER = 'user:admin-1'

let ids = 0
const deletionOf = (userId = `user-${++ids}`, caller: Caller = admin): DeletionInput => ({ requestId: `req-${++ids}`, userId, caller })
const deleted = (input: DeletionInput): DeletionOutcome => ({ kind: 'deleted', mode: 'default', requestId: input.requestId })
const clockAt = (ms: number) => ({ now: () => new Date(ms) })
/** The requester's count over the hour that ends with minute `at`, as the guard reads it. */
const counted = async (counts: InMemoryRequesterDeletionCounts, at = M) => (await counts.countsBetween(REQUESTER, at - 59, at)).reduce((sum, entry) => sum + entry.count, 0)

/** Settles each promise: the outcome, or the error it threw. */
const settle = <T>(promises: Promise<T>[]) =>
  Promise.all(
    promises.map((promise) =>
      promise.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
    ),
  )

/** Waits a few turns of the event loop, so calls in flight overlap in another order each time. */
const turns = async (count: number) => {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** A deletion that runs until `finish` is called, so the test decides what is in flight at once. */
function heldDeletion() {
  let finish!: () => void
  const finished = new Promise<void>((resolve) => {
    finish = resolve
  })
  const deleteAccount = vi.fn(async (input: DeletionInput) => {
    await finished
    return deleted(input)
  })
  return { deleteAccount, finish }
}

describe('requesterOf', () => {
  it('when a person deletes, then the count is theirs, whichever consumer carried the call', () => {
    expect(requesterOf({ consumer: 'portal', userId: 'u-1', roles: [] })).toBe('user:u-1')
    expect(requesterOf({ consumer: 'mobile', userId: 'u-1', roles: [] })).toBe('user:u-1')
  })

  it('when a trusted consumer deletes with no person behind it, then the count is the consumer’s', () => {
    expect(requesterOf({ consumer: 'notifier', userId: 'consumer:notifier', roles: [], deleteAnyUser: true })).toBe('consumer:notifier')
  })
})

describe('guardMassDeletion', () => {
  it('when 10 deletions of one requester run at once with a limit of 2, then at most 2 succeed, the rest get 429, and only the successes stay counted (many interleavings)', async () => {
    const succeededPerRun: number[] = []
    for (let seed = 1; seed <= 40; seed++) {
      const next = seededRandom(seed)
      const counts = new InMemoryRequesterDeletionCounts(() => turns(Math.floor(next() * 4)))
      const guarded = guardMassDeletion({ counts, clock: clockAt(M * MINUTE_MS), maxPerHour: 2 }, async (input) => {
        await turns(1 + Math.floor(next() * 4))
        return deleted(input)
      })

      // They arrive within a few turns of each other, each one's calls slowed down at random.
      const outcomes = await settle(Array.from({ length: 10 }, () => turns(Math.floor(next() * 6)).then(() => guarded(deletionOf()))))

      const succeeded = outcomes.filter((outcome) => 'value' in outcome).length
      expect(succeeded, `seed ${seed}`).toBeLessThanOrEqual(2)
      for (const outcome of outcomes) if ('error' in outcome) expect(outcome.error, `seed ${seed}`).toBeInstanceOf(DeletionLimitReachedError)
      expect(await counted(counts), `seed ${seed}`).toBe(succeeded)
      succeededPerRun.push(succeeded)
    }
    // Not refusing everything: a burst may refuse a few more than needed (reservations of deletions
    // then refused were still held when others read), yet many use the whole limit.
    expect(succeededPerRun.filter((succeeded) => succeeded === 2).length).toBeGreaterThan(10)
  })

  it('when deletions are still in flight up to the limit, then the next one is refused before it starts, although none has finished yet', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    const { deleteAccount, finish } = heldDeletion()
    const guarded = guardMassDeletion({ counts, clock: clockAt(M * MINUTE_MS), maxPerHour: 2 }, deleteAccount)
    const inFlight = [guarded(deletionOf()), guarded(deletionOf())]
    await vi.waitFor(() => expect(deleteAccount).toHaveBeenCalledTimes(2))

    await expect(guarded(deletionOf())).rejects.toBeInstanceOf(DeletionLimitReachedError)

    expect(deleteAccount).toHaveBeenCalledTimes(2)
    finish()
    await Promise.all(inFlight)
    expect(await counted(counts)).toBe(2)
    await expect(guarded(deletionOf())).rejects.toBeInstanceOf(DeletionLimitReachedError)
  })

  it('when the limit is reached, then the refusals give their reservation back: the count stays at the limit, and another requester is not limited', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    const deleteAccount = vi.fn(async (input: DeletionInput) => deleted(input))
    const guarded = guardMassDeletion({ counts, clock: clockAt(M * MINUTE_MS), maxPerHour: 2 }, deleteAccount)
    await guarded(deletionOf())
    await guarded(deletionOf())

    for (let i = 0; i < 5; i++) await expect(guarded(deletionOf())).rejects.toBeInstanceOf(DeletionLimitReachedError)

    expect(deleteAccount).toHaveBeenCalledTimes(2)
    expect(await counted(counts)).toBe(2)
    await expect(guarded(deletionOf('user-x', { consumer: 'portal', userId: 'admin-2', roles: [] }))).resolves.toMatchObject({ kind: 'deleted' })
  })

  it('when a deletion is refused or fails, then its error is answered and its reservation given back, so it takes no place of the limit', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    const errors = [new UserNotFoundError('no such user'), new DependencyUnavailableError('keycloak')]
    const guarded = guardMassDeletion({ counts, clock: clockAt(M * MINUTE_MS), maxPerHour: 1 }, async (input) => {
      const error = errors.shift()
      if (error) throw error
      return deleted(input)
    })

    await expect(guarded(deletionOf())).rejects.toBeInstanceOf(UserNotFoundError)
    await expect(guarded(deletionOf())).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(await counted(counts)).toBe(0)

    await expect(guarded(deletionOf())).resolves.toMatchObject({ kind: 'deleted' })
    expect(await counted(counts)).toBe(1)
  })

  it('when the minute ends while a deletion runs, then its reservation is given back to the minute it was taken from', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    let now = (M + 1) * MINUTE_MS - 500
    const guarded = guardMassDeletion({ counts, clock: { now: () => new Date(now) }, maxPerHour: 1 }, async () => {
      now += 1_000
      throw new DependencyUnavailableError('cassandra')
    })

    await expect(guarded(deletionOf())).rejects.toBeInstanceOf(DependencyUnavailableError)

    expect(await counts.countsBetween(REQUESTER, M - 59, M + 1)).toEqual([{ minute: M, count: 0 }])
  })

  it('when the limit was reached late in one clock hour, then the next hour does not start a fresh count: the hour slides by the minute', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    let now = (M + 59) * MINUTE_MS + 30_000
    const deleteAccount = vi.fn(async (input: DeletionInput) => deleted(input))
    const guarded = guardMassDeletion({ counts, clock: { now: () => new Date(now) }, maxPerHour: 1 }, deleteAccount)
    await guarded(deletionOf())

    now = (M + 60) * MINUTE_MS + 10_000
    await expect(guarded(deletionOf())).rejects.toMatchObject({ retryAfterSeconds: 3530 })
    now = (M + 119) * MINUTE_MS - 1
    await expect(guarded(deletionOf())).rejects.toBeInstanceOf(DeletionLimitReachedError)
    now = (M + 119) * MINUTE_MS

    await expect(guarded(deletionOf())).resolves.toMatchObject({ kind: 'deleted' })
    expect(deleteAccount).toHaveBeenCalledTimes(2)
  })

  it('when the count cannot be read after the reservation, then the deletion is not run, the reservation is given back and the outage answered', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    counts.failNext('countsBetween', new DependencyUnavailableError('cassandra'))
    const deleteAccount = vi.fn(async (input: DeletionInput) => deleted(input))
    const guarded = guardMassDeletion({ counts, clock: clockAt(M * MINUTE_MS), maxPerHour: 1 }, deleteAccount)

    await expect(guarded(deletionOf())).rejects.toBeInstanceOf(DependencyUnavailableError)

    expect(deleteAccount).not.toHaveBeenCalled()
    expect(await counted(counts)).toBe(0)
  })

  it('when the reservation itself fails, then the deletion is not run and nothing is given back (the increment may have applied: the safe side)', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    counts.failNext('add', new DependencyUnavailableError('cassandra'))
    const add = vi.spyOn(counts, 'add')
    const deleteAccount = vi.fn(async (input: DeletionInput) => deleted(input))
    const guarded = guardMassDeletion({ counts, clock: clockAt(M * MINUTE_MS), maxPerHour: 1 }, deleteAccount)

    await expect(guarded(deletionOf())).rejects.toBeInstanceOf(DependencyUnavailableError)

    expect(deleteAccount).not.toHaveBeenCalled()
    expect(add.mock.calls).toEqual([[REQUESTER, M, 1]])
  })

  it('when a give-back is lost to an outage, then the answer is still the deletion’s own, and the place stays taken for the hour', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    const guarded = guardMassDeletion({ counts, clock: clockAt(M * MINUTE_MS), maxPerHour: 1 }, async () => {
      counts.failNext('add', new DependencyUnavailableError('cassandra'))
      throw new UserNotFoundError('no such user')
    })

    await expect(guarded(deletionOf())).rejects.toBeInstanceOf(UserNotFoundError)

    expect(await counted(counts)).toBe(1)
    await expect(guarded(deletionOf())).rejects.toBeInstanceOf(DeletionLimitReachedError)
  })

  it('when another instance whose clock runs a little ahead has reserved into the next minute, then this one still counts it', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    const deleteAccount = vi.fn(async (input: DeletionInput) => deleted(input))
    const ahead = guardMassDeletion({ counts, clock: clockAt((M + 1) * MINUTE_MS + 500), maxPerHour: 1 }, deleteAccount)
    const behind = guardMassDeletion({ counts, clock: clockAt((M + 1) * MINUTE_MS - 1_500), maxPerHour: 1 }, deleteAccount)
    await ahead(deletionOf())

    await expect(behind(deletionOf())).rejects.toBeInstanceOf(DeletionLimitReachedError)

    expect(deleteAccount).toHaveBeenCalledTimes(1)
  })

  it('when a deletion is refused, then Retry-After is the seconds until enough counted minutes have left the last hour (the rest of this minute while the refusal rests on its count), at least 1', async () => {
    /** Deletions at `deletedAt` (ms) with the given limit, then one more at `refusedAt`: its refusal. */
    const refusal = async (maxPerHour: number, deletedAt: number[], refusedAt: number) => {
      const counts = new InMemoryRequesterDeletionCounts()
      let now = 0
      const guarded = guardMassDeletion({ counts, clock: { now: () => new Date(now) }, maxPerHour }, async (input) => deleted(input))
      for (const at of deletedAt) {
        now = at
        await guarded(deletionOf())
      }
      now = refusedAt
      return guarded(deletionOf()).catch((err: unknown) => err)
    }

    // A deletion of this very minute may still be in flight (and given back): the rest of the minute.
    expect(await refusal(1, [M * MINUTE_MS + 10_000], M * MINUTE_MS + 10_000)).toMatchObject({ retryAfterSeconds: 50 })
    // Once it is of an earlier minute, it leaves 60 minutes after the start of its minute.
    expect(await refusal(1, [M * MINUTE_MS + 10_000], (M + 1) * MINUTE_MS + 10_000)).toMatchObject({ retryAfterSeconds: 3530 })
    // Of two, the older one leaving is enough.
    expect(await refusal(2, [M * MINUTE_MS, (M + 30) * MINUTE_MS], (M + 45) * MINUTE_MS)).toMatchObject({ retryAfterSeconds: 900 })
    expect(await refusal(1, [M * MINUTE_MS], (M + 60) * MINUTE_MS - 200)).toMatchObject({ retryAfterSeconds: 1 })
  })

  it('when a burst of deletions at once is refused on reservations of this minute alone, then Retry-After is the rest of the minute, not an hour: the places come back as the refused give them back', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    const guarded = guardMassDeletion({ counts, clock: clockAt(M * MINUTE_MS + 30_000), maxPerHour: 2 }, async (input) => deleted(input))
    // Three others of the burst have reserved and not yet given back.
    await counts.add(REQUESTER, M, 3)

    expect(await guarded(deletionOf()).catch((err: unknown) => err)).toMatchObject({ retryAfterSeconds: 30 })
  })

  it('when a requester over the limit deletes their own account, then it is neither limited nor counted', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    const deleteAccount = vi.fn(async (input: DeletionInput) => deleted(input))
    const guarded = guardMassDeletion({ counts, clock: clockAt(M * MINUTE_MS), maxPerHour: 1 }, deleteAccount)
    await guarded(deletionOf())
    const add = vi.spyOn(counts, 'add')
    const count = vi.spyOn(counts, 'countsBetween')

    await expect(guarded(deletionOf(admin.userId))).resolves.toMatchObject({ kind: 'deleted' })
    await expect(guarded({ ...deletionOf(admin.userId), dryRun: true })).resolves.toMatchObject({ kind: 'deleted' })

    expect(add).not.toHaveBeenCalled()
    expect(count).not.toHaveBeenCalled()
  })

  it('when a requester at the limit asks for a dry run, then it is refused as the real call is (429, same Retry-After), after one read and no reservation', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    const deleteAccount = vi.fn(async (input: DeletionInput): Promise<DeletionOutcome> => (input.dryRun ? { kind: 'dry-run', mode: 'default', plan: [] } : deleted(input)))
    const guarded = guardMassDeletion({ counts, clock: clockAt((M + 30) * MINUTE_MS + 400), maxPerHour: 1 }, deleteAccount)
    await guarded(deletionOf())
    deleteAccount.mockClear()
    const add = vi.spyOn(counts, 'add')
    const count = vi.spyOn(counts, 'countsBetween')

    const dryRun = await guarded({ ...deletionOf(), dryRun: true }).catch((err: unknown) => err)

    expect(dryRun).toBeInstanceOf(DeletionLimitReachedError)
    expect(dryRun).toMatchObject({ retryAfterSeconds: 60 })
    expect(deleteAccount).not.toHaveBeenCalled()
    expect(add).not.toHaveBeenCalled()
    expect(count.mock.calls).toEqual([[REQUESTER, M + 30 - 59, M + 31]])
    // The real call it previews answers the same.
    expect(await guarded(deletionOf()).catch((err: unknown) => err)).toMatchObject({ retryAfterSeconds: 60 })
  })

  it('when a requester under the limit asks for dry runs, then they run and take no place: the real calls still get every place of the limit', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    const deleteAccount = vi.fn(async (input: DeletionInput): Promise<DeletionOutcome> => (input.dryRun ? { kind: 'dry-run', mode: 'default', plan: [] } : deleted(input)))
    const guarded = guardMassDeletion({ counts, clock: clockAt(M * MINUTE_MS), maxPerHour: 2 }, deleteAccount)

    await expect(guarded({ ...deletionOf(), dryRun: true })).resolves.toMatchObject({ kind: 'dry-run' })
    await guarded(deletionOf())
    await expect(guarded({ ...deletionOf(), dryRun: true })).resolves.toMatchObject({ kind: 'dry-run' })
    expect(await counted(counts)).toBe(1)
    await expect(guarded(deletionOf())).resolves.toMatchObject({ kind: 'deleted' })

    await expect(guarded({ ...deletionOf(), dryRun: true })).rejects.toBeInstanceOf(DeletionLimitReachedError)
    expect(await counted(counts)).toBe(2)
  })

  it('when deletions in flight hold every place, then a dry run is refused, as a real call then is', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    const { deleteAccount, finish } = heldDeletion()
    const guarded = guardMassDeletion({ counts, clock: clockAt(M * MINUTE_MS), maxPerHour: 1 }, deleteAccount)
    const inFlight = guarded(deletionOf())
    await vi.waitFor(() => expect(deleteAccount).toHaveBeenCalledTimes(1))

    await expect(guarded({ ...deletionOf(), dryRun: true })).rejects.toBeInstanceOf(DeletionLimitReachedError)

    finish()
    await inFlight
    expect(deleteAccount).toHaveBeenCalledTimes(1)
  })

  it('when the count cannot be read for a dry run, then the outage is answered, the dry run is not run and nothing is added', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    counts.failNext('countsBetween', new DependencyUnavailableError('cassandra'))
    const add = vi.spyOn(counts, 'add')
    const deleteAccount = vi.fn(async (input: DeletionInput) => deleted(input))
    const guarded = guardMassDeletion({ counts, clock: clockAt(M * MINUTE_MS), maxPerHour: 1 }, deleteAccount)

    await expect(guarded({ ...deletionOf(), dryRun: true })).rejects.toBeInstanceOf(DependencyUnavailableError)

    expect(deleteAccount).not.toHaveBeenCalled()
    expect(add).not.toHaveBeenCalled()
  })

  it('when the limit is 0, then the guard is off: the deletion itself, nothing counted', async () => {
    const counts = new InMemoryRequesterDeletionCounts()
    const deleteAccount = async (input: DeletionInput) => deleted(input)

    expect(guardMassDeletion({ counts, clock: clockAt(M * MINUTE_MS), maxPerHour: 0 }, deleteAccount)).toBe(deleteAccount)
  })
})
