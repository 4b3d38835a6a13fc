import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { errorCodes } from '../../src/http/error-codes.js'
import { health, ready } from '../../src/http/operations/health.js'
import { createSchemaRegistry } from '../../src/schemas/schema-registry.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { freePort } from '../support/spawned-server.js'
import { startHarness, testConfig, type Harness } from '../support/harness.js'

const healthSchema = createSchemaRegistry({ allErrors: true }).validator(ready.responseSchema as string)

interface HealthBody {
  id: string
  params: { err: string | null; status: string }
  responseCode: string
  result: { healthy: boolean; checks: { name: string; healthy: boolean }[] }
}

async function get(h: Harness, path: string): Promise<{ response: Response; body: HealthBody }> {
  const response = await h.service.app.request(path)
  const body = (await response.json()) as HealthBody
  expect(healthSchema(body), JSON.stringify({ body, errors: healthSchema.errors })).toBe(true)
  return { response, body }
}

const check = (body: HealthBody, name: string) => body.result.checks.find((c) => c.name === name)?.healthy

/** A keyspace of the test's own, dropped afterwards; `prepare` runs inside it (tables, rows). */
async function withKeyspace(prepare: (ks: string, run: (cql: string) => Promise<unknown>) => Promise<void>): Promise<{ keyspace: string; drop(): Promise<void> }> {
  const keyspace = `ready_${randomUUID().replace(/-/g, '').slice(0, 16)}`
  const admin = createCassandraClient(testConfig().cassandra, { keyspace: false })
  const run = (cql: string) => admin.execute(cql)
  await run(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`)
  await prepare(keyspace, run)
  return {
    keyspace,
    async drop() {
      await run(`DROP KEYSPACE IF EXISTS ${keyspace}`)
      await admin.shutdown()
    },
  }
}

describe('GET /health and /ready with the real Cassandra and realm keys', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h.close()
  })

  it('when the process runs, then /health answers 200 api.health with no checks', async () => {
    const { response, body } = await get(h, health.paths[0])

    expect(response.status).toBe(200)
    expect(body.id).toBe('api.health')
    expect(body.result).toEqual({ name: 'sunbird-user-delete', healthy: true, checks: [] })
  })

  it('when Cassandra answers with the current schema, the keys are loaded, the search engine has user_alias and Redis answers, then /ready answers 200 with every check healthy', async () => {
    const { response, body } = await get(h, ready.paths[0])

    expect(response.status).toBe(200)
    expect(body.params).toMatchObject({ status: 'SUCCESS', err: null })
    expect(body.result.checks.map((c) => c.name).sort()).toEqual(['cassandra', 'cassandra schema', 'realm keys', 'redis', 'search', 'search index'])
    expect(body.result.checks.every((c) => c.healthy)).toBe(true)
  })
})

describe("/ready and Sunbird's search engine and user cache", () => {
  it('when neither sunbird_es_host nor sunbird_redis_host is configured, then /ready has no check for them and stays 200', async () => {
    const h = await startHarness({ search: { hosts: [] }, redis: { host: '' } })
    try {
      const { response, body } = await get(h, ready.paths[0])

      expect(response.status).toBe(200)
      expect(body.result.checks.map((c) => c.name).sort()).toEqual(['cassandra', 'cassandra schema', 'realm keys'])
    } finally {
      await h.close()
    }
  })

  it('when the configured search engine and Redis do not answer, then /ready answers 503 naming both, within the probe bound', async () => {
    const h = await startHarness({ search: { port: await freePort(), timeoutMs: 500 }, redis: { port: await freePort(), timeoutMs: 500 } })
    try {
      const started = Date.now()

      const { response, body } = await get(h, ready.paths[0])

      expect(response.status).toBe(503)
      expect(check(body, 'search')).toBe(false)
      expect(check(body, 'search index')).toBe(false)
      expect(check(body, 'redis')).toBe(false)
      expect(check(body, 'cassandra')).toBe(true)
      expect(Date.now() - started).toBeLessThan(5000)
    } finally {
      await h.close()
    }
  })

  it('when the engine answers but user_alias is missing (db:migrate not run), then /ready answers 503 on the search index check only', async () => {
    const h = await startHarness()
    try {
      const search = h.service.searchAndCache.search!
      const alias = await search.indices.getAlias({ name: 'user_alias' })
      const index = Object.keys(alias.body as Record<string, unknown>)[0]!
      await search.indices.deleteAlias({ index, name: 'user_alias' })
      try {
        const { response, body } = await get(h, ready.paths[0])

        expect(response.status).toBe(503)
        expect(check(body, 'search')).toBe(true)
        expect(check(body, 'search index')).toBe(false)
      } finally {
        await search.indices.putAlias({ index, name: 'user_alias' })
      }
    } finally {
      await h.close()
    }
  })
})

describe('when Cassandra is unreachable (the configured port is closed)', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ cassandra: { port: await freePort(), connectTimeoutMs: 500 } })
  })
  afterAll(async () => {
    await h.close().catch(() => {})
  })

  it('then /health still answers 200: liveness never depends on Cassandra', async () => {
    const { response, body } = await get(h, '/health')

    expect(response.status).toBe(200)
    expect(body.result.healthy).toBe(true)
  })

  it('then /ready answers 503 UOS_USRDLT0064 with Retry-After, naming the cassandra check', async () => {
    const started = Date.now()

    const { response, body } = await get(h, ready.paths[0])

    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe(String(h.config.http.retryAfterSeconds))
    expect(body.params).toMatchObject({ status: 'FAILED', err: errorCodes.SERVICE_UNAVAILABLE.err })
    expect(body.responseCode).toBe('SERVICE_UNAVAILABLE')
    expect(check(body, 'cassandra')).toBe(false)
    expect(check(body, 'realm keys')).toBe(true)
    // The probe itself is bounded: a dead database must not make the orchestrator's check hang.
    expect(Date.now() - started).toBeLessThan(5000)
  })
})

describe('when the schema is behind the code', () => {
  it('then /ready answers 503 on a fresh, empty keyspace, Cassandra itself answering, and the background work waits for the migration', async () => {
    const empty = await withKeyspace(async () => {})
    const h = await startHarness({ cassandra: { keyspace: empty.keyspace } })
    try {
      const { response, body } = await get(h, ready.paths[0])

      expect(response.status).toBe(503)
      expect(body.params.err).toBe(errorCodes.SERVICE_UNAVAILABLE.err)
      expect(check(body, 'cassandra')).toBe(true)
      expect(check(body, 'cassandra schema')).toBe(false)
      expect(await h.service.schema.ready()).toBe(false)
    } finally {
      await h.close()
      await empty.drop()
    }
  })

  it('then /ready answers 503 when only an older migration was applied, though Cassandra itself answers', async () => {
    const behind = await withKeyspace(async (ks, run) => {
      await run(`CREATE TABLE ${ks}.schema_version (version int PRIMARY KEY, description text, applied_at timestamp)`)
      await run(`INSERT INTO ${ks}.schema_version (version, description, applied_at) VALUES (1, 'first', toTimestamp(now()))`)
    })
    const h = await startHarness({ cassandra: { keyspace: behind.keyspace } })
    try {
      const { response, body } = await get(h, ready.paths[0])

      expect(response.status).toBe(503)
      expect(check(body, 'cassandra')).toBe(true)
      expect(check(body, 'cassandra schema')).toBe(false)
    } finally {
      await h.close()
      await behind.drop()
    }
  })
})
