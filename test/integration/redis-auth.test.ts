import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { createClient } from '@redis/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { composeService } from '../../src/compose.js'
import type { Config } from '../../src/config/config.js'
import { projectRoot } from '../../src/config/project-root.js'
import { userCacheKey } from '../../src/redis/redis-user-cache.js'
import { capturedLogger } from '../support/captured-logger.js'
import { requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { type OwnRedis, startOwnRedis } from '../support/redis-server.js'

const PASSWORD = `r3dis-${randomUUID()}`
const WRONG = `wr0ng-${randomUUID()}`
const HASH = { firstname: 'encrypted-name', rootorgid: 'org-root-1' }

/**
 * Sunbird's user cache on a Redis that wants a password: a redis-server of the test's own with
 * `--requirepass` (the machine's Redis, on 6379 without one, is left alone), deleted through over
 * HTTP in-process by an instance given the right password, a wrong one, and none.
 */
describe('the user cache on a real Redis that requires a password (sunbird_redis_password)', () => {
  let redis: OwnRedis
  let h: Harness
  beforeAll(async () => {
    redis = await startOwnRedis({ args: ['--requirepass', PASSWORD] })
    h = await startHarness({ redis: { host: '127.0.0.1', port: redis.port, password: PASSWORD } })
  })
  afterAll(async () => {
    await h?.close()
    await redis?.stop()
  })

  /** A client of the test's own on the protected Redis, DB 12. */
  const directClient = () => createClient({ socket: { host: '127.0.0.1', port: redis.port }, password: PASSWORD, database: 12 })
  async function direct<T>(work: (client: ReturnType<typeof directClient>) => Promise<T>): Promise<T> {
    const client = directClient()
    await client.connect()
    try {
      return await work(client)
    } finally {
      await client.close()
    }
  }

  /** Deletes a seeded user (Sunbird's deletion, no mode) through an instance with these Redis settings; its log lines and the request as stored. */
  async function deleteWith(redisSettings: Partial<Config['redis']>) {
    const user = await h.seed()
    await direct((client) => client.hSet(userCacheKey(user.id), HASH))
    const { logger, lines } = capturedLogger()
    const service = composeService({ ...h.config, redis: { ...h.config.redis, password: undefined, ...redisSettings } }, logger)
    try {
      const answer = await service.app.request('/api/user/v1/delete', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${h.apiBearer}`, 'x-authenticated-user-token': h.userToken({ sub: user.id }) },
        body: JSON.stringify({ request: { userId: user.id } }),
      })
      expect(answer.status).toBe(200)
    } finally {
      await service.close()
    }
    const [request] = await requestsOf(h.db, user.id)
    const cached = await direct((client) => client.exists(userCacheKey(user.id)))
    await direct((client) => client.del(userCacheKey(user.id)))
    return { lines, request, cached }
  }

  it('when the instance has the right password, then the cache step erases user:<id> and nothing it logs or records holds the password', async () => {
    const { lines, request, cached } = await deleteWith({ password: PASSWORD })

    expect(cached).toBe(0)
    expect(request?.steps.cacheUser).toMatchObject({ status: 'done', action: 'deleted', count: 1 })
    expect(JSON.stringify(lines)).not.toContain(PASSWORD)
    expect(JSON.stringify(request)).not.toContain(PASSWORD)
  })

  it('when the password is wrong, then the deletion is answered, the cache step is owed (pending, unreachable), the key is still there, and the log says WRONGPASS and the setting, never a password', async () => {
    const { lines, request, cached } = await deleteWith({ password: WRONG })

    expect(cached).toBe(1)
    expect(request?.state).toBe('partial')
    expect(request?.steps.cacheUser).toMatchObject({ status: 'pending', action: 'unreachable' })
    expect(lines.find((line) => line.step === 'cacheUser')).toMatchObject({
      msg: 'deletion step not done; the sweeper will retry',
      dependency: 'redis',
      why: expect.stringMatching(/WRONGPASS.*sunbird_redis_password/),
    })
    for (const secret of [WRONG, PASSWORD]) {
      expect(JSON.stringify(lines)).not.toContain(secret)
      expect(JSON.stringify(request)).not.toContain(secret)
    }
  })

  it('when no password is set, then the cache step is owed and the log says NOAUTH: Redis wants sunbird_redis_password', async () => {
    const { lines, request, cached } = await deleteWith({})

    expect(cached).toBe(1)
    expect(request?.steps.cacheUser).toMatchObject({ status: 'pending', action: 'unreachable' })
    expect(lines.find((line) => line.step === 'cacheUser')).toMatchObject({ dependency: 'redis', why: expect.stringMatching(/NOAUTH.*sunbird_redis_password/) })
    expect(JSON.stringify(lines)).not.toContain(PASSWORD)
  })
})

/**
 * REDIS_TLS on a real redis-server serving TLS only (Debian's is built with TLS), with a self-signed
 * certificate for 127.0.0.1 (openssl). The authority Node trusts is added at start-up only
 * (NODE_EXTRA_CA_CERTS), so the adapter runs in a process of its own (test/support/redis-cache-probe.ts),
 * configured by env as the service is.
 */
describe('the user cache on a real Redis over TLS (REDIS_TLS)', () => {
  let redis: OwnRedis
  beforeAll(async () => {
    redis = await startOwnRedis({ tls: true, args: ['--requirepass', PASSWORD] })
  })
  afterAll(async () => {
    await redis?.stop()
  })

  /** Seeds user:<id> over TLS with a client of the test's own that trusts the certificate. */
  async function seeded(): Promise<string> {
    const userId = randomUUID()
    const { readFileSync } = await import('node:fs')
    const client = createClient({ socket: { host: '127.0.0.1', port: redis.port, tls: true, ca: readFileSync(redis.certificate ?? '') }, password: PASSWORD, database: 12 })
    await client.connect()
    await client.hSet(userCacheKey(userId), HASH)
    await client.close()
    return userId
  }

  /** The probe's one JSON line, run with the service's Redis variables and `env`. */
  function probe(userId: string, env: Record<string, string>): Record<string, unknown> {
    const run = spawnSync(join(projectRoot, 'node_modules', '.bin', 'tsx'), [join(projectRoot, 'test', 'support', 'redis-cache-probe.ts'), userId], {
      cwd: projectRoot,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, sunbird_redis_host: '127.0.0.1', sunbird_redis_port: String(redis.port), sunbird_redis_password: PASSWORD, REDIS_TLS: 'true', REDIS_TIMEOUT_MS: '2000', ...env },
    })
    const line = run.stdout.trim().split('\n').pop() ?? ''
    expect(line, run.stderr).toMatch(/^\{/)
    expect(run.stdout + run.stderr).not.toContain(PASSWORD)
    return JSON.parse(line) as Record<string, unknown>
  }

  it('when Node trusts the certificate (NODE_EXTRA_CA_CERTS), then the cache is read and user:<id> deleted over TLS with the password', () => {
    return seeded().then((userId) => {
      expect(probe(userId, { NODE_EXTRA_CA_CERTS: redis.certificate ?? '' })).toEqual({ read: { kind: 'hash', fields: HASH }, deleted: 1 })
    })
  })

  it('when Node does not trust the certificate, then the call fails as redis unavailable, the why naming the certificate and NODE_EXTRA_CA_CERTS', async () => {
    const userId = await seeded()

    expect(probe(userId, { NODE_EXTRA_CA_CERTS: '' })).toEqual({
      failed: 'DependencyUnavailableError',
      why: expect.stringMatching(/TLS certificate was not accepted \(DEPTH_ZERO_SELF_SIGNED_CERT\).*NODE_EXTRA_CA_CERTS/),
    })
  })
})
