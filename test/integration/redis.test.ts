import { randomUUID } from 'node:crypto'
import { createClient } from '@redis/client'
import { afterAll, describe, expect, it } from 'vitest'
import { RedisConnection } from '../../src/redis/redis-client.js'
import { freePort } from '../support/spawned-server.js'
import { LOCAL_REDIS } from '../support/test-env.js'

describe("Sunbird's user cache on the real Redis (DB 12)", () => {
  const connection = new RedisConnection({ ...LOCAL_REDIS, db: 12, timeoutMs: 2000 })
  afterAll(async () => {
    await connection.close()
  })

  it('when Redis runs, then PING answers', async () => {
    expect(await connection.ping()).toBe(true)
  })

  it('when a user:<id> hash is written through the connection, then it lands in DB 12 and nowhere else', async () => {
    const key = `user:${randomUUID()}`
    const db12 = createClient({ socket: { host: LOCAL_REDIS.host, port: LOCAL_REDIS.port }, database: 12 })
    const db0 = createClient({ socket: { host: LOCAL_REDIS.host, port: LOCAL_REDIS.port }, database: 0 })
    await Promise.all([db12.connect(), db0.connect()])
    try {
      const client = await connection.connected()
      await client.hSet(key, { firstname: 'encrypted-name', rootorgid: 'org-root-1' })

      expect(await db12.hGetAll(key)).toEqual({ firstname: 'encrypted-name', rootorgid: 'org-root-1' })
      expect(await db0.exists(key)).toBe(0)
    } finally {
      await db12.del(key)
      await Promise.all([db12.close(), db0.close()])
    }
  })

  it('when nothing listens on the configured port, then PING says false within the timeout instead of hanging', async () => {
    const down = new RedisConnection({ host: '127.0.0.1', port: await freePort(), db: 12, timeoutMs: 500 })
    const started = Date.now()
    try {
      expect(await down.ping()).toBe(false)
      expect(Date.now() - started).toBeLessThan(3000)
    } finally {
      await down.close()
    }
  })
})
