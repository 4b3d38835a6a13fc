import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Client as SearchClient } from '@opensearch-project/opensearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LONGEST_OWED_RETRY_MS } from '../../src/config/longest-owed-retry.js'
import { createSearchClient } from '../../src/search/search-client.js'
import { USER_ALIAS } from '../../src/search/sunbird-indexes.js'
import { CassandraDeletionRequests } from '../../src/store/cassandra-deletion-requests.js'
import { expectDeleted } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { withFaults } from '../support/faults.js'
import { type Harness, startHarness } from '../support/harness.js'
import { envelopeOf, lifecycle } from '../support/lifecycle.js'
import { newPerson, seedEverywhere } from '../support/personal-data.js'
import { freePort } from '../support/spawned-server.js'
import { LOCAL_SEARCH, TEST_KEYSPACE } from '../support/test-env.js'
import { waitUntil } from '../support/wait-until.js'

const ORG = '0137000000000000000041'
/** Waits long enough that no step of the test outlasts one by chance: 20 s first, then 40 s. */
const RETRY = { firstMs: 20_000, maxMs: 600_000 }
/** The most a wait is shortened by at random (owed-retry.ts). */
const JITTER = 0.2

/**
 * A request left owing steps, on the real Cassandra and OpenSearch: owed because a dependency was
 * unavailable, the sweeper leaves it for a delay that grows with each run that leaves it so; owed
 * past a per-run bound, it is due again at once. It stays listed and `partial` throughout.
 */
describe('when the sweeper tries an owed deletion request again', () => {
  let h: Harness
  let search: SearchClient
  let requests: CassandraDeletionRequests
  /** An ORG_ADMIN of the users' organisation: may follow their deletions (the users themselves are locked out). */
  const admin = () => ({ 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) })
  const statusOf = async (requestId: string) => envelopeOf(await h.deleteRequest({ request: { requestId } }, admin(), '/api/user/v1/delete/status'))

  beforeAll(async () => {
    h = await startHarness({ deletion: { owedRetry: RETRY } })
    search = createSearchClient({ ...LOCAL_SEARCH, timeoutMs: 10_000 })
    requests = new CassandraDeletionRequests(h.db, TEST_KEYSPACE)
  })
  afterAll(async () => {
    await Promise.all([h.close(), search.close()])
  })

  /** Whether a sweeper pass at `dueBy` takes the request up: one round of the whole open list, as a pass lists it (due by then). */
  async function listedDue(requestId: string, dueBy = new Date()): Promise<boolean> {
    requests.startRound()
    do {
      if ((await requests.listOpen(500, dueBy)).some((entry) => entry.id === requestId)) return true
    } while (!requests.roundEnded())
    return false
  }

  const dueAtOf = async (requestId: string) => (await requests.openEntry(requestId))?.dueAt

  it('owed because the search engine is down, then it is not due at the next pass but after a delay that grows run by run; it reads partial, and the operator resumes it at once', async () => {
    const p = newPerson()
    await seedEverywhere(h, search, p, ORG)
    const down = await startHarness({ search: { hosts: ['127.0.0.1'], port: await freePort(), timeoutMs: 500 }, deletion: { owedRetry: RETRY } })
    let requestId: string
    let second: Date | undefined
    try {
      const before = Date.now()
      await expectDeleted(await lifecycle(down).remove(p.id, {}, lifecycle(down).asUser(p.id)))
      const settled = Date.now()
      const [request] = await requestsOf(h.db, p.id)
      requestId = String(request?.id)
      expect(request).toMatchObject({ state: 'partial', steps: { searchUser: { status: 'pending', action: 'unreachable' } } })

      // Due after the first wait, not at the next pass.
      const first = await dueAtOf(requestId)
      expect(first?.getTime()).toBeGreaterThanOrEqual(before + RETRY.firstMs * (1 - JITTER))
      expect(first?.getTime()).toBeLessThanOrEqual(settled + RETRY.firstMs)
      expect(await listedDue(requestId)).toBe(false)
      expect(await listedDue(requestId, first)).toBe(true)
      expect((await statusOf(requestId)).result.request).toMatchObject({ state: 'partial', steps: { searchUser: { status: 'pending', action: 'unreachable' } } })

      // A second run while it is still down (by hand, by id: it takes the request whatever its due time) doubles the wait.
      const retriedAt = Date.now()
      expect(await down.service.resumeRequest(requestId)).toEqual({ state: 'partial', closed: false })
      second = await dueAtOf(requestId)
      expect(second?.getTime()).toBeGreaterThanOrEqual(retriedAt + 2 * RETRY.firstMs * (1 - JITTER))
      expect(await listedDue(requestId)).toBe(false)
    } finally {
      await down.close()
    }

    // The search engine is back: the operator's round (npm run deletion:resume) does not wait out the delay.
    await waitUntil(
      'the operator round to complete the owed request',
      async () => {
        await h.service.resumeOpen(undefined, { owedWaitsWithinMs: LONGEST_OWED_RETRY_MS })
        return (await requestsOf(h.db, p.id))[0]?.state === 'completed'
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    )
    expect(Date.now()).toBeLessThan(Number(second?.getTime()))
    expect(await requests.isListed(requestId)).toBe(false)
  })

  it('owed past its per-run bound (other users still name the person as their adder), then it is due again at once, and the next pass finishes it', async () => {
    const p = newPerson()
    await seedEverywhere(h, search, p, ORG)
    // Two users the person added: the first rewrite outlasts the step's time budget (a third of the lease), so the second is left for the next run.
    for (const userId of [randomUUID(), randomUUID()]) {
      const membership = { organisationId: ORG, addedBy: p.id, addedByName: `${p.firstName} ${p.lastName}` }
      await search.index({ index: USER_ALIAS, id: userId, refresh: true, body: { id: userId, userId, status: 1, isDeleted: false, organisations: [membership] } })
      await h.db.execute(
        `INSERT INTO ${TEST_KEYSPACE}.user_organisation (userid, organisationid, addedby, addedbyname, isdeleted) VALUES (?, ?, ?, ?, false)`,
        [userId, ORG, p.id, membership.addedByName],
        {
          prepare: true,
        },
      )
    }
    const slow = await startHarness(
      { deletion: { leaseMs: 6000, owedRetry: RETRY } },
      { users: (store) => withFaults(store, (method) => (method === 'blankAdderName' ? { waitFor: sleep(2100) } : undefined)) },
    )
    try {
      await expectDeleted(await lifecycle(slow).remove(p.id, {}, lifecycle(slow).asUser(p.id)))
      const [request] = await requestsOf(h.db, p.id)
      const requestId = String(request?.id)
      expect(request).toMatchObject({ state: 'partial', steps: { searchAddedByName: { status: 'pending', action: 'unfinished' } } })
      expect(await dueAtOf(requestId)).toBeUndefined()
      expect(await listedDue(requestId)).toBe(true)

      await waitUntil(
        'the next pass to finish the request',
        async () => {
          await slow.service.resumeOpen()
          return (await requestsOf(h.db, p.id))[0]?.state === 'completed'
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      )
    } finally {
      await slow.close()
    }
  })
})
