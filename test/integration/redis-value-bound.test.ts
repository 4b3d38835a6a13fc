import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { userCacheKey } from '../../src/redis/redis-user-cache.js'
import { createSchemaRegistry } from '../../src/schemas/schema-registry.js'
import { expectDeleted } from '../support/assertions.js'
import { type Harness, startHarness } from '../support/harness.js'
import { envelopeOf, lifecycle } from '../support/lifecycle.js'
import { connectDb12, type Db12Client, redisCacheOnDb12 } from '../support/redis-cache-db.js'

/** A small bound, so that keys over it stay cheap to write; the default (1 MiB) works the same way. */
const MAX_VALUE_BYTES = 1024
const ORG = '0137000000000000000015'

describe('RedisUserCache on the real Redis (DB 12): a user:<id> larger than REDIS_MAX_VALUE_BYTES is sized, never read', () => {
  const { cache, redis, keyOf } = redisCacheOnDb12(MAX_VALUE_BYTES)

  it('when the key is a string longer than the bound, then reading gives its type and length, not its value; deleting removes it', async () => {
    const userId = randomUUID()
    await redis.set(keyOf(userId), 'x'.repeat(MAX_VALUE_BYTES + 1))

    expect(await cache.readUser(userId)).toEqual({ kind: 'tooLarge', type: 'string', size: { bytes: MAX_VALUE_BYTES + 1 }, maxBytes: MAX_VALUE_BYTES })
    expect(await cache.deleteUser(userId)).toBe(1)
    expect(await redis.exists(userCacheKey(userId))).toBe(0)
  })

  it('when the key is a list of more members than can fit, then reading gives its count alone (no member read)', async () => {
    const userId = randomUUID()
    await redis.rPush(
      keyOf(userId),
      Array.from({ length: 5000 }, () => 'a'),
    )

    expect(await cache.readUser(userId)).toEqual({ kind: 'tooLarge', type: 'list', size: { members: 5000 }, maxBytes: MAX_VALUE_BYTES })
  })

  it('when the key is a sorted set of few members, each large, then the bytes Redis holds for it decide, every member counted', async () => {
    const userId = randomUUID()
    await redis.zAdd(keyOf(userId), [
      { score: 1, value: 'small' },
      { score: 2, value: 'y'.repeat(4 * MAX_VALUE_BYTES) },
    ])

    const read = await cache.readUser(userId)

    expect(read).toMatchObject({ kind: 'tooLarge', type: 'zset', size: { members: 2 }, maxBytes: MAX_VALUE_BYTES })
    expect((read as { size: { bytes: number } }).size.bytes).toBeGreaterThan(4 * MAX_VALUE_BYTES)
  })

  it("when Sunbird's hash holds one field larger than the bound, then the hash is not read either: its field count and bytes", async () => {
    const userId = randomUUID()
    await redis.hSet(keyOf(userId), { userid: userId, firstname: 'z'.repeat(2 * MAX_VALUE_BYTES) })

    const read = await cache.readUser(userId)

    expect(read).toMatchObject({ kind: 'tooLarge', type: 'hash', size: { members: 2 }, maxBytes: MAX_VALUE_BYTES })
    expect((read as { size: { bytes: number } }).size.bytes).toBeGreaterThan(2 * MAX_VALUE_BYTES)
  })

  it("when the key is within the bound, then it is read whole as before: Sunbird's hash, or a set's members", async () => {
    const hashUser = randomUUID()
    const setUser = randomUUID()
    await redis.hSet(keyOf(hashUser), { userid: hashUser, rootorgid: ORG })
    await redis.sAdd(keyOf(setUser), ['b'])

    expect(await cache.readUser(hashUser)).toEqual({ kind: 'hash', fields: { userid: hashUser, rootorgid: ORG } })
    expect(await cache.readUser(setUser)).toEqual({ kind: 'other', type: 'set', value: ['b'] })
  })
})

describe('export of a user whose user:<id> is larger than REDIS_MAX_VALUE_BYTES', () => {
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

  it('when an ORG_ADMIN exports them, then 200 with the rest of the export and the key named by its type and size, no value; a deletion still removes the key', async () => {
    const person = await h.seed({ rootOrgId: ORG })
    const admin = { 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) }
    const key = userCacheKey(person.id)
    try {
      await redis.rPush(
        key,
        Array.from({ length: 5000 }, (_, i) => `member-${i}`),
      )

      const { status, ...answer } = await envelopeOf(await api.exportOf(person.id, admin))

      expect(status, JSON.stringify(answer).slice(0, 500)).toBe(200)
      expect(answer.result.user).toMatchObject({
        row: expect.objectContaining({ id: person.id }),
        cache: null,
        cacheValue: { type: 'list', value: null, tooLarge: { members: 5000, maxBytes: MAX_VALUE_BYTES } },
      })
      expect(JSON.stringify(answer.result)).not.toContain('member-0')
      const validate = createSchemaRegistry().validator('user-export.response')
      expect(validate(answer), JSON.stringify(validate.errors)).toBe(true)

      await expectDeleted(await api.remove(person.id, { mode: 'hard' }, admin))
      expect(await redis.exists(key)).toBe(0)
    } finally {
      await redis.del(key)
    }
  })

  it("when user:<id> holds a small stream (Redis's 4 KiB block for it over the bound, its entries within it), then the export holds its entries", async () => {
    const person = await h.seed({ rootOrgId: ORG })
    const admin = { 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) }
    const key = userCacheKey(person.id)
    try {
      const id = await redis.xAdd(key, '*', { event: 'login' })
      expect(await redis.memoryUsage(key, { SAMPLES: 0 })).toBeGreaterThan(MAX_VALUE_BYTES)

      const { status, ...answer } = await envelopeOf(await api.exportOf(person.id, admin))

      expect(status, JSON.stringify(answer).slice(0, 500)).toBe(200)
      expect(answer.result.user).toMatchObject({ cache: null, cacheValue: { type: 'stream', value: [{ id, fields: [['event', 'login']] }] } })
      expect((answer.result.user as { cacheValue: object }).cacheValue).not.toHaveProperty('tooLarge')
    } finally {
      await redis.del(key)
    }
  })
})
