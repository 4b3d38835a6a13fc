import { createClient } from '@redis/client'
import { afterAll, beforeAll } from 'vitest'
import { RedisConnection } from '../../src/redis/redis-client.js'
import { RedisUserCache, userCacheKey } from '../../src/redis/redis-user-cache.js'
import { LOCAL_REDIS } from './test-env.js'

/** A client of the test's own on the real Redis's DB 12 (Sunbird's user cache), not yet connected. */
const db12Client = () => createClient({ socket: LOCAL_REDIS, database: 12 })
export type Db12Client = ReturnType<typeof db12Client>

/** A connected client of the test's own on DB 12, for writing `user:<id>` as something else than Sunbird's jobs might, and reading it back. */
export async function connectDb12(): Promise<Db12Client> {
  const redis = db12Client()
  await redis.connect()
  return redis
}

/**
 * For a describe block: the adapter under test on the real Redis's DB 12, bounded by
 * `maxValueBytes`, and a client of the test's own there (connected before the block's tests).
 * Keys named through `keyOf` are deleted after them, and both connections closed.
 */
export function redisCacheOnDb12(maxValueBytes: number): { cache: RedisUserCache; redis: Db12Client; keyOf: (userId: string) => string } {
  const connection = new RedisConnection({ ...LOCAL_REDIS, db: 12, timeoutMs: 2000 })
  const redis = db12Client()
  const written: string[] = []
  beforeAll(async () => {
    await redis.connect()
  })
  afterAll(async () => {
    if (written.length > 0) await redis.del(written)
    await Promise.all([redis.close(), connection.close()])
  })
  const keyOf = (userId: string) => {
    written.push(userCacheKey(userId))
    return userCacheKey(userId)
  }
  return { cache: new RedisUserCache(connection, maxValueBytes), redis, keyOf }
}
