import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { UserStore } from '../../src/deletion/ports.js'
import { expectDeleted, expectError } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { envelopeOf } from '../support/lifecycle.js'
import { signalLocalServer } from '../support/faults.js'
import { type Harness, startHarness } from '../support/harness.js'
import { readUserState } from '../support/user-state.js'
import { waitUntil } from '../support/wait-until.js'

const ORG = '0137000000000000000031'
// The driver gives up on a query after this long; Cassandra stays paused a little longer, so the
// lock's answer is lost while the lock itself is carried out once Cassandra runs again.
const READ_TIMEOUT_MS = 800
const PAUSE_MS = 1100
// The lease outlasts the runner's settling of a lost lock answer (up to 6 s). A shorter one let a
// sweeper (any server on the keyspace; a server an earlier test left running was one) resume the racing loser's request meanwhile, find the
// row locked with no owner recorded yet, take it as its own and scrub the row's updatedby, so both
// callers heard 400. A runner that gives a request up releases its lease anyway.
const SETTINGS = { cassandra: { readTimeoutMs: READ_TIMEOUT_MS }, deletion: { leaseMs: 15_000 } }

/** Cassandra paused under lock calls, and what the paused server did to them. */
interface CassandraPause {
  /** The user store seam of the harness: its lock calls held and sent to the paused server. */
  users: (store: UserStore) => UserStore
  /** How many of those lock calls were answered only once Cassandra ran again: each, unless the pause did not happen. */
  answeredAfterResume(): number
}

/**
 * Pauses the real Cassandra (SIGSTOP) once `locks` lock calls have arrived, lets them go out to the
 * paused server, and resumes it (SIGCONT) PAUSE_MS later. Later lock calls pass untouched.
 */
function pauseCassandraAtLocks(locks: number): CassandraPause {
  let arrived = 0
  let resumed = false
  let answeredAfterResume = 0
  let release: () => void = () => undefined
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const users = (store: UserStore): UserStore =>
    new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver)
        if (property !== 'markDeleted' || typeof value !== 'function') return value
        const markDeleted = (args: unknown[]) => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)
        return async (...args: unknown[]) => {
          if (arrived >= locks) return markDeleted(args)
          arrived++
          if (arrived === locks) {
            void signalLocalServer('cassandra', 'SIGSTOP').then(() => {
              release()
              setTimeout(
                () =>
                  void signalLocalServer('cassandra', 'SIGCONT').then(() => {
                    resumed = true
                  }),
                PAUSE_MS,
              )
            })
          }
          await gate
          try {
            return await markDeleted(args)
          } finally {
            if (resumed) answeredAfterResume++
          }
        }
      },
    })
  return { users, answeredAfterResume: () => answeredAfterResume }
}

/**
 * Answers tell the truth: a 503 only when nothing was written. Once the lock may have committed the
 * answer is 200 and the deletion completes; of two racing deletions the loser is 400 UOS_USRDLT0008.
 */
describe('when Cassandra pauses while the lock is on its way', () => {
  let h: Harness | undefined
  afterEach(async () => {
    await signalLocalServer('cassandra', 'SIGCONT').catch(() => undefined)
    await h?.close().catch(() => undefined)
    h = undefined
  })

  it('then the answer is 200 (never 503), and the deletion completes', async () => {
    const pause = pauseCassandraAtLocks(1)
    h = await startHarness(SETTINGS, { users: pause.users })
    const user = await h.seed({ rootOrgId: ORG })
    await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }) }))
    // The lock went out to a server that had stopped answering: no answer came until it ran again.
    expect(pause.answeredAfterResume()).toBe(1)
    const harness = h
    await waitUntil(
      'the request to complete',
      async () => {
        await harness.service.resumeOpen().catch(() => undefined)
        return (await requestsOf(harness.db, user.id))[0]?.state === 'completed'
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
    const after = await readUserState(h.db, user.id)
    expect(after.user?.get('isdeleted')).toBe(true)
    expect(after.user?.get('email')).toBe('')
    expect(after.lookups).toHaveLength(0)
  })

  it('then of two deletions of one user racing through the pause, one answers 200 and the other 400 UOS_USRDLT0008, neither 503', async () => {
    const pause = pauseCassandraAtLocks(2)
    h = await startHarness(SETTINGS, { users: pause.users })
    const user = await h.seed({ rootOrgId: ORG })
    const self = { 'x-authenticated-user-token': h.userToken({ sub: user.id }) }
    const admin = { 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) }
    const answers = await Promise.all([h.deleteRequest({ request: { userId: user.id } }, self), h.deleteRequest({ request: { userId: user.id } }, admin)])
    // Both locks went out to a server that had stopped answering: no answer came until it ran again.
    expect(pause.answeredAfterResume()).toBe(2)
    const statuses = answers.map((answer) => answer.status).sort()
    expect(statuses).toEqual([200, 400])
    const loser = answers.find((answer) => answer.status === 400)
    const winner = answers.find((answer) => answer.status === 200)
    if (!loser || !winner) throw new Error('no winner or loser')
    await expectError(loser, 'ALREADY_DELETED')
    await expectDeleted(winner)
    const harness = h
    await waitUntil(
      'one request to complete, the other to fail',
      async () => {
        await harness.service.resumeOpen().catch(() => undefined)
        const states = (await requestsOf(harness.db, user.id)).map((request) => request.state).sort()
        return states.includes('completed') && states.every((state) => state === 'completed' || state === 'failed') && states.filter((state) => state === 'completed').length === 1
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
    // Followed by user id, the user's deletion is the completed one, not the loser's superseded request.
    const status = await envelopeOf(await h.deleteRequest({ request: { userId: user.id } }, admin, '/api/user/v1/delete/status'))
    expect(status.result.request).toMatchObject({ state: 'completed' })
  })
})
