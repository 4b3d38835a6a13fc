import { LRUCache } from 'lru-cache'
import type { DeletionListener } from '../deletion/ports.js'

/**
 * Where a user stands for the lock-out: `active`; `restorable` (soft-deleted: locked out, but a
 * cancel may let them in again); `deleted` (final).
 */
/**
 * `restorable`: the user's own soft deletion (the operations that admit it let them finish or cancel
 * it); `restorable by manager`: locked out by their manager's grace period only.
 */
export type LockOutStanding = 'active' | 'restorable' | 'restorable by manager' | 'deleted'

export interface DeletedUserGateOptions {
  /**
   * Reads where the user stands from the stores; 'active' for an unknown user. Told through
   * `follows` of another user whose deletion the answer depends on (a managed user's manager), so
   * a deletion or a cancel of that user by this instance is seen here at once too.
   */
  standingInStore(userId: string, follows: (otherUserId: string) => void): Promise<LockOutStanding>
  /**
   * How long an "active" (or "restorable") answer is trusted: the most a deletion or a cancel by
   * another instance can lag here. Kept short (default 250 ms, at most 1 s) so every instance of a
   * deployment locks a deleted user out within a second.
   */
  ttlMs: number
  maxEntries: number
  /** The clock TTLs are measured with, in milliseconds (tests pass their own); default performance.now. */
  now?: () => number
}

/**
 * Locks a deleted user out at once, though their tokens are still within `exp`. The answer per user
 * is cached (at most one Cassandra read per user per TTL, however many requests that user makes:
 * concurrent misses share one read); a deletion or a cancel by this instance flips the entry
 * immediately, and a final "deleted" is never forgotten early.
 */
export class DeletedUserGate implements DeletionListener {
  private readonly cache: LRUCache<string, LockOutStanding>
  private readonly deletedTtlMs: number
  private readonly now: () => number
  /** Bumped by every deletion or restore told to this instance, so a read that started before it is not cached over it. */
  private readonly changes = new Map<string, number>()
  private changeCount = 0
  /**
   * The store read in flight per user, and when it started: requests that miss the cache together
   * wait on one read (single flight), while it is younger than the TTL.
   */
  private readonly inFlight = new Map<string, { read: Promise<LockOutStanding>; startedAt: number }>()
  /** Per user, the users whose answers depend on theirs (a manager's managed users): a change of that user forgets those answers. */
  private readonly dependents = new Map<string, Set<string>>()

  constructor(private readonly options: DeletedUserGateOptions) {
    // A given clock is read at every check (ttlResolution 0): lru-cache would otherwise reuse a reading for 1 ms of real time.
    this.cache = new LRUCache<string, LockOutStanding>({ max: options.maxEntries, ttl: options.ttlMs, ...(options.now && { perf: { now: options.now }, ttlResolution: 0 }) })
    this.now = options.now ?? (() => performance.now())
    // Deleted is final: keep that answer far longer than the (short) trust in "active".
    this.deletedTtlMs = Math.max(options.ttlMs, 24 * 60 * 60 * 1000)
  }

  async standing(userId: string): Promise<LockOutStanding> {
    const cached = this.cache.get(userId)
    if (cached !== undefined) return cached
    // The answer is as old as the read's start (a deletion may commit while the read is in flight),
    // so a read older than the TTL is not joined: a slow store never stretches the lag past the TTL.
    const shared = this.inFlight.get(userId)
    if (shared && this.now() - shared.startedAt < this.options.ttlMs) return shared.read
    const before = this.changes.get(userId)
    const readStartedAt = this.now()
    // Whether the answer rests on another user's deletion (a managed user's on their manager's).
    let derived = false
    const read: Promise<LockOutStanding> = this.options
      .standingInStore(userId, (otherUserId) => {
        derived = true
        this.follow(userId, otherUserId)
      })
      .then((standing) => {
        // userDeleted() / userRestored() may have run while we read: their answer wins over a stale read.
        if (this.changes.get(userId) !== before) return this.cache.get(userId) ?? standing
        this.remember(userId, standing, readStartedAt, derived)
        return standing
      })
      .finally(() => {
        if (this.inFlight.get(userId)?.read === read) this.inFlight.delete(userId)
      })
    this.inFlight.set(userId, { read, startedAt: readStartedAt })
    return read
  }

  async isDeleted(userId: string): Promise<boolean> {
    return (await this.standing(userId)) !== 'active'
  }

  userDeleted(userId: string, restorable = false): void {
    this.changed(userId)
    this.remember(userId, restorable ? 'restorable' : 'deleted')
    this.forgetDependents(userId)
  }

  userRestored(userId: string): void {
    this.changed(userId)
    this.remember(userId, 'active')
    this.forgetDependents(userId)
  }

  /** `userId`'s answer depends on `otherUserId`'s deletion (a managed user on their manager's). */
  private follow(userId: string, otherUserId: string): void {
    // Only needed while answers are cached; keep it from growing without bound (a forgotten link costs at most the TTL's lag).
    if (this.dependents.size > 10_000) this.dependents.clear()
    const users = this.dependents.get(otherUserId) ?? new Set<string>()
    users.add(userId)
    this.dependents.set(otherUserId, users)
  }

  /**
   * What this instance knew of the users depending on `userId` is read again at their next request:
   * whether `userId`'s deletion locks them out (and how) is the store's to say, not this instance's.
   */
  private forgetDependents(userId: string): void {
    const users = this.dependents.get(userId)
    if (!users) return
    this.dependents.delete(userId)
    for (const dependent of users) {
      this.changed(dependent)
      this.cache.delete(dependent)
    }
  }

  private changed(userId: string): void {
    this.changes.set(userId, ++this.changeCount)
    // The map only needs users whose read may be in flight; keep it from growing without bound.
    if (this.changes.size > 10_000) this.changes.clear()
  }

  /**
   * Caches an answer; one read from the store at `readStartedAt` is trusted for the TTL from then,
   * and not at all once that has passed. A user's own final deletion is kept for a day; one that
   * rests on another user's (`derived`: a managed user of a deleted manager) only for the TTL, as
   * an operator may undo it (clearing `managedby`) without this instance being told.
   */
  private remember(userId: string, standing: LockOutStanding, readStartedAt?: number, derived = false): void {
    if (standing === 'deleted' && !derived) {
      this.cache.set(userId, standing, { ttl: this.deletedTtlMs })
      return
    }
    const ttl = readStartedAt === undefined ? this.options.ttlMs : this.options.ttlMs - (this.now() - readStartedAt)
    // lru-cache reads a ttl of 0 as "for ever": an answer already past its trust is not cached, nor
    // does it remove one a later read may have cached meanwhile.
    if (ttl < 1) return
    this.cache.set(userId, standing, { ttl })
  }
}
