import { DependencyUnavailableError, WordedCause } from '../deletion/errors.js'
import type { CachedUser, JsonValue, UserCache } from '../deletion/ports.js'
import { type RedisClient, type RedisConnection, replyCode } from './redis-client.js'

/** Sunbird's user cache key (Lern's user-cache-updater and user-deletion-cleanup use the same prefix). */
export const userCacheKey = (userId: string) => `user:${userId}`

/**
 * Error replies that say Redis cannot serve the call now, or not to this service: still loading its
 * data, busy with a script, a replica without its master or read-only after a failover, a cluster
 * resharding, and the refusals of the credentials (NOAUTH, WRONGPASS) or of the ACL user (NOPERM).
 * The step is owed, and done once Redis (or its settings) is right. Any other error reply is about
 * the call itself (WRONGTYPE: the key holds another type), never an outage.
 */
const UNAVAILABLE_REPLIES = new Set(['LOADING', 'BUSY', 'MASTERDOWN', 'READONLY', 'TRYAGAIN', 'CLUSTERDOWN', 'NOAUTH', 'WRONGPASS', 'NOPERM'])

/** An error reply that is not an outage: the call was wrong for the key, and says so as it is. */
function isCallError(err: unknown): boolean {
  const code = replyCode(err)
  return code !== undefined && !UNAVAILABLE_REPLIES.has(code)
}

/**
 * The user hash in Sunbird's cache DB (12). Redis out of reach, or not serving (see
 * UNAVAILABLE_REPLIES), is a dependency down: the step is owed. That includes a Redis that takes
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
