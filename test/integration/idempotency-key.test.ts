import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectDeleted, expectError } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { stallUntilReleased, withFaults } from '../support/faults.js'
import { type Harness, startHarness } from '../support/harness.js'
import { lifecycle } from '../support/lifecycle.js'
import { readUserState } from '../support/user-state.js'
import { deferred } from '../support/wait-until.js'

/** The parts of an answer a replay must repeat. */
async function snapshot(response: Response) {
  return { status: response.status, body: new Uint8Array(await response.arrayBuffer()), contentType: response.headers.get('content-type'), length: response.headers.get('x-response-length') }
}

/**
 * Idempotency-Key on the delete and cancel routes, kept in the real Cassandra: a replay of the
 * first answer (status and bytes) when the same caller retries with the same key and body, 422
 * for another body, 409 while the first still runs, 400 for an empty or too long key, and the
 * same after a restart of the service.
 */
describe('Idempotency-Key', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  beforeAll(async () => {
    h = await startHarness()
    api = lifecycle(h)
  })
  afterAll(async () => {
    await h.close()
  })

  it('when a person retries their own deletion with the same key after a lost answer, then the first SUCCESS is replayed byte for byte, marked, and nothing happens twice', async () => {
    const user = await h.seed()
    const headers = api.asUser(user.id, { 'idempotency-key': randomUUID(), 'x-request-id': `idem-${user.id}` })

    const first = await api.remove(user.id, {}, headers)
    const firstSnapshot = await snapshot(first.clone())
    await expectDeleted(first)
    const retry = await api.remove(user.id, {}, { ...headers, 'x-request-id': `retry-${user.id}` })

    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(first.headers.get('idempotent-replayed')).toBeNull()
    expect(await snapshot(retry)).toEqual(firstSnapshot)
    expect((await requestsOf(h.db, user.id)).map((request) => request.id)).toEqual([`idem-${user.id}`])
    // Without the key, the same retry meets Sunbird's answer: the person is locked out.
    await expectError(await api.remove(user.id, {}, api.asUser(user.id)), 'UNAUTHORIZED')
  })

  it('when the same key comes with another body, then 422 and nothing happens', async () => {
    const org = `org-${randomUUID()}`
    const [first, second] = [await h.seed({ rootOrgId: org, organisations: [org] }), await h.seed({ rootOrgId: org, organisations: [org] })]
    // A key is the person's (within the API consumer): one ORG_ADMIN sends it every time.
    const admin = { 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: org }] }] }) }
    const key = randomUUID()
    await expectDeleted(await api.remove(first.id, {}, { ...admin, 'idempotency-key': key }))

    await expectError(await api.remove(second.id, {}, { ...admin, 'idempotency-key': key }), 'IDEMPOTENCY_KEY_REUSED')
    await expectError(await api.remove(first.id, { mode: 'hard' }, { ...admin, 'idempotency-key': key }), 'IDEMPOTENCY_KEY_REUSED')

    expect((await readUserState(h.db, second.id)).user?.get('status')).toBe(1)
    expect(await requestsOf(h.db, second.id)).toEqual([])
  })

  it.each([
    ['empty', ''],
    ['256 characters long', 'k'.repeat(256)],
  ])('when the key is %s, then 400 and nothing happens', async (_name, key) => {
    const user = await h.seed()

    await expectError(await api.remove(user.id, {}, api.asUser(user.id, { 'idempotency-key': key })), 'IDEMPOTENCY_KEY_INVALID')

    expect((await readUserState(h.db, user.id)).user?.get('status')).toBe(1)
    expect(await requestsOf(h.db, user.id)).toEqual([])
  })

  it('when a refusal is answered, then a retry with the key replays it too (a 404 stays a 404)', async () => {
    const ghost = randomUUID()
    const headers = api.asUser(ghost, { 'idempotency-key': randomUUID() })

    await expectError(await api.remove(ghost, {}, headers), 'USER_NOT_FOUND')
    const retry = await api.remove(ghost, {}, headers)

    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    await expectError(retry, 'USER_NOT_FOUND')
  })

  it('when a cancel is retried with its key, then the first SUCCESS is replayed', async () => {
    const user = await h.seed()
    await expectDeleted(await api.remove(user.id, { mode: 'soft' }, api.asUser(user.id)))
    const headers = api.asUser(user.id, { 'idempotency-key': randomUUID() })

    const first = await api.cancel(user.id, headers)
    const retry = await api.cancel(user.id, headers)

    expect(first.status).toBe(200)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(await snapshot(retry)).toEqual(await snapshot(first))
    // Without the key, a second cancel meets a user who is no longer deleted.
    await expectError(await api.cancel(user.id, api.asUser(user.id)), 'USER_NOT_DELETED')
  })
})

describe('Idempotency-Key while the first request runs, and across restarts', () => {
  it('when the same key arrives while the first request is still running, then 409; once it answered, its answer is replayed', async () => {
    const stall = stallUntilReleased()
    const reached = deferred()
    // The first request stops at its lock, with its key claimed, until released.
    const stopAtLock = (method: string, args: unknown[]) => {
      if (method !== 'markDeleted') return undefined
      reached.resolve()
      return stall.rule(method, args)
    }
    const h = await startHarness({}, { users: (store) => withFaults(store, stopAtLock) })
    try {
      const user = await h.seed()
      const headers = { 'x-authenticated-user-token': h.userToken({ sub: user.id }), 'idempotency-key': randomUUID() }
      const first = h.deleteRequest({ request: { userId: user.id } }, headers)
      await reached.promise

      await expectError(await h.deleteRequest({ request: { userId: user.id } }, headers), 'IDEMPOTENCY_KEY_IN_FLIGHT')

      stall.release()
      await expectDeleted(await first)
      const replay = await h.deleteRequest({ request: { userId: user.id } }, headers)
      expect(replay.headers.get('idempotent-replayed')).toBe('true')
      await expectDeleted(replay)
    } finally {
      stall.release()
      await h.close()
    }
  })

  it('when the service restarts (or another instance answers), then the key is still known and the answer replayed', async () => {
    const first = await startHarness()
    const user = await first.seed()
    const key = randomUUID()
    const answer = await first.deleteRequest({ request: { userId: user.id, mode: 'hard' } }, { 'x-authenticated-user-token': first.userToken({ sub: user.id }), 'idempotency-key': key })
    const body = await answer.text()
    expect(answer.status, body).toBe(200)
    await first.close()

    const second = await startHarness()
    try {
      const replay = await second.deleteRequest({ request: { userId: user.id, mode: 'hard' } }, { 'x-authenticated-user-token': second.userToken({ sub: user.id }), 'idempotency-key': key })

      expect(replay.status).toBe(200)
      expect(replay.headers.get('idempotent-replayed')).toBe('true')
      expect(await replay.text()).toBe(body)
    } finally {
      await second.close()
    }
  })
})
