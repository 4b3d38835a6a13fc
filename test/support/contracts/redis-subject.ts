import { RedisConnection } from '../../../src/redis/redis-client.js'
import { RedisUserCache, userCacheKey } from '../../../src/redis/redis-user-cache.js'
import { freePort } from '../spawned-server.js'
import { LOCAL_REDIS } from '../test-env.js'
import type { UserCacheSubject } from './user-cache.contract.js'

/**
 * The Redis adapter over the real Redis, DB 12 (Sunbird's user cache), through its own connection.
 * Hashes are written as Sunbird's cache updater writes them under unique user ids and removed after
 * each case (the DB is shared: never flushed); the unreachable cache is a port nothing listens on.
 */
export function redisUserCache(): UserCacheSubject {
  const connection = new RedisConnection({ ...LOCAL_REDIS, db: 12, timeoutMs: 2000 })
  const downConnections: RedisConnection[] = []
  const seeded: string[] = []
  return {
    cache: new RedisUserCache(connection),
    async seed(userId, hash) {
      seeded.push(userId)
      await (await connection.connected()).hSet(userCacheKey(userId), hash)
    },
    async unreachable() {
      const down = new RedisConnection({ host: '127.0.0.1', port: await freePort(), db: 12, timeoutMs: 500 })
      downConnections.push(down)
      return new RedisUserCache(down)
    },
    async dispose() {
      if (seeded.length > 0) await (await connection.connected()).del(seeded.map(userCacheKey))
      await Promise.all([connection, ...downConnections].map((open) => open.close()))
    },
  }
}
