import { LRUCache } from 'lru-cache'
import type { DeletionListener } from '../deletion/ports.js'

export interface DeletedUserGateOptions {
  /** Reads whether the user row says deleted (status 2 and isdeleted); false for an unknown user. */
  isDeletedInStore(userId: string): Promise<boolean>
  /** How long an "active" answer is trusted: the most a deletion by another instance can lag here. */
  ttlMs: number
  maxEntries: number
  /** The clock TTLs are measured with, in milliseconds (tests pass their own); default performance.now. */
  now?: () => number
}

/**
 * Locks a deleted user out at once, though their tokens are still within `exp`. The answer per user
 * is cached (one Cassandra read per user per TTL, none on the hot path after that); a deletion by
 * this instance flips the entry immediately, and "deleted" is never forgotten early.
 */
export class DeletedUserGate implements DeletionListener {
  private readonly cache: LRUCache<string, boolean>
  private readonly deletedTtlMs: number

  constructor(private readonly options: DeletedUserGateOptions) {
    // A given clock is read at every check (ttlResolution 0): lru-cache would otherwise reuse a reading for 1 ms of real time.
    this.cache = new LRUCache<string, boolean>({ max: options.maxEntries, ttl: options.ttlMs, ...(options.now && { perf: { now: options.now }, ttlResolution: 0 }) })
    // Deleted is final: keep that answer far longer than the (short) trust in "active".
    this.deletedTtlMs = Math.max(options.ttlMs, 24 * 60 * 60 * 1000)
  }

  async isDeleted(userId: string): Promise<boolean> {
    const cached = this.cache.get(userId)
    if (cached !== undefined) return cached
    const deleted = await this.options.isDeletedInStore(userId)
    // userDeleted() may have run while we read: a stale "active" must not overwrite "deleted".
    if (this.cache.get(userId) === true) return true
    this.cache.set(userId, deleted, deleted ? { ttl: this.deletedTtlMs } : undefined)
    return deleted
  }

  userDeleted(userId: string): void {
    this.cache.set(userId, true, { ttl: this.deletedTtlMs })
  }
}
