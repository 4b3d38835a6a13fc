import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { seedUser } from '../../scripts/lib/seed-users.js'
import { STEPS } from '../../src/deletion/deletion-request.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { requestsOf } from '../support/deletion-requests.js'
import { startContractServer } from '../support/contract-server.js'
import { testConfig } from '../support/harness.js'
import { TEST_KEYSPACE } from '../support/test-env.js'
import { readUserState } from '../support/user-state.js'
import { createRealmKeys } from '../support/user-tokens.js'
import { waitUntil } from '../support/wait-until.js'

/**
 * The built server killed (SIGKILL, as an evicted pod dies) right after each step of a deletion is
 * recorded; a fresh server's sweeper must bring every one of those requests to completed with no
 * personal data left.
 */
describe('when the server dies at any step boundary of a deletion', () => {
  // Every server of this test trusts the same realm keys; NODE_ENV test, or the crash point is ignored.
  const keys = createRealmKeys()
  const db = createCassandraClient(testConfig().cassandra)
  const env = { NODE_ENV: 'test', DELETION_LEASE_MS: '1000', DELETION_SWEEP_INTERVAL_MS: '300' }

  afterAll(async () => {
    await db.shutdown()
  })

  it('then every request converges to completed and no personal data remains', async () => {
    const crashed: { step: string; userId: string; requestId: string }[] = []
    // Right after acceptance, and after every step but the last (nothing follows it to interrupt).
    for (const step of ['accept', ...STEPS.slice(0, -1)]) {
      const userId = randomUUID()
      await seedUser(db, TEST_KEYSPACE, { id: userId, managedBy: undefined })
      await seedUser(db, TEST_KEYSPACE, { id: randomUUID(), managedBy: userId })
      const requestId = `crash-${step}-${randomUUID()}`
      // No sweeper in the crashing servers: it could pick up the previous victim and die on that one instead.
      const server = await startContractServer({ keys, env: { ...env, FAULT_CRASH_AFTER_STEP: step, DELETION_SWEEP_INTERVAL_MS: '0' } })
      const answer = await fetch(`${server.url}/api/user/v1/delete`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${server.apiBearer}`,
          'x-authenticated-user-token': server.userToken({ sub: userId }),
          'x-request-id': requestId,
        },
        body: JSON.stringify({ request: { userId } }),
      }).then(
        (response) => response.status,
        () => 'connection lost',
      )
      expect(answer, `crash after ${step}`).toBe('connection lost')
      expect(await server.stop()).not.toBe(0)
      const [request] = await requestsOf(db, userId)
      expect(request?.state, step).not.toBe('completed')
      if (step !== 'accept') expect(request?.steps[step as keyof typeof request.steps]).toBeDefined()
      crashed.push({ step, userId, requestId })
    }

    const recovery = await startContractServer({ keys, env })
    try {
      let states: string[] = []
      const converged = await waitUntil(
        'every crashed request to complete',
        async () => {
          states = await Promise.all(crashed.map(async ({ userId }) => (await requestsOf(db, userId))[0]?.state ?? 'missing'))
          return states.every((state) => state === 'completed')
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      ).catch(() => false)
      expect(converged, JSON.stringify(crashed.map((c, i) => [c.step, states[i]]))).toBe(true)
    } finally {
      expect(await recovery.stop()).toBe(0)
    }

    for (const { step, userId } of crashed) {
      const state = await readUserState(db, userId)
      expect(state.user?.get('isdeleted'), step).toBe(true)
      expect(state.user?.get('email'), step).toBe('')
      expect(state.user?.get('firstname'), step).toBe('')
      expect(state.lookups, step).toHaveLength(0)
      const [request] = await requestsOf(db, userId)
      expect(Object.keys(request!.steps).sort(), step).toEqual([...STEPS].sort())
      expect(request!.steps.managedUsers, step).toMatchObject({ count: 1 })
    }
  })
})
