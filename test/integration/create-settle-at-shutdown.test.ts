import { randomUUID } from 'node:crypto'
import { type Client, errors, types } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { acceptedRequest } from '../../src/deletion/deletion-request.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { CassandraDeletionRequests } from '../../src/store/cassandra-deletion-requests.js'
import { withFaults } from '../support/faults.js'
import { testConfig } from '../support/harness.js'

/**
 * A deletion answered 200 while its request's create had an unknown outcome is settled in the
 * background; shutdown waits for that settle (finishSettling) within its drain deadline. On the real
 * Cassandra, over a driver session whose create and serial read back time out (unsent) while `down`.
 */
describe('a create settled in the background, finished at shutdown', () => {
  const { keyspace } = testConfig().cassandra
  let db: Client
  let faulty: Client
  const state = { down: false }

  beforeAll(async () => {
    db = createCassandraClient(testConfig().cassandra)
    await db.connect()
    faulty = withFaults(createCassandraClient(testConfig().cassandra), (method, args) => {
      if (method !== 'execute' || !state.down) return undefined
      const [cql, , options] = args as [string, unknown, { consistency?: number } | undefined]
      const settling = cql.endsWith('IF NOT EXISTS') || options?.consistency === types.consistencies.localSerial
      return settling ? { throw: () => new errors.OperationTimedOutError('timed out') } : undefined
    })
    await faulty.connect()
  })
  afterAll(async () => {
    await Promise.all([db?.shutdown(), faulty?.shutdown()])
  })

  const stored = async (id: string) => (await db.execute(`SELECT id, userid, state FROM ${keyspace}.user_deletion_request WHERE id = ?`, [id], { prepare: true })).first()
  const listed = async (id: string) => (await db.execute(`SELECT id FROM ${keyspace}.user_deletion_request_open WHERE id = ?`, [id], { prepare: true })).rows.length > 0

  it('when Cassandra answers again, then finishSettling has the settle try at once, creates the request, and resolves well before the settle’s own pause', async () => {
    const requests = new CassandraDeletionRequests(faulty, keyspace)
    const request = acceptedRequest({
      id: randomUUID(),
      userId: randomUUID(),
      requestedBy: randomUUID(),
      plan: 'sunbird',
      target: { rootOrgId: null, managedBy: null, organisationIds: [] },
      now: new Date(),
    })
    state.down = true

    // The caller waits up to 6 s for the settle, then is answered "accepted".
    expect(await requests.create(request, new Date(Date.now() + 30_000), 'caller')).toBe('unknown')
    expect(requests.unsettled()).toEqual([request.id])
    expect(await stored(request.id)).toBeNull()
    expect(await listed(request.id)).toBe(true)

    state.down = false
    const started = Date.now()
    await requests.finishSettling()

    expect(Date.now() - started).toBeLessThan(2_000)
    expect(requests.unsettled()).toEqual([])
    const row = await stored(request.id)
    expect(row?.get('userid')).toBe(request.userId)
    expect(row?.get('state')).toBe('accepted')
    expect(await listed(request.id)).toBe(true)
    await db.execute(`DELETE FROM ${keyspace}.user_deletion_request_open WHERE id = ?`, [request.id], { prepare: true })
  }, 30_000)
})
