import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedUser } from '../../scripts/lib/seed-users.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { currentSchemaVersion, migrate } from '../../src/store/migrations.js'
import { jobStatus, postTo, submitJob, waitForJob } from '../support/batch-jobs.js'
import { startContractServer } from '../support/contract-server.js'
import { requestsOf } from '../support/deletion-requests.js'
import { testConfig } from '../support/harness.js'

/** A keyspace of this file's own: its newest migration is unrecorded for the test's length, which no other test could bear. */
const KEYSPACE = 'sunbird_test_schema_behind'
const config = testConfig({ cassandra: { keyspace: KEYSPACE } })
const ORG = `schema-behind-${randomUUID()}`
const WAITS = 'background work waits for the schema; run npm run db:migrate'

beforeAll(async () => {
  await migrate(config.cassandra)
}, 300_000)

/** Each parsed JSON log line of the server whose `msg` is `msg`. */
const linesOf = (logs: readonly string[], msg: string) => logs.filter((line) => line.includes(`"msg":"${msg}"`)).map((line) => JSON.parse(line) as Record<string, unknown>)

describe('an instance started before npm run db:migrate', () => {
  const db = createCassandraClient(config.cassandra)

  afterAll(async () => {
    // Whatever the test reached, the keyspace ends migrated (the last migration is idempotent).
    await migrate(config.cassandra)
    await db.shutdown()
  })

  it('when the keyspace lacks the newest migration, then the sweeper, relay and batch runner wait (said once), and start as soon as it is applied', async () => {
    // Arrange: the keyspace as an instance of this build meets it mid-upgrade; a job submitted to it.
    await db.execute(`DELETE FROM ${KEYSPACE}.schema_version WHERE version = ?`, [currentSchemaVersion], { prepare: true })
    const userIds = [randomUUID(), randomUUID()]
    for (const id of userIds) await seedUser(db, KEYSPACE, { id, rootOrgId: ORG, organisations: [ORG] })
    const server = await startContractServer({
      env: { CASSANDRA_KEYSPACE: KEYSPACE, LOG_LEVEL: 'debug', DELETION_SWEEP_INTERVAL_MS: '200', EVENT_RELAY_INTERVAL_MS: '200', BATCH_POLL_INTERVAL_MS: '200' },
    })
    try {
      const post = postTo(server.url, server.apiBearer)
      const token = server.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
      const { jobId } = await submitJob(post, token, userIds)

      // Act + Assert: held while behind.
      await server.logged((line) => line.includes(WAITS))
      await new Promise((resolve) => setTimeout(resolve, 2000))
      expect(linesOf(server.logs, WAITS)).toEqual([expect.objectContaining({ level: 40, applied: currentSchemaVersion - 1, required: currentSchemaVersion })])
      expect(linesOf(server.logs, 'background pass failed')).toEqual([])
      const heldPasses = linesOf(server.logs, 'background pass')
      expect(heldPasses.map((line) => line.job).sort()).toEqual(expect.arrayContaining(['deletion-sweeper', 'event-relay']))
      expect(heldPasses.every((line) => line.result === 'not started')).toBe(true)
      expect(await jobStatus(post, token, jobId)).toMatchObject({ state: 'running', done: 0 })
      for (const userId of userIds) expect(await requestsOf(db, userId, KEYSPACE)).toEqual([])

      // Act + Assert: the migration applied, the same instance goes on without a restart.
      await migrate(config.cassandra)
      await server.logged((line) => line.includes('"msg":"background pass"') && line.includes('"job":"deletion-sweeper"') && line.includes('"resumed"'))
      const done = await waitForJob(post, token, jobId, (status) => status.state === 'completed')
      expect(done).toMatchObject({ total: 2, succeeded: 2, failed: {} })
      for (const userId of userIds) expect((await requestsOf(db, userId, KEYSPACE)).map((request) => request.state)).toEqual(['completed'])
      expect(linesOf(server.logs, WAITS)).toHaveLength(1)
    } finally {
      await server.stop()
    }
  }, 120_000)
})
