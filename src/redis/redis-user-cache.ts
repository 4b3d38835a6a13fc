import { DependencyUnavailableError, WordedCause } from '../deletion/errors.js'
import type { CachedUser, JsonValue, UserCache } from '../deletion/ports.js'
import { type RedisClient, type RedisConnection, replyCode } from './redis-client.js'

/** Sunbird's user cache key (Lern's user-cache-updater and user-deletion-cleanup use the same prefix). */
export const userCacheKey = (userId: string) => `user:${userId}`

/**
 * The one error reply about the call itself: the key holds another type than the command reads
 * (readUser then reads it by its type). Every other error reply leaves the step owed, as an outage
 * does: Redis still loading, busy, read-only after a failover, refusing writes (MISCONF, OOM), the
 * credentials or the ACL user refused, or a proxy in front of it (twemproxy, Codis) answering
 * `ERR` for a backend that is down. A deletion must never stop half-way on the cache, a copy.
 */
const CALL_ERRORS = new Set(['WRONGTYPE'])

/** An error reply that is about the call, not Redis's state: it goes up as it is. */
function isCallError(err: unknown): boolean {
  const code = replyCode(err)
  return code !== undefined && CALL_ERRORS.has(code)
}

/**
 * The user hash in Sunbird's cache DB (12). Redis out of reach, or answering an error reply other
 * than WRONGTYPE (see CALL_ERRORS), is a dependency down: the step is owed. That includes a Redis that takes
 * the command and never answers: each command is bounded by REDIS_TIMEOUT_MS
 * (RedisConnection.command). The cause kept for the log is worded by this service (the timeout,
 * the refusal of the credentials, the reply's code), never Redis's own text.
 */
export class RedisUserCache implements UserCache {
  constructor(private readonly connection: RedisConnection) {}

  private async run<T>(name: string, call: (client: RedisClient) => Promise<T>): Promise<T> {
    try {
      return await this.connection.command(name, call)
    } catch (err) {
      if (isCallError(err)) throw err
      const code = replyCode(err)
      const cause = err instanceof WordedCause ? err : code ? new WordedCause(`redis answered ${code} to ${name}`) : err
      throw new DependencyUnavailableError('redis', { cause })
    }
  }

  /**
   * The hash, or, when the key holds another type (WRONGTYPE to HGETALL: written by something else
   * than Sunbird's jobs), what it holds, read by its type: an export shows everything held about the
   * person, and a deletion removes that key too (DEL removes any type).
   */
  async readUser(userId: string): Promise<CachedUser | undefined> {
    const key = userCacheKey(userId)
    try {
      const hash = await this.run('HGETALL', (client) => client.hGetAll(key))
      return Object.keys(hash).length > 0 ? { kind: 'hash', fields: { ...hash } } : undefined
    } catch (err) {
      if (replyCode(err) !== 'WRONGTYPE') throw err
      return this.readOther(key)
    }
  }

  /** A key that is not a hash, read by its type (TYPE, then the one read that returns it whole); undefined when it went meanwhile. */
  private async readOther(key: string): Promise<CachedUser | undefined> {
    const type = await this.run('TYPE', (client) => client.type(key))
    const value: JsonValue | undefined = await this.run(`read of a ${type}`, async (client): Promise<JsonValue | undefined> => {
      if (type === 'none') return undefined
      if (type === 'string') return (await client.get(key)) ?? undefined
      if (type === 'list') return client.lRange(key, 0, -1)
      if (type === 'set') return client.sMembers(key)
      if (type === 'zset') return (await client.zRangeWithScores(key, 0, -1)).map(({ value, score }) => ({ member: value, score }))
      return null
    })
    return value === undefined ? undefined : { kind: 'other', type, value }
  }

  async deleteUser(userId: string): Promise<number> {
    return this.run('DEL', (client) => client.del(userCacheKey(userId)))
  }
}
