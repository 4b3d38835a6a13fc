import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Client } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { DeletionRequest, StepOutcome } from '../../src/deletion/deletion-request.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { CassandraDeletionRequests } from '../../src/store/cassandra-deletion-requests.js'
import { testConfig } from '../support/harness.js'
import { TEST_KEYSPACE } from '../support/test-env.js'
import { deferred, waitUntil } from '../support/wait-until.js'

// A run's checkpoint is sent while its lease holds but reaches Cassandra only after another runner
// has taken the request over and finished it: a stalled connection, the driver's retry, a replica's
// hint. No check the service makes can see that moment. The write's timestamp, taken within the
// lease, is what makes it lose (src/store/cassandra-deletion-requests.ts, writeUnderLease).

const LEASE_MS = 1_500
const STEPS_WRITE = 'SET steps = steps + ?, state = ?, leaseuntil = ?'

let db: Client
const used: string[] = []
beforeAll(async () => {
  db = createCassandraClient(testConfig().cassandra)
  await db.connect()
})
afterAll(async () => {
  for (const id of used) await db.execute(`DELETE FROM ${TEST_KEYSPACE}.user_deletion_request WHERE id = ?`, [id], { prepare: true })
  for (const id of used) await db.execute(`DELETE FROM ${TEST_KEYSPACE}.user_deletion_request_open WHERE id = ?`, [id], { prepare: true })
  await db?.shutdown()
})

/** The client, with each checkpoint write held back (after the adapter sent it) until `land()`. */
function holdingCheckpoints(client: Client) {
  let land!: () => void
  const landed = new Promise<void>((resolve) => {
    land = resolve
  })
  let held = 0
  const holding = new Proxy(client, {
    get(target, property) {
      if (property === 'execute') {
        return async (query: string, params: unknown[], options: object) => {
          if (query.includes(STEPS_WRITE)) {
            held++
            await landed
          }
          return target.execute(query, params, options)
        }
      }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { client: holding, land, held: () => held }
}

const done = (action: string): StepOutcome => ({ status: 'done', action, at: new Date().toISOString() })

function newRequest(): DeletionRequest {
  const now = new Date()
  const request: DeletionRequest = {
    id: randomUUID(),
    userId: randomUUID(),
    requestedBy: randomUUID(),
    state: 'accepted',
    plan: 'sunbird',
    steps: {},
    target: { rootOrgId: null, managedBy: null, organisationIds: [] },
    createdAt: now,
    updatedAt: now,
  }
  used.push(request.id)
  return request
}

/**
 * The stalled run's checkpoint is sent under `heldUntil` (or under no lease), held back past the
 * lease while another runner takes the request over and completes it, then lands. Answers the
 * request as it reads afterwards.
 */
async function checkpointLandingAfterTakeover(heldUntil: (leaseEnd: Date) => Date | undefined): Promise<DeletionRequest | undefined> {
  const stalled = holdingCheckpoints(db)
  const staleRunner = new CassandraDeletionRequests(stalled.client, TEST_KEYSPACE)
  const taker = new CassandraDeletionRequests(db, TEST_KEYSPACE)
  const request = newRequest()
  const leaseEnd = new Date(Date.now() + LEASE_MS)
  expect(await taker.create(request, leaseEnd, 'service')).toBe(true)

  const checkpoint = staleRunner.recordSteps(request.id, { keycloak: done('stale') }, 'in_progress', new Date(Date.now() + 60_000), heldUntil(leaseEnd))
  await waitUntil('the checkpoint held back', () => stalled.held() === 1)
  await sleep(leaseEnd.getTime() - Date.now() + 10)
  const now = new Date()
  const takerUntil = new Date(now.getTime() + 30_000)
  expect(await taker.acquireLease(request.id, now, takerUntil)).toBe(true)
  await taker.finish(request.id, 'completed', { steps: { lock: done('locked'), keycloak: done('deleted') } }, takerUntil)

  stalled.land()
  await checkpoint
  return taker.get(request.id)
}

describe('a run’s write that lands after another runner took its request over', () => {
  it('when the write was sent under the lease the run held, then it loses to the taker’s: the request stays completed, the taker’s outcome stands', async () => {
    const after = await checkpointLandingAfterTakeover((leaseEnd) => leaseEnd)

    expect(after?.state).toBe('completed')
    expect(after?.steps.keycloak?.action).toBe('deleted')
  })

  it('when the write was sent under no lease, then it is plain and, landing last, wins (what the lease protects a run from)', async () => {
    const after = await checkpointLandingAfterTakeover(() => undefined)

    expect(after?.state).toBe('in_progress')
    expect(after?.steps.keycloak?.action).toBe('stale')
  })
})

describe('a request created by a compare-and-set (an id its caller chose), then checkpointed by a service clock a little behind Cassandra’s', () => {
  it('when the first step outcome is stamped before the create’s own write time, then it is kept: the create writes no steps of its own to shadow it', async () => {
    const store = new CassandraDeletionRequests(db, TEST_KEYSPACE)
    const request = newRequest()
    const leaseEnd = new Date(Date.now() + 30_000)
    expect(await store.create(request, leaseEnd, 'caller')).toBe(true)

    // The compare-and-set's write time is the coordinator's clock; the checkpoint's is this process's, 200 ms behind.
    const realNow = Date.now.bind(Date)
    const behind = vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 200)
    try {
      await store.recordSteps(request.id, { lock: done('locked') }, 'in_progress', leaseEnd, leaseEnd)
    } finally {
      behind.mockRestore()
    }

    expect((await store.get(request.id))?.steps.lock?.action).toBe('locked')
  })
})

const DUE_WRITE = 'SET dueat = ?'

/** The client, with each write of an open entry's due time (alone, or in a batch) held back until `land()`: a stalled connection. */
function holdingDueWrites(client: Client) {
  const landed = deferred()
  let held = 0
  const hold = async () => {
    held++
    await landed.promise
  }
  const holding = new Proxy(client, {
    get(target, property) {
      if (property === 'execute') {
        return async (query: string, params: unknown[], options: object) => {
          if (query.includes(DUE_WRITE)) await hold()
          return target.execute(query, params, options)
        }
      }
      if (property === 'batch') {
        return async (queries: { query: string }[], options: object) => {
          if (queries.some(({ query }) => query.includes(DUE_WRITE))) await hold()
          return target.batch(queries, options)
        }
      }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { client: holding, land: () => landed.resolve(), held: () => held }
}

/** A grace period's request, erased in an hour, created under a lease ending at `leaseEnd`. */
async function gracePeriod(store: CassandraDeletionRequests, leaseEnd: Date): Promise<{ request: DeletionRequest; eraseAt: Date }> {
  const eraseAt = new Date(Date.now() + 3_600_000)
  const request: DeletionRequest = { ...newRequest(), plan: 'soft', schedule: { plan: 'sunbird', eraseAt } }
  expect(await store.create(request, leaseEnd, 'service')).toBe(true)
  return { request, eraseAt }
}

describe('a grace period’s due time written by a run while a cancel takes its request over', () => {
  it('when the settle’s due time reaches Cassandra only after a cancel took the request and listed it due at once, then the cancel’s “due at once” stands: the sweeper finishes the cancel now, not at eraseAt', async () => {
    const stalled = holdingDueWrites(db)
    const settling = new CassandraDeletionRequests(stalled.client, TEST_KEYSPACE)
    const cancel = new CassandraDeletionRequests(db, TEST_KEYSPACE)
    const leaseEnd = new Date(Date.now() + LEASE_MS)
    const { request, eraseAt } = await gracePeriod(cancel, leaseEnd)

    // The soft phase is through: scheduled, due at eraseAt, the lease given back. Its due time is held on the way.
    const settle = settling.finish(request.id, 'scheduled', { dueAt: eraseAt }, leaseEnd)
    await waitUntil('the due time held back', () => stalled.held() === 1)
    // The cancel takes the request as soon as it can (given back, or run out), and lists it due at once.
    await sleep(leaseEnd.getTime() - Date.now() + 10)
    const now = new Date()
    const cancelUntil = new Date(now.getTime() + 30_000)
    expect(await cancel.acquireLease(request.id, now, cancelUntil)).toBe(true)
    await cancel.relist(request)

    stalled.land()
    await settle

    expect((await cancel.openEntry(request.id))?.dueAt).toBeUndefined()
    expect((await cancel.listOpen(10_000)).map((open) => open.id)).toContain(request.id)
    // Nor did the settle give back the lease the cancel holds now.
    expect(await cancel.acquireLease(request.id, new Date(), new Date(Date.now() + 30_000))).toBe(false)
  })

  it('when the sweeper puts a due time back and it reaches Cassandra only after a cancel took the request and listed it due at once, then the cancel’s “due at once” stands', async () => {
    const stalled = holdingDueWrites(db)
    const sweeper = new CassandraDeletionRequests(stalled.client, TEST_KEYSPACE)
    const cancel = new CassandraDeletionRequests(db, TEST_KEYSPACE)
    const leaseEnd = new Date(Date.now() + LEASE_MS)
    const { request, eraseAt } = await gracePeriod(cancel, leaseEnd)
    await cancel.finish(request.id, 'scheduled', {}, leaseEnd)
    const sweeperNow = new Date()
    const sweeperUntil = new Date(sweeperNow.getTime() + LEASE_MS)
    expect(await sweeper.acquireLease(request.id, sweeperNow, sweeperUntil)).toBe(true)

    const putBack = sweeper.relist(request, eraseAt, sweeperUntil)
    await waitUntil('the due time held back', () => stalled.held() === 1)
    await sleep(sweeperUntil.getTime() - Date.now() + 10)
    const now = new Date()
    expect(await cancel.acquireLease(request.id, now, new Date(now.getTime() + 30_000))).toBe(true)
    await cancel.relist(request)

    stalled.land()
    await putBack

    expect((await cancel.openEntry(request.id))?.dueAt).toBeUndefined()
  })
})
