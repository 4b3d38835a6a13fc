import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisClient, RedisConnection } from '../../src/redis/redis-client.js'
import { RedisUserCache, userCacheKey } from '../../src/redis/redis-user-cache.js'
import { createSchemaRegistry } from '../../src/schemas/schema-registry.js'
import { expectDeleted } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { envelopeOf, lifecycle } from '../support/lifecycle.js'
import { connectDb12, type Db12Client, redisCacheOnDb12 } from '../support/redis-cache-db.js'
import { LOCAL_REDIS } from '../support/test-env.js'

/** A small bound, so that streams over it stay cheap to write; the default (1 MiB) works the same way. */
const MAX_VALUE_BYTES = 16_384
/** More entries than can fit (three bytes each at least). */
const TOO_MANY_ENTRIES = Math.floor(MAX_VALUE_BYTES / 3) + 1

/** Appends `count` entries in one round trip. */
async function appendEntries(redis: Db12Client, key: string, count: number): Promise<void> {
  const batch = redis.multi()
  for (let i = 0; i < count; i++) batch.xAdd(key, '*', { entry: `entry-${i}` })
  await batch.exec()
}
/** The real connection, counting the stream entries its XRANGE pages bring into this process. */
class EntryCountingConnection extends RedisConnection {
  entriesRead = 0
  override async command<T>(name: string, call: (client: RedisClient) => Promise<T>): Promise<T> {
    const reply = await super.command(name, call)
    if (name === 'XRANGE' && Array.isArray(reply)) this.entriesRead += reply.length
    return reply
  }
}
const ORG = '0137000000000000000016'

describe('RedisUserCache on the real Redis (DB 12): a user:<id> that holds a stream is sized (XLEN, MEMORY USAGE), then read whole or named by its size', () => {
  const { cache, redis, keyOf } = redisCacheOnDb12(MAX_VALUE_BYTES)

  it('when the stream is within the bound, then reading gives its entries in order, each its id and fields; deleting removes it (1)', async () => {
    const userId = randomUUID()
    const first = await redis.xAdd(keyOf(userId), '*', { event: 'login', phone: '9999999999' })
    const second = await redis.xAdd(keyOf(userId), '*', { event: 'logout' })

    expect(await cache.readUser(userId)).toEqual({
      kind: 'other',
      type: 'stream',
      value: [
        {
          id: first,
          fields: [
            ['event', 'login'],
            ['phone', '9999999999'],
          ],
        },
        { id: second, fields: [['event', 'logout']] },
      ],
    })
    expect(await cache.deleteUser(userId)).toBe(1)
    expect(await redis.exists(userCacheKey(userId))).toBe(0)
  })

  it('when the stream has more entries than can fit, then reading gives its entry count alone (XLEN; no entry read)', async () => {
    const userId = randomUUID()
    await appendEntries(redis, keyOf(userId), TOO_MANY_ENTRIES)

    expect(await cache.readUser(userId)).toEqual({ kind: 'tooLarge', type: 'stream', size: { members: TOO_MANY_ENTRIES }, maxBytes: MAX_VALUE_BYTES })
  })

  it('when every entry repeats a field name Redis stores once per block (MEMORY USAGE under the bound, the export far over it), then tooLarge, the stream not read whole', async () => {
    const userId = randomUUID()
    const longName = 'n'.repeat(1500)
    const batch = redis.multi()
    for (let i = 0; i < 200; i++) batch.xAdd(keyOf(userId), '*', { [longName]: `value-${i}` })
    await batch.exec()
    expect(await redis.memoryUsage(userCacheKey(userId), { SAMPLES: 0 })).toBeLessThan(MAX_VALUE_BYTES)
    const counting = new EntryCountingConnection({ ...LOCAL_REDIS, db: 12, timeoutMs: 2000 })
    try {
      expect(await new RedisUserCache(counting, MAX_VALUE_BYTES).readUser(userId)).toEqual({ kind: 'tooLarge', type: 'stream', size: { members: 200 }, maxBytes: MAX_VALUE_BYTES })
      // 200 entries of 1.5 KB would be 300 KB; the read stops a page after passing 16 KB.
      expect(counting.entriesRead).toBeLessThan(50)
    } finally {
      await counting.close()
    }
  })

  it('when an entry repeats a field name or names one __proto__, then every pair is read, in order', async () => {
    const userId = randomUUID()
    await redis.sendCommand(['XADD', keyOf(userId), '1-0', 'email', 'a@example.org', 'email', 'b@example.org', '__proto__', 'p'])

    expect(await cache.readUser(userId)).toEqual({
      kind: 'other',
      type: 'stream',
      value: [
        {
          id: '1-0',
          fields: [
            ['email', 'a@example.org'],
            ['email', 'b@example.org'],
            ['__proto__', 'p'],
          ],
        },
      ],
    })
  })

  it('when the stream has few entries, one a little over the bound, then tooLarge with its entries as the paged read counted them, no bytes (its MEMORY USAGE is not its export)', async () => {
    const userId = randomUUID()
    await redis.xAdd(keyOf(userId), '*', { event: 'small' })
    await redis.xAdd(keyOf(userId), '*', { note: 'y'.repeat(MAX_VALUE_BYTES) })
    expect(await redis.memoryUsage(userCacheKey(userId), { SAMPLES: 0 })).toBeGreaterThan(MAX_VALUE_BYTES)

    expect(await cache.readUser(userId)).toEqual({ kind: 'tooLarge', type: 'stream', size: { members: 2 }, maxBytes: MAX_VALUE_BYTES })
  })

  it('when the stream has few entries, one huge (Redis holds more than twice the bound and 8 KiB for it), then tooLarge with its entries and MEMORY USAGE, no entry read', async () => {
    const userId = randomUUID()
    await redis.xAdd(keyOf(userId), '*', { event: 'small' })
    await redis.xAdd(keyOf(userId), '*', { note: 'y'.repeat(4 * MAX_VALUE_BYTES) })
    const counting = new EntryCountingConnection({ ...LOCAL_REDIS, db: 12, timeoutMs: 2000 })
    try {
      const read = await new RedisUserCache(counting, MAX_VALUE_BYTES).readUser(userId)

      expect(read).toMatchObject({ kind: 'tooLarge', type: 'stream', size: { members: 2 }, maxBytes: MAX_VALUE_BYTES })
      expect((read as { size: { bytes: number } }).size.bytes).toBeGreaterThan(4 * MAX_VALUE_BYTES)
      expect(counting.entriesRead).toBe(0)
    } finally {
      await counting.close()
    }
  })
})

describe('export and deletion of a user whose user:<id> holds a stream', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  let redis: Db12Client
  beforeAll(async () => {
    h = await startHarness({ redis: { maxValueBytes: MAX_VALUE_BYTES } })
    api = lifecycle(h)
    redis = await connectDb12()
  })
  afterAll(async () => {
    await Promise.all([h.close(), redis.close()])
  })

  it('when an ORG_ADMIN exports them, then 200 with the stream entries as held (valid against the export schema); a deletion removes the key, its step counting 1', async () => {
    const person = await h.seed({ rootOrgId: ORG })
    const admin = { 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) }
    const key = userCacheKey(person.id)
    try {
      const id = await redis.xAdd(key, '*', { event: 'login', email: 'someone@example.org' })

      const { status, ...answer } = await envelopeOf(await api.exportOf(person.id, admin))

      expect(status, JSON.stringify(answer).slice(0, 500)).toBe(200)
      expect(answer.result.user).toMatchObject({
        cache: null,
        cacheValue: {
          type: 'stream',
          value: [
            {
              id,
              fields: [
                ['event', 'login'],
                ['email', 'someone@example.org'],
              ],
            },
          ],
        },
      })
      const validate = createSchemaRegistry().validator('user-export.response')
      expect(validate(answer), JSON.stringify(validate.errors)).toBe(true)

      await expectDeleted(await api.remove(person.id, { mode: 'hard' }, admin))
      expect(await redis.exists(key)).toBe(0)
      const [request] = await requestsOf(h.db, person.id)
      expect(request?.steps.cacheUser).toMatchObject({ status: 'done', action: 'deleted', count: 1 })
    } finally {
      await redis.del(key)
    }
  })

  it('when the stream has more entries than the bound, then the export names it by its type and entry count, no entry in the answer', async () => {
    const person = await h.seed({ rootOrgId: ORG })
    const admin = { 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) }
    const key = userCacheKey(person.id)
    try {
      await appendEntries(redis, key, TOO_MANY_ENTRIES)

      const { status, ...answer } = await envelopeOf(await api.exportOf(person.id, admin))

      expect(status).toBe(200)
      expect(answer.result.user).toMatchObject({ cache: null, cacheValue: { type: 'stream', value: null, tooLarge: { members: TOO_MANY_ENTRIES, maxBytes: MAX_VALUE_BYTES } } })
      expect(JSON.stringify(answer.result)).not.toContain('entry-0')
      const validate = createSchemaRegistry().validator('user-export.response')
      expect(validate(answer), JSON.stringify(validate.errors)).toBe(true)
    } finally {
      await redis.del(key)
    }
  })
})
