import { randomUUID } from 'node:crypto'
import { createClient } from '@redis/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisConnection } from '../../src/redis/redis-client.js'
import { RedisUserCache, userCacheKey } from '../../src/redis/redis-user-cache.js'
import { redisUserCache } from '../support/contracts/redis-subject.js'
import { describeUserCacheContract } from '../support/contracts/user-cache.contract.js'
import { type OwnRedis, startOwnRedis } from '../support/redis-server.js'

/** A big hash: past Redis's lazy-free threshold (64 members), so UNLINK frees it in the background. */
const BIG_HASH = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`field${i}`, `value-${i}`]))

/**
 * `INFO commandstats` and `INFO errorstats` of a redis-server of the test's own, as `name → calls` and
 * `code → count`, read on a client already connected (each new connection adds errors of its own:
 * node-redis's CLIENT SETINFO, which Redis before 7.2 does not know).
 */
async function statsOf(client: { info(section: string): Promise<unknown> }) {
  const calls: Record<string, number> = {}
  for (const [, name, count] of String(await client.info('commandstats')).matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) calls[name ?? ''] = Number(count)
  const errors: Record<string, number> = {}
  for (const [, code, count] of String(await client.info('errorstats')).matchAll(/^errorstat_([A-Z]+):count=(\d+)/gm)) errors[code ?? ''] = Number(count)
  return { calls, errors }
}

/** The cache over a redis-server of the test's own, with a client of the test's own on DB 12 to write and look. */
async function cacheOn(redis: OwnRedis) {
  const connection = new RedisConnection({ host: '127.0.0.1', port: redis.port, db: 12, timeoutMs: 2000 })
  const direct = createClient({ socket: { host: '127.0.0.1', port: redis.port }, database: 12 })
  await direct.connect()
  return {
    cache: new RedisUserCache(connection),
    direct,
    close: () => Promise.all([connection.close(), direct.close()]),
  }
}

describe('deleting user:<id> on a real Redis that has UNLINK: UNLINK, never DEL', () => {
  let redis: OwnRedis
  beforeAll(async () => {
    redis = await startOwnRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })

  it('when a big hash and a stream are deleted, then each answers 1 and is gone at once, removed by UNLINK (Redis frees it in the background), no DEL sent', async () => {
    const { cache, direct, close } = await cacheOn(redis)
    try {
      const [hashUser, streamUser] = [randomUUID(), randomUUID()]
      await direct.hSet(userCacheKey(hashUser), BIG_HASH)
      await direct.xAdd(userCacheKey(streamUser), '*', { event: 'login' })

      expect(await cache.deleteUser(hashUser)).toBe(1)
      expect(await cache.deleteUser(streamUser)).toBe(1)
      expect(await cache.deleteUser(hashUser)).toBe(0)

      expect(await direct.exists([userCacheKey(hashUser), userCacheKey(streamUser)])).toBe(0)
      const { calls } = await statsOf(direct)
      expect(calls.unlink).toBe(3)
      expect(calls.del).toBeUndefined()
    } finally {
      await close()
    }
  })
})

describe('deleting user:<id> on a real Redis without UNLINK (renamed away, as a Redis before 4.0 or a proxy not knowing it answers)', () => {
  let redis: OwnRedis
  beforeAll(async () => {
    redis = await startOwnRedis({ args: ['--rename-command', 'UNLINK', ''] })
  })
  afterAll(async () => {
    await redis?.stop()
  })

  it('when users are deleted, then each answers 1 and is gone (DEL), UNLINK asked once only: the refusal is remembered for the connection', async () => {
    const { cache, direct, close } = await cacheOn(redis)
    try {
      const users = [randomUUID(), randomUUID(), randomUUID()]
      for (const userId of users) await direct.hSet(userCacheKey(userId), BIG_HASH)
      await cache.hasUser(randomUUID()) // connected before counting
      const before = await statsOf(direct)

      for (const userId of users) expect(await cache.deleteUser(userId)).toBe(1)
      expect(await cache.deleteUser(users[0] ?? '')).toBe(0)

      expect(await direct.exists(users.map(userCacheKey))).toBe(0)
      const after = await statsOf(direct)
      expect((after.errors.ERR ?? 0) - (before.errors.ERR ?? 0)).toBe(1)
      expect((after.calls.del ?? 0) - (before.calls.del ?? 0)).toBe(4)
    } finally {
      await close()
    }
  })

  // The same contract as on the machine's Redis: the adapter answers alike whether UNLINK or DEL removes the key.
  describeUserCacheContract('RedisUserCache on a Redis without UNLINK', () => redisUserCache({ host: '127.0.0.1', port: redis.port }))
})

describe('deleting user:<id> as an ACL user granted DEL but not UNLINK', () => {
  const PASSWORD = `r3dis-${randomUUID()}`
  const ADMIN_PASSWORD = `adm1n-${randomUUID()}`
  let redis: OwnRedis
  beforeAll(async () => {
    redis = await startOwnRedis({
      args: ['--requirepass', ADMIN_PASSWORD, '--user', 'deleter', 'on', `>${PASSWORD}`, '~user:*', '+select', '+@read', '+del', '+client', '+ping'],
    })
  })
  afterAll(async () => {
    await redis?.stop()
  })

  it('when the user is deleted, then it answers 1 and the key is gone (DEL after the NOPERM on UNLINK), UNLINK asked once only', async () => {
    const connection = new RedisConnection({ host: '127.0.0.1', port: redis.port, db: 12, timeoutMs: 2000, username: 'deleter', password: PASSWORD })
    const direct = createClient({ socket: { host: '127.0.0.1', port: redis.port }, password: ADMIN_PASSWORD, database: 12 })
    await direct.connect()
    try {
      const cache = new RedisUserCache(connection)
      const users = [randomUUID(), randomUUID()]
      for (const userId of users) await direct.hSet(userCacheKey(userId), { userid: userId })

      for (const userId of users) expect(await cache.deleteUser(userId)).toBe(1)

      expect(await direct.exists(users.map(userCacheKey))).toBe(0)
      const { calls, errors } = await statsOf(direct)
      expect(errors.NOPERM).toBe(1)
      expect(calls.del).toBe(2)
    } finally {
      await Promise.all([connection.close(), direct.close()])
    }
  })
})
