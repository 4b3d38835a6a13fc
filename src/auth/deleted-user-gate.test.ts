import { describe, expect, it } from 'vitest'
import { deletionWorld } from '../../test/support/fakes/deletion-world.js'
import { cancelDeletion } from '../deletion/cancel-deletion.js'
import { deleteAccount } from '../deletion/delete-account.js'
import { lockOutStanding } from '../deletion/user-condition.js'
import { DeletedUserGate, type LockOutStanding } from './deleted-user-gate.js'

/** A clock the test moves by hand: TTLs pass without waiting for them. */
function manualClock() {
  let ms = 1_000
  return { now: () => ms, advance: (by: number) => (ms += by) }
}

/** A store answering from a set of deleted ids, counting its reads per user. */
function fakeStore(deleted: string[] = []) {
  const deletedIds = new Set(deleted)
  const reads: string[] = []
  return {
    reads,
    readsOf: (userId: string) => reads.filter((id) => id === userId).length,
    markDeleted: (userId: string) => deletedIds.add(userId),
    standingInStore: async (userId: string): Promise<LockOutStanding> => {
      reads.push(userId)
      return deletedIds.has(userId) ? 'deleted' : 'active'
    },
  }
}

const TTL_MS = 40

describe('DeletedUserGate', () => {
  it('when a user is asked about twice within the TTL, then the store is read once', async () => {
    // Arrange
    const store = fakeStore()
    const gate = new DeletedUserGate({ standingInStore: store.standingInStore, ttlMs: 60_000, maxEntries: 100 })

    // Act
    const first = await gate.isDeleted('user-1')
    const second = await gate.isDeleted('user-1')

    // Assert
    expect([first, second]).toEqual([false, false])
    expect(store.readsOf('user-1')).toBe(1)
  })

  it('when different users are asked about, then each gets its own store read', async () => {
    const store = fakeStore(['user-2'])
    const gate = new DeletedUserGate({ standingInStore: store.standingInStore, ttlMs: 60_000, maxEntries: 100 })

    const answers = [await gate.isDeleted('user-1'), await gate.isDeleted('user-2'), await gate.isDeleted('user-1'), await gate.isDeleted('user-2')]

    expect(answers).toEqual([false, true, false, true])
    expect(store.reads).toEqual(['user-1', 'user-2'])
  })

  it('when an active answer is older than the TTL, then the store is read again and a deletion elsewhere is seen', async () => {
    // Arrange: another instance deletes the user after this one cached "active".
    const store = fakeStore()
    const clock = manualClock()
    const gate = new DeletedUserGate({ standingInStore: store.standingInStore, ttlMs: TTL_MS, maxEntries: 100, now: clock.now })
    await gate.isDeleted('user-1')
    store.markDeleted('user-1')

    // Act
    const withinTtl = await gate.isDeleted('user-1')
    clock.advance(TTL_MS * 3)
    const afterTtl = await gate.isDeleted('user-1')

    // Assert
    expect(withinTtl).toBe(false)
    expect(afterTtl).toBe(true)
    expect(store.readsOf('user-1')).toBe(2)
  })

  it('when the store read is slow, then its active answer is trusted for the TTL from the read\u2019s start, not its end', async () => {
    // Arrange: the read takes three quarters of the TTL; another instance deletes the user meanwhile.
    const store = fakeStore()
    const clock = manualClock()
    const slowStore = async (userId: string) => {
      const standing = await store.standingInStore(userId)
      clock.advance((TTL_MS * 3) / 4)
      return standing
    }
    const gate = new DeletedUserGate({ standingInStore: slowStore, ttlMs: TTL_MS, maxEntries: 100, now: clock.now })
    await gate.isDeleted('user-1')
    store.markDeleted('user-1')

    // Act: a quarter of the TTL and a bit after the read ended is past the TTL from its start.
    clock.advance(TTL_MS / 4 + 1)
    const after = await gate.isDeleted('user-1')

    // Assert
    expect(after).toBe(true)
    expect(store.readsOf('user-1')).toBe(2)
  })

  it('when the read takes longer than the TTL, or the TTL is 0, then its active answer is not cached and the next request reads again', async () => {
    const store = fakeStore()
    const clock = manualClock()
    const slowStore = async (userId: string) => {
      const standing = await store.standingInStore(userId)
      clock.advance(TTL_MS * 2)
      return standing
    }
    const slow = new DeletedUserGate({ standingInStore: slowStore, ttlMs: TTL_MS, maxEntries: 100, now: clock.now })
    const untrusting = new DeletedUserGate({ standingInStore: store.standingInStore, ttlMs: 0, maxEntries: 100, now: clock.now })

    await slow.isDeleted('user-1')
    await slow.isDeleted('user-1')
    await untrusting.isDeleted('user-2')
    await untrusting.isDeleted('user-2')

    expect(store.readsOf('user-1')).toBe(2)
    expect(store.readsOf('user-2')).toBe(2)
  })

  it('when the store said deleted, then that answer sticks beyond the TTL without another read', async () => {
    const store = fakeStore(['user-1'])
    const clock = manualClock()
    const gate = new DeletedUserGate({ standingInStore: store.standingInStore, ttlMs: TTL_MS, maxEntries: 100, now: clock.now })
    await gate.isDeleted('user-1')

    clock.advance(TTL_MS * 3)
    const deleted = await gate.isDeleted('user-1')

    expect(deleted).toBe(true)
    expect(store.readsOf('user-1')).toBe(1)
  })

  it('when userDeleted is called for a user cached as active, then the next answer is deleted at once without a read', async () => {
    const store = fakeStore()
    const gate = new DeletedUserGate({ standingInStore: store.standingInStore, ttlMs: 60_000, maxEntries: 100 })
    expect(await gate.isDeleted('user-1')).toBe(false)

    gate.userDeleted('user-1')

    expect(await gate.isDeleted('user-1')).toBe(true)
    expect(store.readsOf('user-1')).toBe(1)
  })

  it('when userDeleted is called for a user never asked about, then the answer is deleted without a read, beyond the TTL', async () => {
    const store = fakeStore()
    const clock = manualClock()
    const gate = new DeletedUserGate({ standingInStore: store.standingInStore, ttlMs: TTL_MS, maxEntries: 100, now: clock.now })

    gate.userDeleted('user-1')
    clock.advance(TTL_MS * 3)

    expect(await gate.isDeleted('user-1')).toBe(true)
    expect(store.reads).toEqual([])
  })

  it('when userDeleted arrives while a store read is in flight, then the stale active answer does not undo it', async () => {
    // Arrange: the read started before the lock and answers "active" after the listener was told.
    let answer: (standing: LockOutStanding) => void = () => undefined
    let reads = 0
    const gate = new DeletedUserGate({
      standingInStore: () => {
        reads++
        return new Promise<LockOutStanding>((resolve) => {
          answer = resolve
        })
      },
      ttlMs: 60_000,
      maxEntries: 100,
    })

    // Act
    const inFlight = gate.isDeleted('user-1')
    gate.userDeleted('user-1')
    answer('active')
    const raced = await inFlight
    const next = await gate.isDeleted('user-1')

    // Assert
    expect(raced).toBe(true)
    expect(next).toBe(true)
    expect(reads).toBe(1)
  })

  it('when more users are cached than maxEntries, then the least recently used one is forgotten and read again', async () => {
    // Arrange
    const store = fakeStore()
    const gate = new DeletedUserGate({ standingInStore: store.standingInStore, ttlMs: 60_000, maxEntries: 2 })
    await gate.isDeleted('user-1')
    await gate.isDeleted('user-2')
    await gate.isDeleted('user-1') // user-2 is now the least recently used

    // Act
    await gate.isDeleted('user-3')
    await gate.isDeleted('user-1')
    await gate.isDeleted('user-2')

    // Assert
    expect(store.reads).toEqual(['user-1', 'user-2', 'user-3', 'user-2'])
  })

  it('when a user is soft-deleted (restorable), then the answer is locked out but only trusted for the TTL, so a cancel elsewhere is seen', async () => {
    // Arrange
    const clock = manualClock()
    let standing: LockOutStanding = 'restorable'
    const gate = new DeletedUserGate({ standingInStore: async () => standing, ttlMs: TTL_MS, maxEntries: 100, now: clock.now })
    expect(await gate.standing('user-1')).toBe('restorable')
    expect(await gate.isDeleted('user-1')).toBe(true)

    // Act: another instance cancels the deletion.
    standing = 'active'
    clock.advance(TTL_MS + 1)

    // Assert
    expect(await gate.standing('user-1')).toBe('active')
  })

  it('when this instance restores a user it had cached as deleted, then the user is let in at once', async () => {
    const store = fakeStore(['user-1'])
    const gate = new DeletedUserGate({ standingInStore: store.standingInStore, ttlMs: 60_000, maxEntries: 100 })
    expect(await gate.isDeleted('user-1')).toBe(true)

    gate.userDeleted('user-1', true)
    expect(await gate.standing('user-1')).toBe('restorable')
    gate.userRestored('user-1')

    expect(await gate.isDeleted('user-1')).toBe(false)
    expect(store.readsOf('user-1')).toBe(1)
  })

  it('when many requests for one user miss the cache together, then they share one store read (single flight)', async () => {
    // Arrange: a read that answers only when the test says so.
    let answer: (standing: LockOutStanding) => void = () => undefined
    let reads = 0
    const gate = new DeletedUserGate({
      standingInStore: () => {
        reads++
        return new Promise<LockOutStanding>((resolve) => {
          answer = resolve
        })
      },
      ttlMs: TTL_MS,
      maxEntries: 100,
    })

    // Act
    const asked = Array.from({ length: 20 }, () => gate.isDeleted('user-1'))
    answer('deleted')
    const answers = await Promise.all(asked)

    // Assert
    expect(answers).toEqual(Array.from({ length: 20 }, () => true))
    expect(reads).toBe(1)
  })

  it('when a store read is still in flight after the TTL, then a later request does not wait on its stale answer: it reads again and sees the deletion', async () => {
    // Arrange: the first read hangs (Cassandra slow) and would answer active; the user is deleted meanwhile.
    const clock = manualClock()
    const answers: ((standing: LockOutStanding) => void)[] = []
    const gate = new DeletedUserGate({
      standingInStore: () => new Promise<LockOutStanding>((resolve) => answers.push(resolve)),
      ttlMs: TTL_MS,
      maxEntries: 100,
      now: clock.now,
    })
    const first = gate.standing('user-1')
    clock.advance(TTL_MS / 2)
    const joined = gate.standing('user-1')
    expect(answers).toHaveLength(1)

    // Act
    clock.advance(TTL_MS)
    const later = gate.standing('user-1')
    answers[1]?.('deleted')
    answers[0]?.('active')

    // Assert: within the TTL a request joins the read; past it, a fresh read answers.
    expect(answers).toHaveLength(2)
    expect(await later).toBe('deleted')
    expect([await first, await joined]).toEqual(['active', 'active'])
    // The stale read, answering last, changes nothing of the fresher answer kept.
    expect(await gate.standing('user-1')).toBe('deleted')
    expect(answers).toHaveLength(2)
  })

  it('when a store read fails, then every request waiting on it gets the error and the next one reads again', async () => {
    // Arrange
    let fail = true
    let reads = 0
    const gate = new DeletedUserGate({
      standingInStore: async () => {
        reads++
        if (fail) throw new Error('store down')
        return 'active'
      },
      ttlMs: TTL_MS,
      maxEntries: 100,
    })

    // Act
    const failed = await Promise.allSettled([gate.isDeleted('user-1'), gate.isDeleted('user-1')])
    fail = false
    const next = await gate.isDeleted('user-1')

    // Assert
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    expect(next).toBe(false)
    expect(reads).toBe(2)
  })

  it('when a user keeps calling while another instance deletes them, then the store is read about once per TTL and the deletion is seen within one TTL', async () => {
    // Arrange: 1 request per ms for 10 TTLs; the user is deleted elsewhere after 5.
    const store = fakeStore()
    const clock = manualClock()
    const gate = new DeletedUserGate({ standingInStore: store.standingInStore, ttlMs: TTL_MS, maxEntries: 100, now: clock.now })
    let deletedAt = -1
    let seenAt = -1

    // Act
    for (let ms = 0; ms < TTL_MS * 10; ms++) {
      if (ms === TTL_MS * 5) {
        store.markDeleted('user-1')
        deletedAt = ms
      }
      if ((await gate.isDeleted('user-1')) && seenAt < 0) seenAt = ms
      clock.advance(1)
    }

    // Assert
    expect(seenAt - deletedAt).toBeLessThanOrEqual(TTL_MS)
    expect(store.readsOf('user-1')).toBeLessThanOrEqual(6)
  })
})

/** A store where `child` is managed by `manager`: the child stands where the manager's deletion puts them, and says so through `follows`. */
function managedStore(manager: string, child: string) {
  const standings = new Map<string, LockOutStanding>()
  const reads: string[] = []
  return {
    reads,
    set: (userId: string, standing: LockOutStanding) => standings.set(userId, standing),
    standingInStore: async (userId: string, follows: (otherUserId: string) => void): Promise<LockOutStanding> => {
      reads.push(userId)
      if (userId === child) {
        follows(manager)
        return standings.get(manager) ?? 'active'
      }
      return standings.get(userId) ?? 'active'
    },
  }
}

describe('DeletedUserGate, for a managed user', () => {
  it('when this instance deletes the user who manages a user it had cached as active, then the managed user is read again at once, not trusted as active for the TTL', async () => {
    // Arrange
    const store = managedStore('parent', 'child')
    const gate = new DeletedUserGate({ standingInStore: store.standingInStore, ttlMs: 60_000, maxEntries: 100 })
    expect(await gate.standing('child')).toBe('active')

    // Act: the manager's lock commits, then this instance is told.
    store.set('parent', 'deleted')
    gate.userDeleted('parent')

    // Assert
    expect(await gate.standing('child')).toBe('deleted')
    expect(store.reads.filter((id) => id === 'child')).toHaveLength(2)
  })

  it('when a managed user reads deleted through their manager’s deletion, then that is trusted for the TTL only: once an operator frees them (managedby cleared), they are let in', async () => {
    const clock = manualClock()
    const store = managedStore('parent', 'child')
    store.set('parent', 'deleted')
    const gate = new DeletedUserGate({ standingInStore: store.standingInStore, ttlMs: TTL_MS, maxEntries: 100, now: clock.now })
    expect(await gate.standing('child')).toBe('deleted')

    // The operator's fix, done in the store: nothing tells this instance.
    store.set('parent', 'active')
    clock.advance(TTL_MS + 1)

    expect(await gate.standing('child')).toBe('active')
  })

  it('when this instance restores the user who manages a user it had cached as restorable, then the managed user is let in at once', async () => {
    const store = managedStore('parent', 'child')
    store.set('parent', 'restorable')
    const gate = new DeletedUserGate({ standingInStore: store.standingInStore, ttlMs: 60_000, maxEntries: 100 })
    expect(await gate.standing('child')).toBe('restorable')

    store.set('parent', 'active')
    gate.userRestored('parent')

    expect(await gate.standing('child')).toBe('active')
  })

  it('when another user is deleted here, then a managed user of someone else keeps their cached answer (no read)', async () => {
    const store = managedStore('parent', 'child')
    const gate = new DeletedUserGate({ standingInStore: store.standingInStore, ttlMs: 60_000, maxEntries: 100 })
    await gate.standing('child')

    gate.userDeleted('stranger')

    expect(await gate.standing('child')).toBe('active')
    expect(store.reads.filter((id) => id === 'child')).toHaveLength(1)
  })
})

describe('DeletedUserGate over the stores, while another instance cancels a soft deletion', () => {
  it('when the cancel commits between the gate’s read of the row and its read of the deletion state, then the restored user is let in, not locked out for a day', async () => {
    // Arrange: a soft-deleted user; instance B's gate reads the row (still deleted), then instance A's
    // cancel runs to its end (row put back, then state cleared), then B reads the state.
    const target = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
    const self = { consumer: 'portal', userId: target, roles: [] }
    const w = deletionWorld({ seed: [{ id: target, rootOrgId: 'org-1', organisationIds: ['org-1'] }] })
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: target, caller: self, mode: 'soft' })
    let straddle = true
    const usersOfB = {
      findUser: async (userId: string) => {
        const row = await w.users.findUser(userId)
        if (straddle) {
          straddle = false
          await cancelDeletion(w.deps, { userId: target, caller: self })
        }
        return row
      },
    }
    const clock = manualClock()
    const gateOfB = new DeletedUserGate({
      standingInStore: (userId) => lockOutStanding({ users: usersOfB, states: w.states, requests: w.requests }, userId),
      ttlMs: 250,
      maxEntries: 100,
      now: clock.now,
    })

    // Act
    const first = await gateOfB.standing(target)
    clock.advance(60 * 60 * 1000)
    const anHourLater = await gateOfB.standing(target)

    // Assert
    expect(w.requests.all()[0]?.state).toBe('cancelled')
    expect([first, anHourLater]).toEqual(['active', 'active'])
  })
})
