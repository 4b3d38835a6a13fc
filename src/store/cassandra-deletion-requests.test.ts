import { type Client, errors } from 'cassandra-driver'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { acceptedRequest } from '../deletion/deletion-request.js'
import { LeaseLostError } from '../deletion/lease.js'
import { CassandraDeletionRequests } from './cassandra-deletion-requests.js'

const NOW = new Date('2026-12-05T10:00:00.000Z')

/**
 * A driver stand-in for the create of a deletion request: the open entry is written, and while
 * `down` every other statement times out (the create's compare-and-set, its serial read back). Once
 * up, the read back finds no row and the create applies.
 */
function cassandra() {
  const sent: string[] = []
  const state = { down: true }
  const client = {
    execute: async (cql: string) => {
      sent.push(cql)
      if (state.down && !cql.startsWith('INSERT INTO ks.user_deletion_request_open')) throw new errors.OperationTimedOutError('timed out')
      return { rows: [], first: () => null, wasApplied: () => true }
    },
  }
  return { client: client as unknown as Client, sent, state, creates: () => sent.filter((cql) => /^INSERT INTO ks\.user_deletion_request \(.*IF NOT EXISTS$/.test(cql)).length }
}

const request = () =>
  acceptedRequest({ id: 'req-unknown', userId: 'user-1', requestedBy: 'user-1', plan: 'sunbird', target: { rootOrgId: null, managedBy: null, organisationIds: [] }, now: new Date(NOW) })

/** A create whose answer is lost and cannot be settled while its caller waits: answered 'unknown', settled in the background from then on. */
async function unknownCreate(db: ReturnType<typeof cassandra>, requests: CassandraDeletionRequests) {
  const created = requests.create(request(), new Date(NOW.getTime() + 30_000), 'caller')
  await vi.advanceTimersByTimeAsync(7_000)
  expect(await created).toBe('unknown')
  return db
}

beforeEach(() => {
  vi.useFakeTimers({ now: NOW })
})

afterEach(() => {
  vi.useRealTimers()
})

describe('CassandraDeletionRequests: a create settled in the background (its caller answered 200)', () => {
  it('when the service shuts down, then the settle tries again at once, without waiting out its pause, and finishSettling resolves once it has created the request', async () => {
    const db = cassandra()
    const requests = new CassandraDeletionRequests(db.client, 'ks')
    await unknownCreate(db, requests)
    expect(requests.unsettled()).toEqual(['req-unknown'])
    db.state.down = false
    const createsBefore = db.creates()

    let finished = false
    void requests.finishSettling().then(() => {
      finished = true
    })
    await vi.advanceTimersByTimeAsync(0)

    expect(finished).toBe(true)
    expect(db.creates()).toBe(createsBefore + 1)
    expect(requests.unsettled()).toEqual([])
  })

  it('when Cassandra stays unreachable, then finishSettling does not resolve and the request is named as unsettled: the caller of shutdown bounds the wait', async () => {
    const db = cassandra()
    const requests = new CassandraDeletionRequests(db.client, 'ks')
    await unknownCreate(db, requests)

    let finished = false
    void requests.finishSettling().then(() => {
      finished = true
    })
    await vi.advanceTimersByTimeAsync(30_000)

    expect(finished).toBe(false)
    expect(requests.unsettled()).toEqual(['req-unknown'])
    // Back: the next try creates it and the wait ends.
    db.state.down = false
    await vi.advanceTimersByTimeAsync(2_000)
    expect(finished).toBe(true)
    expect(requests.unsettled()).toEqual([])
  })

  it('when two creates of one caller-chosen id are both settling, then the first to end leaves the other named, and finishSettling waits for it', async () => {
    const db = cassandra()
    const requests = new CassandraDeletionRequests(db.client, 'ks')
    await unknownCreate(db, requests)
    // The second at another phase of the pause, so the two try again at different moments.
    await vi.advanceTimersByTimeAsync(500)
    const second = requests.create(request(), new Date(NOW.getTime() + 60_000), 'caller')
    await vi.advanceTimersByTimeAsync(7_000)
    expect(await second).toBe('unknown')
    db.state.down = false
    const createsBefore = db.creates()

    while (db.creates() === createsBefore) await vi.advanceTimersByTimeAsync(100)

    expect(db.creates()).toBe(createsBefore + 1)
    expect(requests.unsettled()).toEqual(['req-unknown'])
    let finished = false
    void requests.finishSettling().then(() => {
      finished = true
    })
    await vi.advanceTimersByTimeAsync(0)
    expect(finished).toBe(true)
    expect(requests.unsettled()).toEqual([])
  })

  it('when nothing is settling, then finishSettling resolves at once', async () => {
    const requests = new CassandraDeletionRequests(cassandra().client, 'ks')

    await requests.finishSettling()

    expect(requests.unsettled()).toEqual([])
  })
})

/** A driver stand-in that records each statement with its values and options, and answers every compare-and-set `applied`. */
function recordingCassandra(applied: boolean) {
  const sent: { cql: string; params: unknown[]; options: Record<string, unknown> }[] = []
  const client = {
    execute: async (cql: string, params: unknown[], options: Record<string, unknown>) => {
      sent.push({ cql, params, options })
      return { rows: [], first: () => null, wasApplied: () => applied }
    },
  }
  return { client: client as unknown as Client, sent }
}

describe('CassandraDeletionRequests: a run takes its lease back (renewLease)', () => {
  const renewed = new Date(NOW.getTime() + 30_000)

  it('when the lease it holds has run out, then the lease alone is set, by a compare-and-set on that lease, never replayed by the driver', async () => {
    const db = recordingCassandra(true)
    const lapsed = new Date(NOW.getTime() - 1)

    await new CassandraDeletionRequests(db.client, 'ks').renewLease('req-1', renewed, lapsed)

    expect(db.sent).toEqual([{ cql: 'UPDATE ks.user_deletion_request SET leaseuntil = ? WHERE id = ? IF leaseuntil = ?', params: [renewed, 'req-1', lapsed], options: { prepare: true } }])
  })

  it('when that compare-and-set is not applied (another runner took the request), then it throws LeaseLostError', async () => {
    const db = recordingCassandra(false)

    await expect(new CassandraDeletionRequests(db.client, 'ks').renewLease('req-1', renewed, new Date(NOW.getTime() - 1))).rejects.toBeInstanceOf(LeaseLostError)
  })

  it('when the lease it holds still holds, then the lease is set by a plain write stamped before its end, with no compare-and-set', async () => {
    const db = recordingCassandra(false)
    const heldUntil = new Date(NOW.getTime() + 1)

    await new CassandraDeletionRequests(db.client, 'ks').renewLease('req-1', renewed, heldUntil)

    expect(db.sent).toEqual([
      { cql: 'UPDATE ks.user_deletion_request SET leaseuntil = ? WHERE id = ?', params: [renewed, 'req-1'], options: { prepare: true, isIdempotent: true, timestamp: NOW.getTime() * 1000 } },
    ])
  })
})
