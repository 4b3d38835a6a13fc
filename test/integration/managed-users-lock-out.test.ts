import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectDeleted, expectError } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { expectRestError } from '../support/rest-answers.js'
import { stallUntilReleased, withFaults } from '../support/faults.js'
import { type Harness, startHarness } from '../support/harness.js'
import { envelopeOf, lifecycle } from '../support/lifecycle.js'
import { readUserState } from '../support/user-state.js'
import { deferred, waitUntil } from '../support/wait-until.js'

/**
 * A managed user (a row whose `managedby` names the person) is locked out at the person's lock, on
 * every instance: instance B below is told nothing by instance A, which deletes the person; it reads
 * only the stores. The managed user's own token is tried on B's export route (read-only).
 */
describe('managed users, locked out on every instance from the lock of the person who manages them', () => {
  let b: Harness
  let onB: ReturnType<typeof lifecycle>
  beforeAll(async () => {
    b = await startHarness()
    onB = lifecycle(b)
  })
  afterAll(async () => {
    await b.close()
  })

  const exportStatusOnB = async (userId: string) => (await envelopeOf(await onB.exportOf(userId, onB.asUser(userId)))).status

  it('when Sunbird’s deletion of the person is stopped right after its lock (before the managed users’ step), then the managed user’s token is refused on another instance already, while their row is untouched', async () => {
    // Arrange: instance A stops every run at the managed users' step (the first read of managedby), after the lock.
    const stall = stallUntilReleased()
    const reached = deferred()
    const a = await startHarness(
      {},
      {
        users: (store) =>
          withFaults(store, (method, args) => {
            if (method !== 'findManagedUserIds') return undefined
            reached.resolve()
            return stall.rule(method, args)
          }),
      },
    )
    try {
      const parent = await a.seed()
      const child = await a.seed({ managedBy: parent.id })
      expect(await exportStatusOnB(child.id)).toBe(200)

      // Act
      const deletion = a.deleteRequest({ request: { userId: parent.id } }, lifecycle(a).asUser(parent.id))
      await reached.promise

      // Assert: locked out on B within the gate's TTL, though nothing of the child is erased yet.
      await waitUntil('the managed user refused on instance B', async () => (await exportStatusOnB(child.id)) === 401)
      await expectError(await onB.exportOf(child.id, onB.asUser(child.id)), 'UNAUTHORIZED')
      const row = (await readUserState(b.db, child.id)).user
      expect([row?.get('status'), row?.get('isdeleted'), row?.get('managedby')]).toEqual([1, false, parent.id])
      stall.release()
      await expectDeleted(await deletion)
      await waitUntil('the deletion completed', async () => (await requestsOf(b.db, parent.id))[0]?.state === 'completed')
      expect(await exportStatusOnB(child.id)).toBe(401)
    } finally {
      stall.release()
      await a.close()
    }
  })

  it('when the person is deleted with a grace period, then the managed user is refused on another instance until the cancel (also on the routes where a soft-deleted person may delete themself), and let in again after it; their row is never touched', async () => {
    const parent = await b.seed()
    const child = await b.seed({ managedBy: parent.id })
    const a = await startHarness()
    try {
      const onA = lifecycle(a)
      const scheduled = await envelopeOf(await onA.remove(parent.id, { gracePeriodDays: 1 }, onA.asUser(parent.id)))
      expect([scheduled.status, scheduled.result.state]).toEqual([200, 'scheduled'])

      await waitUntil('the managed user refused on instance B', async () => (await exportStatusOnB(child.id)) === 401)
      // Nor may they delete themselves on the routes that let a soft-deleted person finish their own
      // deletion: they are locked out by their manager's, and have none of their own.
      for (const path of [`/api/users/${child.id}/`, `/api/v2/user/${child.id}/`]) {
        const response = await b.service.app.request(path, { method: 'DELETE', headers: { authorization: `Bearer ${b.userToken({ sub: child.id })}` } })
        await expectRestError('drf-detail', response, 'UNAUTHORIZED')
      }
      expect(await requestsOf(b.db, child.id)).toEqual([])

      expect((await envelopeOf(await onA.cancel(parent.id, onA.asUser(parent.id)))).status).toBe(200)
      await waitUntil('the managed user let in again on instance B', async () => (await exportStatusOnB(child.id)) === 200)
      const row = (await readUserState(b.db, child.id)).user
      expect([row?.get('status'), row?.get('isdeleted')]).toEqual([1, false])
    } finally {
      await a.close()
    }
  })

  it('when the person is soft-deleted (no grace period), then the managed user is left alone: their token still works on every instance', async () => {
    const parent = await b.seed()
    const child = await b.seed({ managedBy: parent.id })
    const a = await startHarness()
    try {
      const onA = lifecycle(a)
      await expectDeleted(await onA.remove(parent.id, { mode: 'soft' }, onA.asUser(parent.id)))

      // B has never asked about the child: its first answer comes from the stores.
      expect(await exportStatusOnB(child.id)).toBe(200)
      expect(await exportStatusOnB(parent.id)).toBe(401)
    } finally {
      await a.close()
    }
  })
})
