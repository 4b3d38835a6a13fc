import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signApiBearer } from '../../scripts/lib/sign-jwt.js'
import { seedUser } from '../../scripts/lib/seed-users.js'
import { STEPS } from '../../src/deletion/deletion-request.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { requestsOf } from '../support/deletion-requests.js'
import { LOCAL_CONSUMER, testConfig } from '../support/harness.js'
import { buildServer, startBuiltServer } from '../support/spawned-server.js'
import { ISSUER, TEST_KEYSPACE } from '../support/test-env.js'
import { createRealmKeys, mintUserToken } from '../support/user-tokens.js'
import { readUserState } from '../support/user-state.js'

/**
 * The built server killed (SIGKILL, as an evicted pod dies) right after each step of a deletion is
 * recorded; a fresh server's sweeper must bring every one of those requests to completed with no
 * personal data left.
 */
describe('when the server dies at any step boundary of a deletion', () => {
  const keys = createRealmKeys()
  const config = testConfig()
  const db = createCassandraClient(config.cassandra)
  const apiBearer = signApiBearer(LOCAL_CONSUMER.key, LOCAL_CONSUMER.secret)
  const env = {
    NODE_ENV: 'test',
    'accesstoken.publickey.basepath': keys.dir,
    API_BEARER_CONSUMERS_FILE: 'config/local/api-consumers.json',
    CASSANDRA_KEYSPACE: TEST_KEYSPACE,
    sunbird_cassandra_port: String(config.cassandra.port),
    DELETION_LEASE_MS: '1000',
    DELETION_SWEEP_INTERVAL_MS: '300',
    LOG_LEVEL: 'info',
  }

  beforeAll(() => buildServer())
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
      const server = await startBuiltServer({ ...env, FAULT_CRASH_AFTER_STEP: step, DELETION_SWEEP_INTERVAL_MS: '0' })
      const answer = await fetch(`${server.url}/api/user/v1/delete`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${apiBearer}`,
          'x-authenticated-user-token': mintUserToken(keys, ISSUER, { sub: userId }),
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

    const recovery = await startBuiltServer(env)
    try {
      const deadline = Date.now() + 30_000
      let states: string[] = []
      while (Date.now() < deadline) {
        states = await Promise.all(crashed.map(async ({ userId }) => (await requestsOf(db, userId))[0]?.state ?? 'missing'))
        if (states.every((state) => state === 'completed')) break
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
      expect(states, JSON.stringify(crashed.map((c, i) => [c.step, states[i]]))).toEqual(crashed.map(() => 'completed'))
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
