import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../../src/deletion/errors.js'
import type { UserDeletionState } from '../../src/deletion/ports.js'
import { expectDeleted, expectError } from '../support/assertions.js'
import { auditEventsOf, requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { keycloakAccountOf } from '../support/keycloak.js'
import { deletionStateOf, envelopeOf, lifecycle, personInBoth } from '../support/lifecycle.js'
import { TEST_KEYSPACE } from '../support/test-env.js'
import { readUserState } from '../support/user-state.js'
import { waitUntil } from '../support/wait-until.js'

const ORG = '0137000000000000000013'
/** Short, so a lease a cancel did not give back runs out within the test. */
const LEASE_MS = 4_000

/** How the cancel's move of the hold (soft to restoring) fails: its answer lost once it applied, or refused before it was sent. */
type HoldMoveFailure = 'answer lost after applying' | 'failed before applying'

/**
 * A cancel of a completed soft deletion (closed: audited, unlisted, its lease given back) whose
 * move of the user's hold from `soft` to `restoring` fails, or whose listing for the sweeper fails.
 * Whatever of it landed, the user is never left `restoring` with nobody to finish the cancel: the
 * sweeper either finishes it (the user let in again) or finds nothing owed and only takes the
 * request off its list. Over the real Cassandra and Keycloak; the store's answer is made to fail as
 * a driver timeout unsettled within the store's budget does (DependencyUnavailableError).
 */
describe('POST /api/user/v1/delete/cancel of a completed soft deletion when the hold move or the listing fails', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  let holdMoveFails: HoldMoveFailure | undefined
  let listingFails = false
  let leaseGiveBackFails = false
  beforeAll(async () => {
    h = await startHarness({ deletion: { leaseMs: LEASE_MS } })
    api = lifecycle(h)
    const swap = h.service.states.swap.bind(h.service.states)
    h.service.states.swap = async (userId: string, expected: UserDeletionState | undefined, next: UserDeletionState | undefined) => {
      const failure = next?.mode === 'restoring' ? holdMoveFails : undefined
      if (!failure) return swap(userId, expected, next)
      holdMoveFails = undefined
      if (failure === 'answer lost after applying') await swap(userId, expected, next)
      throw new DependencyUnavailableError('cassandra')
    }
    const relist = h.service.requests.relist.bind(h.service.requests)
    h.service.requests.relist = async (...args: Parameters<typeof relist>) => {
      if (!listingFails) return relist(...args)
      listingFails = false
      throw new DependencyUnavailableError('cassandra')
    }
    const releaseLease = h.service.requests.releaseLease.bind(h.service.requests)
    h.service.requests.releaseLease = async (...args: Parameters<typeof releaseLease>) => {
      if (!leaseGiveBackFails) return releaseLease(...args)
      leaseGiveBackFails = false
      throw new DependencyUnavailableError('cassandra')
    }
  })
  afterAll(async () => {
    await h.close()
  })

  async function softDeleted() {
    const person = await personInBoth(h, { rootOrgId: ORG })
    await expectDeleted(await api.remove(person.id, { mode: 'soft' }, api.asUser(person.id)))
    const [request] = await requestsOf(h.db, person.id)
    return { person, requestId: request?.id ?? '' }
  }

  const isListed = async (requestId: string) => (await h.db.execute(`SELECT id FROM ${TEST_KEYSPACE}.user_deletion_request_open WHERE id = ?`, [requestId], { prepare: true })).rows.length > 0

  /** Sweeper passes (each goes on round the open list where the last stopped) until `done`. */
  const sweepUntil = (what: string, done: () => Promise<boolean>) =>
    waitUntil(
      what,
      async () => {
        await h.service.resumeOpen()
        return done()
      },
      { timeoutMs: 30_000 },
    )

  it('when the answer to the hold move is lost after it applied, then 503, and the sweeper finishes the cancel: the user is let in again', async () => {
    // Arrange
    const { person, requestId } = await softDeleted()
    holdMoveFails = 'answer lost after applying'

    // Act
    await expectError(await api.cancel(person.id, api.asUser(person.id)), 'SERVICE_UNAVAILABLE')
    expect(await deletionStateOf(h.db, person.id)).toEqual({ mode: 'restoring', requestid: requestId })
    await sweepUntil('the sweeper to finish the cancel', async () => (await requestsOf(h.db, person.id))[0]?.state === 'cancelled')

    // Assert
    expect(await deletionStateOf(h.db, person.id)).toBeUndefined()
    expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
    expect(await keycloakAccountOf(person.id)).toMatchObject({ enabled: true })
    expect(await auditEventsOf(h, requestId)).toEqual(['deletion.accepted', 'deletion.completed', 'deletion.cancelled'])
    expect(await isListed(requestId)).toBe(false)
  })

  it('when the hold move fails before it applies, then 503, the sweeper finds nothing owed (no record stored again, the deletion left as it was), and a cancel again lets the user in', async () => {
    // Arrange
    const { person, requestId } = await softDeleted()
    holdMoveFails = 'failed before applying'

    // Act
    await expectError(await api.cancel(person.id, api.asUser(person.id)), 'SERVICE_UNAVAILABLE')
    await sweepUntil('the sweeper to take the request off its list', async () => !(await isListed(requestId)))

    // Assert
    expect((await requestsOf(h.db, person.id))[0]?.state).toBe('completed')
    expect(await deletionStateOf(h.db, person.id)).toEqual({ mode: 'soft', requestid: requestId })
    expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(2)
    expect(await auditEventsOf(h, requestId)).toEqual(['deletion.accepted', 'deletion.completed'])
    expect((await envelopeOf(await api.cancel(person.id, api.asUser(person.id)))).status).toBe(200)
    expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
  })

  it('when the request cannot be listed for the sweeper, then 503 and nothing changed: the user stays under the soft deletion, and a cancel again lets them in', async () => {
    // Arrange
    const { person, requestId } = await softDeleted()
    listingFails = true

    // Act
    await expectError(await api.cancel(person.id, api.asUser(person.id)), 'SERVICE_UNAVAILABLE')

    // Assert
    expect(await deletionStateOf(h.db, person.id)).toEqual({ mode: 'soft', requestid: requestId })
    expect((await requestsOf(h.db, person.id))[0]?.state).toBe('completed')
    expect((await envelopeOf(await api.cancel(person.id, api.asUser(person.id)))).status).toBe(200)
    expect(await deletionStateOf(h.db, person.id)).toBeUndefined()
    expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
  })

  it('when the cancel stops at the hold move once it applied and cannot give its lease back (a process that died), then once the lease runs out the sweeper finishes the cancel', async () => {
    // Arrange
    const { person, requestId } = await softDeleted()
    holdMoveFails = 'answer lost after applying'
    leaseGiveBackFails = true

    // Act
    await expectError(await api.cancel(person.id, api.asUser(person.id)), 'SERVICE_UNAVAILABLE')
    await sleep(LEASE_MS)
    await sweepUntil('the sweeper to finish the cancel', async () => (await requestsOf(h.db, person.id))[0]?.state === 'cancelled')

    // Assert
    expect(await deletionStateOf(h.db, person.id)).toBeUndefined()
    expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
    expect(await auditEventsOf(h, requestId)).toEqual(['deletion.accepted', 'deletion.completed', 'deletion.cancelled'])
  })

  it('when the cancel stops at the hold move before it applied and cannot give its lease back (a process that died), then once the lease runs out the sweeper takes the request off its list without storing its deletion.completed again', async () => {
    // Arrange
    const { person, requestId } = await softDeleted()
    holdMoveFails = 'failed before applying'
    leaseGiveBackFails = true

    // Act
    await expectError(await api.cancel(person.id, api.asUser(person.id)), 'SERVICE_UNAVAILABLE')
    await sleep(LEASE_MS)
    await sweepUntil('the sweeper to take the request off its list', async () => !(await isListed(requestId)))

    // Assert
    expect((await requestsOf(h.db, person.id))[0]?.state).toBe('completed')
    expect(await deletionStateOf(h.db, person.id)).toEqual({ mode: 'soft', requestid: requestId })
    expect(await auditEventsOf(h, requestId)).toEqual(['deletion.accepted', 'deletion.completed'])
  })
})
