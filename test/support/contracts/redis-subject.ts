import { RedisConnection } from '../../../src/redis/redis-client.js'
import { RedisUserCache, userCacheKey } from '../../../src/redis/redis-user-cache.js'
import { freePort } from '../spawned-server.js'
import { type StubRedis, startStubRedis } from '../stub-redis-server.js'
import { LOCAL_REDIS } from '../test-env.js'
import type { UserCacheSubject } from './user-cache.contract.js'

/**
 * The Redis adapter over the real Redis (the machine's, or `server`), DB 12 (Sunbird's user cache), through its own connection.
 * Hashes are written as Sunbird's cache updater writes them under unique user ids and removed after
 * each case (the DB is shared: never flushed); the unreachable cache is a port nothing listens on,
 * and the one that never answers a stub that speaks just enough RESP to take the commands (no real
 * Redis can be made to hang on demand without stopping it for everyone).
 */
export function redisUserCache(server: { host: string; port: number } = LOCAL_REDIS): UserCacheSubject {
  const connection = new RedisConnection({ ...server, db: 12, timeoutMs: 2000 })
  const ownConnections: RedisConnection[] = []
  const stubs: StubRedis[] = []
  const seeded: string[] = []
  return {
    cache: new RedisUserCache(connection),
    async seed(userId, hash) {
      seeded.push(userId)
      await (await connection.connected()).hSet(userCacheKey(userId), hash)
    },
    async seedString(userId, value) {
      seeded.push(userId)
      await (await connection.connected()).set(userCacheKey(userId), value)
    },
    async seedStream(userId, entries) {
      seeded.push(userId)
      const client = await connection.connected()
      // Raw XADD: node-redis's xAdd takes an object, which cannot repeat a name.
      for (const { id, fields } of entries) await client.sendCommand(['XADD', userCacheKey(userId), id, ...fields.flat()])
    },
    async unreachable() {
      const down = new RedisConnection({ host: '127.0.0.1', port: await freePort(), db: 12, timeoutMs: 500 })
      ownConnections.push(down)
      return new RedisUserCache(down)
    },
    async unanswering() {
      const stub = await startStubRedis()
      stubs.push(stub)
      const stuck = new RedisConnection({ host: stub.host, port: stub.port, db: 12, timeoutMs: 500 })
      ownConnections.push(stuck)
      return new RedisUserCache(stuck)
    },
    async dispose() {
      if (seeded.length > 0) await (await connection.connected()).del(seeded.map(userCacheKey))
      await Promise.all([connection, ...ownConnections].map((open) => open.close()))
      await Promise.all(stubs.map((stub) => stub.close()))
    },
  }
}
