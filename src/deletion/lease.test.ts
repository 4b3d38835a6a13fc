import { describe, expect, it } from 'vitest'
import { InMemoryDeletionRequests } from '../../test/support/fakes/in-memory-deletion-requests.js'
import { ManualClock, Timeline } from '../../test/support/fakes/timeline.js'
import type { DeletionRequest } from './deletion-request.js'
import { checkpointSteps, closeFinished, holdLeaseAhead, LeaseLostError } from './lease.js'

const START = new Date(Date.UTC(2024, 4, 20, 10, 0, 0))
const LEASE_MS = 30_000
const DONE = { status: 'done', action: 'deleted', count: 1, at: START.toISOString() } as const

function heldRequest(): { request: DeletionRequest; requests: InMemoryDeletionRequests; clock: ManualClock; timeline: Timeline } {
  const clock = new ManualClock(START)
  const timeline = new Timeline()
  const requests = new InMemoryDeletionRequests(timeline, clock)
  const request: DeletionRequest = {
    id: 'req-1',
    userId: 'user-1',
    requestedBy: 'user-1',
    state: 'in_progress',
    plan: 'sunbird',
    steps: {},
    target: { rootOrgId: null, managedBy: null, organisationIds: [] },
    createdAt: START,
    updatedAt: START,
  }
  const heldUntil = new Date(START.getTime() + LEASE_MS)
  requests.seed(request, { open: true, leaseUntil: heldUntil })
  return { request: { ...request, heldUntil }, requests, clock, timeline }
}

describe('a checkpoint of a run that holds its request', () => {
  it('when the write is answered while the lease holds, then the lease moves on with no further statement', async () => {
    const { request, requests, clock, timeline } = heldRequest()
    clock.advance(10_000)

    await checkpointSteps({ requests, clock, leaseMs: LEASE_MS }, request, { lookups: DONE }, 'in_progress')

    expect(request.heldUntil).toEqual(new Date(START.getTime() + 10_000 + LEASE_MS))
    expect(timeline.count('requests.confirmLease')).toBe(0)
  })

  it('when the write, sent within the lease, is answered after it ran out and another runner took the request meanwhile, then the run stops: LeaseLostError, its lease not taken as renewed', async () => {
    const { request, requests, clock } = heldRequest()
    const held = request.heldUntil
    clock.advance(25_000)
    // Cassandra stalls the plain write past the lease; another instance's sweeper takes the request,
    // and its lease wins over the late write by its later timestamp.
    requests.recordSteps = async (id) => {
      clock.advance(10_000)
      expect(await requests.acquireLease(id, clock.now(), new Date(clock.now().getTime() + LEASE_MS))).toBe(true)
    }

    await expect(checkpointSteps({ requests, clock, leaseMs: LEASE_MS }, request, { lookups: DONE }, 'in_progress')).rejects.toBeInstanceOf(LeaseLostError)

    expect(request.heldUntil).toEqual(held)
  })

  it('when the write is answered after the lease ran out but nobody took the request, then the lease it set is confirmed and held', async () => {
    const { request, requests, clock, timeline } = heldRequest()
    clock.advance(25_000)
    const record = requests.recordSteps.bind(requests)
    requests.recordSteps = async (...args) => {
      await record(...args)
      clock.advance(10_000)
    }

    await checkpointSteps({ requests, clock, leaseMs: LEASE_MS }, request, { lookups: DONE }, 'in_progress')

    expect(request.heldUntil).toEqual(new Date(START.getTime() + 25_000 + LEASE_MS))
    expect(timeline.count('requests.confirmLease')).toBe(1)
    expect(await requests.acquireLease(request.id, clock.now(), new Date(clock.now().getTime() + LEASE_MS))).toBe(false)
  })
})

describe('holding the lease ahead of a write it does not fence', () => {
  it('when more than half the lease is left, then nothing is written and the lease stays as it was', async () => {
    const { request, requests, clock, timeline } = heldRequest()
    const held = request.heldUntil
    clock.advance(LEASE_MS / 2 - 1)

    await holdLeaseAhead({ requests, clock, leaseMs: LEASE_MS }, request)

    expect(request.heldUntil).toEqual(held)
    expect(timeline.count('requests.renewLease')).toBe(0)
    expect(timeline.count('requests.confirmLease')).toBe(0)
  })

  it('when less than half the lease is left and the renew is answered while it holds, then the lease is renewed from now with no further statement', async () => {
    const { request, requests, clock, timeline } = heldRequest()
    clock.advance(LEASE_MS / 2 + 1)

    await holdLeaseAhead({ requests, clock, leaseMs: LEASE_MS }, request)

    const renewed = new Date(START.getTime() + LEASE_MS / 2 + 1 + LEASE_MS)
    expect(request.heldUntil).toEqual(renewed)
    expect(requests.leaseOf(request.id)).toEqual(renewed)
    expect(timeline.count('requests.renewLease')).toBe(1)
    expect(timeline.count('requests.confirmLease')).toBe(0)
  })

  it('when the renew, sent within the lease, is answered after it ran out but nobody took the request, then the lease it set is confirmed and held', async () => {
    const { request, requests, clock, timeline } = heldRequest()
    clock.advance(25_000)
    const renew = requests.renewLease.bind(requests)
    requests.renewLease = async (...args) => {
      await renew(...args)
      clock.advance(10_000)
    }

    await holdLeaseAhead({ requests, clock, leaseMs: LEASE_MS }, request)

    expect(request.heldUntil).toEqual(new Date(START.getTime() + 25_000 + LEASE_MS))
    expect(timeline.count('requests.confirmLease')).toBe(1)
    expect(await requests.acquireLease(request.id, clock.now(), new Date(clock.now().getTime() + LEASE_MS))).toBe(false)
  })

  it('when the renew, sent within the lease, is answered after it ran out and another runner took the request meanwhile, then the run stops: LeaseLostError, its lease not taken as renewed', async () => {
    const { request, requests, clock } = heldRequest()
    const held = request.heldUntil
    clock.advance(25_000)
    const taker = { until: new Date(0) }
    // Cassandra stalls the plain renew past the lease; another instance's sweeper takes the request,
    // and its lease wins over the late renew by its later timestamp.
    requests.renewLease = async (id) => {
      clock.advance(10_000)
      taker.until = new Date(clock.now().getTime() + LEASE_MS)
      expect(await requests.acquireLease(id, clock.now(), taker.until)).toBe(true)
    }

    await expect(holdLeaseAhead({ requests, clock, leaseMs: LEASE_MS }, request)).rejects.toBeInstanceOf(LeaseLostError)

    expect(request.heldUntil).toEqual(held)
    expect(requests.leaseOf(request.id)).toEqual(taker.until)
  })

  it('when the lease has run out and another runner took the request, then the run stops: LeaseLostError, the taker keeps its lease', async () => {
    const { request, requests, clock } = heldRequest()
    const held = request.heldUntil
    clock.advance(LEASE_MS + 1)
    const takerUntil = new Date(clock.now().getTime() + LEASE_MS)
    expect(await requests.acquireLease(request.id, clock.now(), takerUntil)).toBe(true)

    await expect(holdLeaseAhead({ requests, clock, leaseMs: LEASE_MS }, request)).rejects.toBeInstanceOf(LeaseLostError)

    expect(request.heldUntil).toEqual(held)
    expect(requests.leaseOf(request.id)).toEqual(takerUntil)
  })
})

describe('the close of a finished request by the run that holds it', () => {
  it('when the run stalls past its lease on its way to unlist, and a cancel takes the request and lists it meanwhile, then the run unlists nothing: the request stays listed and the cancel keeps its lease', async () => {
    const { request, requests, clock } = heldRequest()
    await requests.finish(request.id, 'completed', {}, request.heldUntil)
    request.state = 'completed'
    clock.advance(LEASE_MS - 1)
    const cancelHolds = { until: new Date(0) }
    const unlist = requests.unlist.bind(requests)
    // The lease still holds as the close begins (no reclaim); the run stalls before its unlist is sent.
    requests.unlist = async (...args) => {
      clock.advance(10_000)
      cancelHolds.until = new Date(clock.now().getTime() + LEASE_MS)
      expect(await requests.acquireLease(request.id, clock.now(), cancelHolds.until)).toBe(true)
      await requests.relist(request)
      await unlist(...args)
    }

    await closeFinished({ requests, clock, leaseMs: LEASE_MS }, request)

    expect(requests.isOpen(request.id)).toBe(true)
    expect(requests.leaseOf(request.id)).toEqual(cancelHolds.until)
  })
})
