import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedUser } from '../../scripts/lib/seed-users.js'
import { stepsOf } from '../../src/deletion/steps/index.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { migrate } from '../../src/store/migrations.js'
import { requestsOf } from '../support/deletion-requests.js'
import { startContractServer } from '../support/contract-server.js'
import { testConfig } from '../support/harness.js'
import { readUserState } from '../support/user-state.js'
import { createRealmKeys } from '../support/user-tokens.js'
import { waitUntil } from '../support/wait-until.js'

/**
 * The built server killed (SIGKILL, as an evicted pod dies) right after each step of a deletion has
 * run (recorded or not yet: outcomes are written at checkpoints); a fresh server's sweeper must bring every one of those requests to completed with no
 * personal data left.
 */
/**
 * A keyspace of this file's own: its servers die at the first matching step they meet, and in the
 * shared test keyspace that is often another suite's request (a due grace-period erasure).
 */
const KEYSPACE = 'sunbird_test_crash'
const crashConfig = testConfig({ cassandra: { keyspace: KEYSPACE } })

beforeAll(async () => {
  await migrate(crashConfig.cassandra)
  // Open work an earlier, interrupted run left behind would be swept (and die) before this run's own.
  const db = createCassandraClient(crashConfig.cassandra)
  try {
    await db.execute(`TRUNCATE ${KEYSPACE}.user_deletion_request_open`)
  } finally {
    await db.shutdown()
  }
}, 300_000)

/** Sunbird's deletion, step by step: what a request without a mode runs. */
const STEPS = stepsOf('sunbird').map((step) => step.name)

/** A receipt's lines as `action count`, by store. */
const receiptLines = (receipt: Record<string, unknown> | null | undefined): Record<string, string> =>
  Object.fromEntries(
    ((receipt?.stores ?? []) as { store: string; action: string; count?: number }[]).map((entry) => [entry.store, `${entry.action}${entry.count === undefined ? '' : ` ${entry.count}`}`]),
  )

/**
 * What the receipt says of the Keycloak account (these users have none) and of the 3 lookups after a
 * kill right after `step`. The outcomes from the lock to the extra targets are first written at the
 * checkpoint before the profile scrub: killed before it, the resumed run cannot tell what the killed
 * one erased, and says `absent on resume` where it finds nothing, never `absent` or `deleted 0`
 * (the lookups it found gone, the account it may have removed). Killed before the lock, the run
 * that locks is no resumed one; killed after the checkpoint, the outcomes stand as recorded. The
 * managed user is untouched before the managed users' step, whose outcome is written once it ran.
 */
function expectedLines(step: string): Record<string, string> {
  const indexOf = (name: string) => (STEPS as readonly string[]).indexOf(name)
  const at = indexOf(step)
  const unrecorded = (name: string) => at >= indexOf(name) && at < indexOf('userRow')
  const resumedBeforeCheckpoint = step !== 'accept' && at < indexOf('userRow')
  return {
    keycloak: resumedBeforeCheckpoint ? 'absent on resume' : 'absent',
    'cassandra.user_lookup': unrecorded('lookups') ? 'absent on resume 0' : 'deleted 3',
    'cassandra.user_lookup (managed users)': 'deleted 3',
  }
}

// Each test starts a built server per crash point (about fifteen), so it runs for minutes, not seconds.
describe('when the server dies at any step boundary of a deletion', () => {
  // Every server of this test trusts the same realm keys; NODE_ENV test, or the crash point is ignored.
  const keys = createRealmKeys()
  const db = createCassandraClient(crashConfig.cassandra)
  const env = { CASSANDRA_KEYSPACE: KEYSPACE, NODE_ENV: 'test', DELETION_LEASE_MS: '1000', DELETION_SWEEP_INTERVAL_MS: '300' }

  afterAll(async () => {
    await db.shutdown()
  })

  it('then every request converges to completed and no personal data remains', async () => {
    const crashed: { step: string; userId: string; requestId: string }[] = []
    // Right after acceptance, and after every step but the last (nothing follows it to interrupt).
    for (const step of ['accept', ...STEPS.slice(0, -1)]) {
      const userId = randomUUID()
      await seedUser(db, KEYSPACE, { id: userId, managedBy: undefined })
      await seedUser(db, KEYSPACE, { id: randomUUID(), managedBy: userId })
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
      const [request] = await requestsOf(db, userId, KEYSPACE)
      expect(request?.state, step).not.toBe('completed')
      // The lock is recorded at once; later outcomes at the next checkpoint, so the steps since the last one run again.
      if (step !== 'accept') expect(request?.steps.lock, step).toBeDefined()
      crashed.push({ step, userId, requestId })
    }

    const recovery = await startContractServer({ keys, env })
    try {
      let states: string[] = []
      const converged = await waitUntil(
        'every crashed request to complete',
        async () => {
          states = await Promise.all(crashed.map(async ({ userId }) => (await requestsOf(db, userId, KEYSPACE))[0]?.state ?? 'missing'))
          return states.every((state) => state === 'completed')
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      ).catch(() => false)
      expect(converged, JSON.stringify(crashed.map((c, i) => [c.step, states[i]]))).toBe(true)
    } finally {
      expect(await recovery.stop()).toBe(0)
    }

    for (const { step, userId } of crashed) {
      const state = await readUserState(db, userId, KEYSPACE)
      expect(state.user?.get('isdeleted'), step).toBe(true)
      expect(state.user?.get('email'), step).toBe('')
      expect(state.user?.get('firstname'), step).toBe('')
      expect(state.lookups, step).toHaveLength(0)
      const [request] = await requestsOf(db, userId, KEYSPACE)
      expect(Object.keys(request!.steps).sort(), step).toEqual([...STEPS].sort())
      expect(request!.steps.managedUsers, step).toMatchObject({ count: 1 })
      expect(receiptLines(request!.receipt), step).toMatchObject(expectedLines(step))
    }
  }, 300_000)
})

/**
 * A grace period killed between its soft deletion and its erasure: right after the soft phase's
 * Keycloak step, right after it was scheduled, and right as the sweeper turned it into the erasure.
 * A fresh server's sweeper finishes each: the erasure is delayed by the crash, never lost.
 */
describe('when the server dies between a soft deletion and its erasure', () => {
  const keys = createRealmKeys()
  const db = createCassandraClient(crashConfig.cassandra)
  const graceEnv = { CASSANDRA_KEYSPACE: KEYSPACE, NODE_ENV: 'test', DELETION_LEASE_MS: '1000', DELETION_GRACE_DAY_SECONDS: '2' }

  afterAll(async () => {
    await db.shutdown()
  })

  async function askGracePeriod(server: Awaited<ReturnType<typeof startContractServer>>, userId: string) {
    return fetch(`${server.url}/api/user/v1/delete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.apiBearer}`, 'x-authenticated-user-token': server.userToken({ sub: userId }) },
      body: JSON.stringify({ request: { userId, gracePeriodDays: 1 } }),
    }).then(
      (response) => response.status,
      () => 'connection lost',
    )
  }

  it('then each request is erased by the next server once its grace period ends', async () => {
    const victims: { crash: string; userId: string }[] = []
    // Killed by its own sweeper, right as the grace period turned into the erasure. First, while no
    // other grace period of this file is open: its sweeper would die on whichever falls due first,
    // and on a slow machine an earlier victim's fell due before this server had even answered.
    const sweptUser = randomUUID()
    await seedUser(db, KEYSPACE, { id: sweptUser })
    const sweeping = await startContractServer({ keys, env: { ...graceEnv, FAULT_CRASH_AFTER_STEP: 'erasure', DELETION_SWEEP_INTERVAL_MS: '300' } })
    expect(await askGracePeriod(sweeping, sweptUser)).toBe(200)
    await waitUntil('the sweeping server to die at the erasure', () => sweeping.process.signalCode === 'SIGKILL', { timeoutMs: 20_000 })
    await sweeping.stop()
    // Killed right after the request turned from its grace period into the erasure (the 'erasure' crash point).
    expect((await requestsOf(db, sweptUser, KEYSPACE))[0]?.state).toBe('in_progress')
    victims.push({ crash: 'erasure', userId: sweptUser })
    // Killed while answering: after the soft phase's Keycloak step, and after scheduling. No sweeper
    // in these servers, so the open grace period above cannot be what kills them.
    for (const crash of ['keycloak', 'schedule']) {
      const userId = randomUUID()
      await seedUser(db, KEYSPACE, { id: userId })
      const server = await startContractServer({ keys, env: { ...graceEnv, FAULT_CRASH_AFTER_STEP: crash, DELETION_SWEEP_INTERVAL_MS: '0' } })
      expect(await askGracePeriod(server, userId), crash).toBe('connection lost')
      expect(await server.stop()).not.toBe(0)
      expect((await readUserState(db, userId, KEYSPACE)).user?.get('status'), crash).toBe(2)
      victims.push({ crash, userId })
    }

    const recovery = await startContractServer({ keys, env: { ...graceEnv, DELETION_SWEEP_INTERVAL_MS: '300' } })
    try {
      let states: string[] = []
      const erased = await waitUntil(
        'every grace period to be erased',
        async () => {
          states = await Promise.all(victims.map(async ({ userId }) => (await requestsOf(db, userId, KEYSPACE))[0]?.state ?? 'missing'))
          return states.every((state) => state === 'completed')
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      ).catch(() => false)
      expect(erased, JSON.stringify(victims.map((v, i) => [v.crash, states[i]]))).toBe(true)
    } finally {
      expect(await recovery.stop()).toBe(0)
    }

    for (const { crash, userId } of victims) {
      const state = await readUserState(db, userId, KEYSPACE)
      expect(state.user?.get('email'), crash).toBe('')
      expect(state.lookups, crash).toHaveLength(0)
      const [request] = await requestsOf(db, userId, KEYSPACE)
      expect(request?.steps.event, crash).toBeDefined()
      // Killed once the erasure had begun, the run that resumes it cannot tell whether the killed one removed the account.
      expect(request?.steps.keycloak, crash).toMatchObject({ status: 'done', action: crash === 'erasure' ? 'absent on resume' : 'absent' })
    }
  }, 300_000)
})
