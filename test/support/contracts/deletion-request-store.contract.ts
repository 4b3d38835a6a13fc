import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import type { DeletionReceipt, DeletionRequest, StepOutcome } from '../../../src/deletion/deletion-request.js'
import { DependencyUnavailableError } from '../../../src/deletion/errors.js'
import { LeaseLostError } from '../../../src/deletion/lease.js'
import type { DeletionRequestStore } from '../../../src/deletion/ports.js'
import { waitUntil } from '../wait-until.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'

/** A DeletionRequestStore, told which request ids a case uses so a shared server can be tidied after it. */
export interface DeletionRequestStoreSubject extends ContractSubject {
  store: DeletionRequestStore
  /**
   * A store over the same requests whose fenced creates are held back once stamped and sent (a
   * stalled connection): `reached` once one is held; they land at `land()`.
   */
  withFencedCreatesHeld(): { store: DeletionRequestStore; reached: Promise<void>; land(): void }
  /**
   * A store over the same requests whose unlists under a lease are held back once stamped and sent
   * (a stalled connection): `reached` once one is held; they land at `land()`.
   */
  withFencedUnlistsHeld(): { store: DeletionRequestStore; reached: Promise<void>; land(): void }
  /**
   * A store over the same requests whose relists under a lease are held back once stamped and sent
   * (a stalled connection): `reached` once one is held; they land at `land()`.
   */
  withFencedRelistsHeld(): { store: DeletionRequestStore; reached: Promise<void>; land(): void }
  /** A store over the same requests whose next fenced create's answer is lost (a timeout). */
  withFencedCreateAnswersLost(): DeletionRequestStore
  /** Takes away the row of a request, leaving its open entry: a create whose row never applied. */
  loseRow(id: string): Promise<void>
  /**
   * A store over the same requests whose next create's open entry lands but whose answer is lost (a
   * timeout); `settled` once what that store does about it in the background has ended.
   */
  withEntryAnswerLost(): { store: DeletionRequestStore; settled(): Promise<void> }
  uses?(requestId: string): void
}

/** Wide enough to hold every open request a shared test keyspace has collected. */
const ALL_OPEN = 10_000
const SECOND = 1000
/** The lease a checkpoint carries when a case is not about the lease. */
const held = () => new Date(Date.now() + 30 * SECOND)

const done = (action: string, at: Date, count?: number): StepOutcome => ({ status: 'done', action, at: at.toISOString(), ...(count !== undefined && { count }) })

/** A receipt of the shape the service stores: the Cassandra store reads back only what schemas/deletion-receipt.json accepts (a 64-hex subject). */
function receiptFor(request: DeletionRequest, state: DeletionReceipt['state']): DeletionReceipt {
  return {
    requestId: request.id,
    subject: 'a3f1c9e0b7d24c6f8e5a1b2c3d4e5f60a3f1c9e0b7d24c6f8e5a1b2c3d4e5f60',
    state,
    completedAt: '2024-05-20T10:09:01.000Z',
    stores: [
      { store: 'keycloak', action: 'deleted', why: 'account removed' },
      { store: 'user_lookup', action: 'deleted', count: 3, why: 'login names erased' },
    ],
  }
}

/**
 * What the deletion workflow and the sweeper rely on from a DeletionRequestStore, run against the
 * in-memory fake (unit tier) and the Cassandra adapter (integration tier) alike.
 */
export function describeDeletionRequestStoreContract(implementation: string, factory: SubjectFactory<DeletionRequestStoreSubject>): void {
  const test = contractCase(factory)

  /** A new request as the workflow builds it: accepted, no steps, created now (whole milliseconds). */
  function newRequest(s: DeletionRequestStoreSubject, fields: Partial<DeletionRequest> = {}): DeletionRequest {
    const now = new Date()
    const userId = fields.userId ?? randomUUID()
    const request: DeletionRequest = {
      id: `contract-${randomUUID()}`,
      userId,
      requestedBy: userId,
      state: 'accepted',
      plan: 'sunbird',
      steps: {},
      target: { rootOrgId: `org-${randomUUID()}`, managedBy: null, organisationIds: [] },
      createdAt: now,
      updatedAt: now,
      ...fields,
    }
    s.uses?.(request.id)
    return request
  }

  async function created(s: DeletionRequestStoreSubject, fields: Partial<DeletionRequest> = {}, leaseUntil = new Date(Date.now() + 30 * SECOND)) {
    const request = newRequest(s, fields)
    expect(await s.store.create(request, leaseUntil, 'caller')).toBe(true)
    return request
  }

  const isListedOpen = async (s: DeletionRequestStoreSubject, id: string) => (await s.store.listOpen(ALL_OPEN)).some((open) => open.id === id)

  describe(`DeletionRequestStore contract: ${implementation}`, () => {
    describe('create and get', () => {
      test('when a request is created, then it reads back accepted, with its target, no steps, no reason and no receipt', async (s) => {
        const org = `org-${randomUUID()}`
        const request = newRequest(s, { target: { rootOrgId: org, managedBy: randomUUID(), organisationIds: [org] } })

        expect(await s.store.create({ ...request, reason: 'ignored', receipt: receiptFor(request, 'completed') }, new Date(Date.now() + 30 * SECOND), 'caller')).toBe(true)

        expect(await s.store.get(request.id)).toEqual({ ...request, steps: {} })
      })

      test('when the id is taken, then create answers false and the first request stays as it was', async (s) => {
        const first = await created(s)

        const clash = { ...newRequest(s), id: first.id }
        expect(await s.store.create(clash, new Date(Date.now() + 30 * SECOND), 'caller')).toBe(false)

        expect(await s.store.get(first.id)).toEqual(first)
      })

      test('when the service chose the id, then the request is created: it reads back accepted with its target, and is listed open', async (s) => {
        const org = `org-${randomUUID()}`
        const request = newRequest(s, { id: randomUUID(), target: { rootOrgId: org, managedBy: null, organisationIds: [org] } })

        expect(await s.store.create(request, new Date(Date.now() + 30 * SECOND), 'service')).toBe(true)

        expect(await s.store.get(request.id)).toEqual({ ...request, steps: {} })
        expect(await s.store.listOpen(ALL_OPEN)).toContainEqual({ id: request.id, userId: request.userId, createdAt: request.createdAt })
      })

      test('when a create of an id the service chose is sent again, then it answers true again and one request reads back as created', async (s) => {
        const request = newRequest(s, { id: randomUUID() })
        const leaseUntil = new Date(Date.now() + 30 * SECOND)
        expect(await s.store.create(request, leaseUntil, 'service')).toBe(true)

        expect(await s.store.create(request, leaseUntil, 'service')).toBe(true)

        expect(await s.store.get(request.id)).toEqual(request)
        expect(await s.store.findByUser(request.userId, 10)).toEqual([request])
      })

      test("when a caller names an id the service created a request under, then the caller's create answers false and that request stays as it was", async (s) => {
        const first = newRequest(s, { id: randomUUID() })
        expect(await s.store.create(first, new Date(Date.now() + 30 * SECOND), 'service')).toBe(true)

        const clash = { ...newRequest(s), id: first.id }
        expect(await s.store.create(clash, new Date(Date.now() + 30 * SECOND), 'caller')).toBe(false)

        expect(await s.store.get(first.id)).toEqual(first)
      })

      test('when the target names organisations, then they read back as a set: each once', async (s) => {
        const [a, b] = [`org-b-${randomUUID()}`, `org-a-${randomUUID()}`]
        const request = await created(s, { target: { rootOrgId: null, managedBy: null, organisationIds: [a, b, a] } })

        const stored = await s.store.get(request.id)

        expect(stored?.target.rootOrgId).toBeNull()
        expect([...(stored?.target.organisationIds ?? [])].sort()).toEqual([a, b].sort())
      })

      test('when there is no such request, then get answers undefined', async (s) => {
        expect(await s.store.get(`contract-${randomUUID()}`)).toBeUndefined()
      })
    })

    describe("a create fenced by its caller's lease (a batch item never tried)", () => {
      test('when a fenced create is made within its fence, then the request reads back as created and is listed open, its lease ending by the fence', async (s) => {
        const request = newRequest(s)
        const fence = new Date(Date.now() + 30 * SECOND)

        expect(await s.store.createFenced(request, new Date(fence.getTime() + 60 * SECOND), fence)).toBe(true)

        expect(await s.store.get(request.id)).toEqual({ ...request, steps: {} })
        expect(await s.store.isListed(request.id)).toBe(true)
        expect(await s.store.acquireLease(request.id, fence, new Date(fence.getTime() + 30 * SECOND))).toBe(false)
        expect(await s.store.acquireLease(request.id, new Date(fence.getTime() + 1), new Date(fence.getTime() + 30 * SECOND))).toBe(true)
      })

      test("when a fenced create lands after a create of the same id stamped later (the lease's next holder), then it changes nothing of that one: not its creation, lease or outcomes", async (s) => {
        const first = newRequest(s)
        const fence = new Date(Date.now() + 30 * SECOND)
        const held = s.withFencedCreatesHeld()
        const stalled = held.store.createFenced(first, new Date(Date.now() + 30 * SECOND), fence)
        await held.reached
        const later = { ...newRequest(s, { userId: first.userId }), id: first.id, createdAt: new Date(first.createdAt.getTime() + 1), updatedAt: new Date(first.createdAt.getTime() + 1) }
        const laterLease = new Date(Date.now() + 90 * SECOND)
        expect(await s.store.create(later, laterLease, 'derived')).toBe(true)
        await s.store.recordSteps(later.id, { lock: done('locked', new Date('2024-05-20T10:09:00.000Z')) }, 'in_progress', laterLease, laterLease)
        const standing = await s.store.get(later.id)

        held.land()
        // Its caller cannot tell (a plain write): it goes on only while its fence holds, and the
        // next holder writes only past that fence.
        expect(await stalled).toBe(true)

        expect(standing).toMatchObject({ createdAt: later.createdAt, state: 'in_progress', steps: { lock: { action: 'locked' } } })
        expect(await s.store.get(later.id)).toEqual(standing)
        expect(await s.store.acquireLease(later.id, new Date(laterLease.getTime() - 1), new Date(laterLease.getTime() + 30 * SECOND))).toBe(false)
      })

      test("when a fenced create's answer is lost, then it answers 'fence passed' at once (never settled later), the request there as created or not at all", async (s) => {
        const request = newRequest(s)
        const fence = new Date(Date.now() + 30 * SECOND)

        expect(await s.withFencedCreateAnswersLost().createFenced(request, new Date(fence.getTime() + 60 * SECOND), fence)).toBe('fence passed')

        expect([undefined, { ...request, steps: {} }]).toContainEqual(await s.store.get(request.id))
      })

      test('when a fenced create is made past its fence, then it answers so and writes nothing: no request, not listed', async (s) => {
        const request = newRequest(s)
        const fence = new Date(Date.now() - SECOND)

        expect(await s.store.createFenced(request, new Date(Date.now() + 30 * SECOND), fence)).toBe('fence passed')

        expect(await s.store.get(request.id)).toBeUndefined()
        expect(await s.store.isListed(request.id)).toBe(false)
      })
    })

    describe('a create whose row never applied: created from its open entry', () => {
      test('when only the entry of a request is there, then createFromEntry creates the request as it was created (accepted, no steps, its target and creation time), listed open and free to take', async (s) => {
        const [a, b] = [`org-b-${randomUUID()}`, `org-a-${randomUUID()}`]
        const request = await created(s, { target: { rootOrgId: a, managedBy: randomUUID(), organisationIds: [a, b] } })
        await s.store.recordSteps(request.id, { lock: done('locked', new Date('2024-05-20T10:09:00.000Z')) }, 'in_progress', held())
        await s.loseRow(request.id)
        expect(await s.store.get(request.id)).toBeUndefined()

        const recreated = await s.store.createFromEntry(request.id)

        const asCreated = { ...request, target: { ...request.target, organisationIds: [a, b].sort() } }
        expect(recreated).toEqual(asCreated)
        expect(await s.store.get(request.id)).toEqual(asCreated)
        expect(await s.store.isListed(request.id)).toBe(true)
        expect(await s.store.acquireLease(request.id, new Date(), held())).toBe(true)
      })

      test('when the request was created with a plan and an erasure schedule, or by a service-chosen id, then it is created again with them', async (s) => {
        const eraseAt = new Date(Date.now() + 3 * 24 * 3600 * SECOND)
        const scheduled = await created(s, { plan: 'soft', schedule: { plan: 'hard', eraseAt }, target: { rootOrgId: null, managedBy: null, organisationIds: [] } })
        const serviceChosen = newRequest(s, { id: randomUUID(), plan: 'hard' })
        expect(await s.store.create(serviceChosen, held(), 'service')).toBe(true)
        await s.loseRow(scheduled.id)
        await s.loseRow(serviceChosen.id)

        expect(await s.store.createFromEntry(scheduled.id)).toEqual(scheduled)
        expect(await s.store.createFromEntry(serviceChosen.id)).toEqual(serviceChosen)
      })

      test("when a request has the entry's id, then createFromEntry answers 'exists' and changes nothing of it", async (s) => {
        const request = await created(s)
        await s.store.recordSteps(request.id, { lock: done('locked', new Date('2024-05-20T10:09:00.000Z')) }, 'in_progress', held())
        const standing = await s.store.get(request.id)

        expect(await s.store.createFromEntry(request.id)).toBe('exists')

        expect(await s.store.get(request.id)).toEqual(standing)
      })

      test('when the write of a create\'s entry answers too late (its caller hears "retry") though it landed, then the create fails and what the entry kept is withdrawn: no request is created from it later', async (s) => {
        const request = newRequest(s)
        const lost = s.withEntryAnswerLost()

        await expect(lost.store.create(request, held(), 'caller')).rejects.toBeInstanceOf(DependencyUnavailableError)
        await lost.settled()

        expect(await s.store.get(request.id)).toBeUndefined()
        expect(await s.store.createFromEntry(request.id)).toBe('not kept')
        expect(await s.store.get(request.id)).toBeUndefined()

        // The caller's retry under the same id keeps its own: the withdrawal was of the earlier write only.
        const retry = { ...request, createdAt: new Date(request.createdAt.getTime() + 1), updatedAt: new Date(request.createdAt.getTime() + 1) }
        expect(await s.store.create(retry, held(), 'caller')).toBe(true)
        await s.loseRow(retry.id)
        expect(await s.store.createFromEntry(retry.id)).toEqual(retry)
      })

      test('when an entry is written again by a later create of its id whose row never applied either, then the request created from it is the later one, none of the earlier one kept', async (s) => {
        const earlier = await created(s, { plan: 'soft', schedule: { plan: 'hard', eraseAt: new Date(Date.now() + 3600 * SECOND) } })
        await s.loseRow(earlier.id)
        const later = { ...newRequest(s), id: earlier.id, createdAt: new Date(earlier.createdAt.getTime() + 1), updatedAt: new Date(earlier.createdAt.getTime() + 1) }
        expect(await s.store.create(later, held(), 'caller')).toBe(true)
        await s.loseRow(later.id)

        expect(await s.store.createFromEntry(later.id)).toEqual(later)
      })

      test('when a request is listed, then openEntry reads its entry (user, creation time, due time once scheduled), with or without its row; none once unlisted or never listed', async (s) => {
        const dueAt = new Date(Date.now() + 3600 * SECOND)
        const request = await created(s)
        const scheduled = await created(s, { plan: 'soft', schedule: { plan: 'sunbird', eraseAt: dueAt } })
        await s.store.finish(scheduled.id, 'scheduled', { dueAt })
        const rowLost = await created(s)
        await s.loseRow(rowLost.id)
        const unlisted = await created(s)
        await s.store.unlist(unlisted.id)

        expect(await s.store.openEntry(request.id)).toEqual({ id: request.id, userId: request.userId, createdAt: request.createdAt })
        expect(await s.store.openEntry(scheduled.id)).toEqual({ id: scheduled.id, userId: scheduled.userId, createdAt: scheduled.createdAt, dueAt })
        expect(await s.store.openEntry(rowLost.id)).toEqual({ id: rowLost.id, userId: rowLost.userId, createdAt: rowLost.createdAt })
        expect(await s.store.openEntry(unlisted.id)).toBeUndefined()
        expect(await s.store.openEntry(newRequest(s).id)).toBeUndefined()
      })

      test("when the entry kept nothing (a fenced create's: its batch job settles the item) or there is none, then createFromEntry answers 'not kept' and creates nothing", async (s) => {
        const fenced = newRequest(s)
        const fence = new Date(Date.now() + 30 * SECOND)
        expect(await s.store.createFenced(fenced, new Date(fence.getTime() + 60 * SECOND), fence)).toBe(true)
        await s.loseRow(fenced.id)
        const unknown = newRequest(s)

        expect(await s.store.createFromEntry(fenced.id)).toBe('not kept')
        expect(await s.store.createFromEntry(unknown.id)).toBe('not kept')

        expect(await s.store.get(fenced.id)).toBeUndefined()
        expect(await s.store.get(unknown.id)).toBeUndefined()
      })
    })

    describe('leases: one runner at a time', () => {
      test('when a request is created, then its creator holds it until leaseUntil, and anyone may take it after', async (s) => {
        const leaseUntil = new Date(Date.now() + 30 * SECOND)
        const request = await created(s, {}, leaseUntil)

        expect(await s.store.acquireLease(request.id, new Date(leaseUntil.getTime() - 1), new Date(leaseUntil.getTime() + 60 * SECOND))).toBe(false)
        expect(await s.store.acquireLease(request.id, leaseUntil, new Date(leaseUntil.getTime() + 60 * SECOND))).toBe(false)
        expect(await s.store.acquireLease(request.id, new Date(leaseUntil.getTime() + 1), new Date(leaseUntil.getTime() + 60 * SECOND))).toBe(true)
      })

      test('when a lease is taken, then nobody else takes it before it runs out', async (s) => {
        const start = new Date(Date.now() + 60 * SECOND)
        const request = await created(s, {}, new Date(Date.now() - SECOND))
        expect(await s.store.acquireLease(request.id, start, new Date(start.getTime() + 30 * SECOND))).toBe(true)

        expect(await s.store.acquireLease(request.id, new Date(start.getTime() + 29 * SECOND), new Date(start.getTime() + 90 * SECOND))).toBe(false)
        expect(await s.store.acquireLease(request.id, new Date(start.getTime() + 31 * SECOND), new Date(start.getTime() + 90 * SECOND))).toBe(true)
      })

      test('when runners race for a free request, then exactly one gets it', async (s) => {
        const request = await created(s, {}, new Date(Date.now() - SECOND))
        const now = new Date()

        const taken = await Promise.all(Array.from({ length: 4 }, () => s.store.acquireLease(request.id, now, new Date(now.getTime() + 30 * SECOND))))

        expect(taken.filter(Boolean)).toHaveLength(1)
      })

      test('when a runner checkpoints, then it holds the request until the lease the checkpoint carries, even past the one it took', async (s) => {
        const start = new Date(Date.now() + 60 * SECOND)
        const request = await created(s, {}, new Date(Date.now() - SECOND))
        expect(await s.store.acquireLease(request.id, start, new Date(start.getTime() + 30 * SECOND))).toBe(true)

        await s.store.recordSteps(request.id, { lock: done('locked', start) }, 'in_progress', new Date(start.getTime() + 50 * SECOND))

        expect(await s.store.acquireLease(request.id, new Date(start.getTime() + 40 * SECOND), new Date(start.getTime() + 90 * SECOND))).toBe(false)
        expect(await s.store.acquireLease(request.id, new Date(start.getTime() + 51 * SECOND), new Date(start.getTime() + 90 * SECOND))).toBe(true)
      })

      test('when the lease is released, then another runner takes the request at once', async (s) => {
        const request = await created(s, {}, new Date(Date.now() + 30 * SECOND))

        await s.store.releaseLease(request.id)

        expect(await s.store.acquireLease(request.id, new Date(), new Date(Date.now() + 30 * SECOND))).toBe(true)
      })

      test('when there is no such request, then no lease is given and no request appears', async (s) => {
        const id = `contract-${randomUUID()}`
        s.uses?.(id)

        expect(await s.store.acquireLease(id, new Date(), new Date(Date.now() + 30 * SECOND))).toBe(false)
        expect(await s.store.get(id)).toBeUndefined()
      })
    })

    describe("leases: a run's writes fenced by the lease it holds", () => {
      test('when a run writes within the lease it holds, then the write lands and holds the request until the lease it carries', async (s) => {
        const heldUntil = new Date(Date.now() + 30 * SECOND)
        const request = await created(s, {}, heldUntil)
        const renewed = new Date(Date.now() + 60 * SECOND)

        await s.store.recordSteps(request.id, { lock: done('locked', new Date()) }, 'in_progress', renewed, heldUntil)

        expect(await s.store.get(request.id)).toMatchObject({ state: 'in_progress', steps: { lock: { action: 'locked' } } })
        expect(await s.store.acquireLease(request.id, new Date(renewed.getTime() - 1), new Date(renewed.getTime() + 30 * SECOND))).toBe(false)
      })

      test('when the lease a run holds has run out but nobody took the request since, then its writes still land', async (s) => {
        const lapsed = new Date(Date.now() - SECOND)
        const request = await created(s, {}, lapsed)
        const renewed = new Date(Date.now() + 30 * SECOND)

        await s.store.recordSteps(request.id, { lock: done('locked', new Date()) }, 'in_progress', renewed, lapsed)
        await s.store.finish(request.id, 'completed', { receipt: receiptFor(request, 'completed') }, renewed)

        expect(await s.store.get(request.id)).toMatchObject({ state: 'completed', steps: { lock: { action: 'locked' } }, receipt: receiptFor(request, 'completed') })
      })

      test('when another runner took the request over after the lease ran out, then every write of the stalled run is refused and changes nothing', async (s) => {
        const lapsed = new Date(Date.now() - SECOND)
        const request = await created(s, {}, lapsed)
        const now = new Date()
        const takerUntil = new Date(now.getTime() + 30 * SECOND)
        expect(await s.store.acquireLease(request.id, now, takerUntil)).toBe(true)
        await s.store.finish(request.id, 'completed', { receipt: receiptFor(request, 'completed'), steps: { lock: done('locked', now) } }, takerUntil)
        await s.store.unlist(request.id)
        const finished = await s.store.get(request.id)

        await expect(s.store.recordSteps(request.id, { keycloak: done('deleted', now) }, 'in_progress', takerUntil, lapsed)).rejects.toBeInstanceOf(LeaseLostError)
        await expect(s.store.finish(request.id, 'partial', { reason: 'stale' }, lapsed)).rejects.toBeInstanceOf(LeaseLostError)
        await expect(s.store.updatePlan(request.id, 'hard', 'in_progress', lapsed)).rejects.toBeInstanceOf(LeaseLostError)
        await expect(s.store.reopen(request, 'cancelling', lapsed)).rejects.toBeInstanceOf(LeaseLostError)
        await expect(s.store.nameCanceller(request.id, randomUUID(), lapsed)).rejects.toBeInstanceOf(LeaseLostError)

        expect(await s.store.get(request.id)).toEqual(finished)
        expect(await isListedOpen(s, request.id)).toBe(false)
      })

      test('when a run renews the lease it still holds, then the request is held until the renewed end, and nothing else changes', async (s) => {
        const heldUntil = new Date(Date.now() + 30 * SECOND)
        const request = await created(s, {}, heldUntil)
        const renewed = new Date(Date.now() + 60 * SECOND)

        await s.store.renewLease(request.id, renewed, heldUntil)

        expect(await s.store.acquireLease(request.id, new Date(renewed.getTime() - 1), new Date(renewed.getTime() + 30 * SECOND))).toBe(false)
        expect(await s.store.get(request.id)).toEqual({ ...request, steps: {} })
      })

      test('when the lease a run holds has run out but nobody took the request since, then it takes the lease back: no other runner gets it, its writes under the renewed lease land, and nothing else changes', async (s) => {
        const lapsed = new Date(Date.now() - SECOND)
        const request = await created(s, {}, lapsed)
        const renewed = new Date(Date.now() + 30 * SECOND)

        await s.store.renewLease(request.id, renewed, lapsed)

        expect(await s.store.get(request.id)).toEqual({ ...request, steps: {} })
        expect(await s.store.acquireLease(request.id, new Date(), new Date(Date.now() + 30 * SECOND))).toBe(false)
        await s.store.finish(request.id, 'completed', { receipt: receiptFor(request, 'completed') }, renewed)
        expect(await s.store.get(request.id)).toMatchObject({ state: 'completed', receipt: receiptFor(request, 'completed') })
      })

      test('when another runner took the request over after the lease ran out, then the stalled run cannot take the lease back: refused, and the taker keeps the request', async (s) => {
        const lapsed = new Date(Date.now() - SECOND)
        const request = await created(s, {}, lapsed)
        const now = new Date()
        const takerUntil = new Date(now.getTime() + 30 * SECOND)
        expect(await s.store.acquireLease(request.id, now, takerUntil)).toBe(true)

        await expect(s.store.renewLease(request.id, new Date(now.getTime() + 60 * SECOND), lapsed)).rejects.toBeInstanceOf(LeaseLostError)

        expect(await s.store.acquireLease(request.id, new Date(takerUntil.getTime() + 1), new Date(takerUntil.getTime() + 30 * SECOND))).toBe(true)
        expect(await s.store.get(request.id)).toEqual({ ...request, steps: {} })
      })

      test('when a run confirms the lease its last write set, then it holds while the lease is exactly that; once another runner has taken the request, LeaseLostError and the taker keeps it', async (s) => {
        const lapsed = new Date(Date.now() - SECOND)
        const request = await created(s, {}, lapsed)

        await s.store.confirmLease(request.id, lapsed)

        const now = new Date()
        const takerUntil = new Date(now.getTime() + 30 * SECOND)
        expect(await s.store.acquireLease(request.id, now, takerUntil)).toBe(true)
        await expect(s.store.confirmLease(request.id, lapsed)).rejects.toBeInstanceOf(LeaseLostError)
        expect(await s.store.acquireLease(request.id, new Date(takerUntil.getTime() - 1), new Date(takerUntil.getTime() + 30 * SECOND))).toBe(false)
        await s.store.confirmLease(request.id, takerUntil)
        expect(await s.store.get(request.id)).toEqual({ ...request, steps: {} })
      })

      test('when another runner holds the request, then a release under a lease that ran out leaves that runner holding it', async (s) => {
        const lapsed = new Date(Date.now() - SECOND)
        const request = await created(s, {}, lapsed)
        const now = new Date()
        expect(await s.store.acquireLease(request.id, now, new Date(now.getTime() + 30 * SECOND))).toBe(true)

        await s.store.releaseLease(request.id, lapsed)

        expect(await s.store.acquireLease(request.id, new Date(), new Date(Date.now() + 30 * SECOND))).toBe(false)
      })

      test('when a run releases the lease it still holds, then another runner takes the request at once', async (s) => {
        const heldUntil = new Date(Date.now() + 30 * SECOND)
        const request = await created(s, {}, heldUntil)

        await s.store.releaseLease(request.id, heldUntil)

        expect(await s.store.acquireLease(request.id, new Date(), new Date(Date.now() + 30 * SECOND))).toBe(true)
      })
    })

    describe('steps', () => {
      test('when steps are recorded, then each outcome and the state read back, steps in the order the workflow runs them', async (s) => {
        const request = await created(s)
        const at = new Date('2024-05-20T10:09:00.000Z')
        const before = Date.now()

        await s.store.recordSteps(request.id, { lookups: done('deleted', at, 3) }, 'in_progress', held())
        await s.store.recordSteps(request.id, { lock: done('locked', at) }, 'in_progress', held())
        await s.store.recordSteps(request.id, { keycloak: { status: 'pending', action: 'unreachable', at: at.toISOString() } }, 'in_progress', held())

        const stored = await s.store.get(request.id)
        expect(stored?.state).toBe('in_progress')
        expect(Object.keys(stored?.steps ?? {})).toEqual(['lock', 'keycloak', 'lookups'])
        expect(stored?.steps).toEqual({
          lock: done('locked', at),
          keycloak: { status: 'pending', action: 'unreachable', at: at.toISOString() },
          lookups: done('deleted', at, 3),
        })
        expect(stored?.updatedAt.getTime()).toBeGreaterThanOrEqual(before)
        expect(stored?.createdAt).toEqual(request.createdAt)
      })

      test('when several outcomes are recorded in one write, then each reads back beside those recorded before', async (s) => {
        const request = await created(s)
        const at = new Date('2024-05-20T10:09:00.000Z')
        await s.store.recordSteps(request.id, { lock: done('locked', at) }, 'in_progress', held())

        await s.store.recordSteps(request.id, { keycloak: done('deleted', at), lookups: done('deleted', at, 2) }, 'in_progress', held())

        expect((await s.store.get(request.id))?.steps).toEqual({ lock: done('locked', at), keycloak: done('deleted', at), lookups: done('deleted', at, 2) })
      })

      test('when the finish carries outcomes no checkpoint recorded, then they read back with the receipt, beside the earlier ones', async (s) => {
        const request = await created(s)
        const at = new Date('2024-05-20T10:09:00.000Z')
        await s.store.recordSteps(request.id, { lock: done('locked', at) }, 'in_progress', held())

        await s.store.finish(request.id, 'completed', { receipt: receiptFor(request, 'completed'), steps: { searchUser: done('deleted', at, 1), event: done('queued', at) } }, held())

        const stored = await s.store.get(request.id)
        expect(stored?.state).toBe('completed')
        expect(stored?.steps).toEqual({ lock: done('locked', at), searchUser: done('deleted', at, 1), event: done('queued', at) })
        expect(stored?.receipt).toEqual(receiptFor(request, 'completed'))
      })

      test('when a step is recorded again, then the later outcome replaces the earlier one', async (s) => {
        const request = await created(s)
        const at = new Date('2024-05-20T10:09:00.000Z')
        await s.store.recordSteps(request.id, { keycloak: { status: 'pending', action: 'unreachable', at: at.toISOString() } }, 'in_progress', held())

        await s.store.recordSteps(request.id, { keycloak: done('deleted', at) }, 'in_progress', held())

        expect((await s.store.get(request.id))?.steps).toEqual({ keycloak: done('deleted', at) })
      })

      test('when the relay marks the event published, then only the event step changes', async (s) => {
        const request = await created(s)
        const at = new Date('2024-05-20T10:09:00.000Z')
        await s.store.recordSteps(request.id, { userRow: done('scrubbed', at) }, 'in_progress', held())
        await s.store.recordSteps(request.id, { event: done('queued', at) }, 'in_progress', held())
        await s.store.finish(request.id, 'completed', { receipt: receiptFor(request, 'completed') }, held())
        const publishedAt = new Date('2024-05-20T10:09:02.345Z')

        await s.store.markEventPublished(request.id, publishedAt)

        const stored = await s.store.get(request.id)
        expect(stored?.state).toBe('completed')
        expect(stored?.steps).toEqual({ userRow: done('scrubbed', at), event: done('published', publishedAt) })
        expect(stored?.receipt).toEqual(receiptFor(request, 'completed'))
      })

      test('when the run records the event queued after the relay published it, then the event still reads published', async (s) => {
        const request = await created(s)
        const at = new Date('2024-05-20T10:09:00.000Z')
        const publishedAt = new Date('2024-05-20T10:09:00.100Z')
        await s.store.markEventPublished(request.id, publishedAt)

        await s.store.finish(request.id, 'completed', { receipt: receiptFor(request, 'completed'), steps: { event: done('queued', at) } }, held())

        expect((await s.store.get(request.id))?.steps.event).toEqual(done('published', publishedAt))
      })
    })

    describe('finishing and the open list', () => {
      test('when a request is created, then it is listed open with its user and its creation time', async (s) => {
        const request = await created(s)

        expect(await s.store.listOpen(ALL_OPEN)).toContainEqual({ id: request.id, userId: request.userId, createdAt: request.createdAt })
      })

      test('when a listed request is unlisted, then it is no longer listed, and the request reads back as it was', async (s) => {
        const request = await created(s)
        await s.store.recordSteps(request.id, { lock: done('locked', new Date()) }, 'in_progress', held())
        const before = await s.store.get(request.id)

        await s.store.unlist(request.id)

        expect(await isListedOpen(s, request.id)).toBe(false)
        expect(await s.store.get(request.id)).toEqual(before)
      })

      test('when open requests are listed, then no more than the limit are answered', async (s) => {
        await created(s)
        await created(s)

        expect(await s.store.listOpen(1)).toHaveLength(1)
      })

      test('when more requests are due than one listing takes, then listings in a row go round them all, none left behind', async (s) => {
        const mine = new Set<string>()
        for (let i = 0; i < 5; i++) mine.add((await created(s)).id)
        const seen = new Set<string>()

        // Other cases' requests may share the list: go round it, however long, a bounded number of times.
        for (let listing = 0; listing < 400 && [...mine].some((id) => !seen.has(id)); listing++) {
          for (const open of await s.store.listOpen(3)) seen.add(open.id)
        }

        expect([...mine].filter((id) => !seen.has(id))).toEqual([])
      })

      test('when a round is gone (startRound, then listings until roundEnded), then every due request is listed, none twice, and the round stops at the end of the list', async (s) => {
        const mine = new Set<string>()
        for (let i = 0; i < 5; i++) mine.add((await created(s)).id)
        const listed: string[] = []

        expect(s.store.roundEnded()).toBe(false)
        s.store.startRound()
        // Other cases' requests may share the list: a bounded number of listings, however long it is.
        for (let listing = 0; listing < 4000 && !s.store.roundEnded(); listing++) {
          for (const open of await s.store.listOpen(3)) listed.push(open.id)
        }

        expect(s.store.roundEnded()).toBe(true)
        expect([...mine].filter((id) => !listed.includes(id))).toEqual([])
        expect(listed.filter((id, at) => listed.indexOf(id) !== at)).toEqual([])
      })

      test('when a round has ended, then the next listing starts from the list again and later ones go round as before', async (s) => {
        const mine = new Set<string>()
        for (let i = 0; i < 4; i++) mine.add((await created(s)).id)
        s.store.startRound()
        for (let listing = 0; listing < 4000 && !s.store.roundEnded(); listing++) await s.store.listOpen(3)
        const seen = new Set<string>()

        for (let listing = 0; listing < 4000 && [...mine].some((id) => !seen.has(id)); listing++) {
          for (const open of await s.store.listOpen(3)) seen.add(open.id)
        }

        expect([...mine].filter((id) => !seen.has(id))).toEqual([])
        expect(s.store.roundEnded()).toBe(true)
      })

      test('when a request completes, then its receipt reads back, its lease is free once given back, and it stays listed until it is unlisted (its end audited between the two)', async (s) => {
        const heldUntil = new Date(Date.now() + 30 * SECOND)
        const request = await created(s, {}, heldUntil)

        await s.store.finish(request.id, 'completed', { receipt: receiptFor(request, 'completed') }, heldUntil)
        await s.store.releaseLease(request.id, heldUntil)

        const stored = await s.store.get(request.id)
        expect(stored?.state).toBe('completed')
        expect(stored?.receipt).toEqual(receiptFor(request, 'completed'))
        expect(stored?.reason).toBeUndefined()
        expect(await isListedOpen(s, request.id)).toBe(true)
        expect(await s.store.acquireLease(request.id, new Date(), new Date(Date.now() + 30 * SECOND))).toBe(true)

        await s.store.unlist(request.id)

        expect(await isListedOpen(s, request.id)).toBe(false)
        expect(await s.store.get(request.id)).toMatchObject({ state: 'completed' })
      })

      test('when a request is finished under the lease its run holds, then the run keeps that lease (no one takes the request) until it gives it back', async (s) => {
        const heldUntil = new Date(Date.now() + 30 * SECOND)
        const request = await created(s, {}, heldUntil)

        await s.store.finish(request.id, 'completed', { receipt: receiptFor(request, 'completed') }, heldUntil)

        expect(await s.store.acquireLease(request.id, new Date(), new Date(Date.now() + 30 * SECOND))).toBe(false)
        await s.store.unlist(request.id)
        await s.store.releaseLease(request.id, heldUntil)
        expect(await s.store.acquireLease(request.id, new Date(), new Date(Date.now() + 30 * SECOND))).toBe(true)
      })

      test('when a request is partial under the lease its run holds, then the lease is free at once', async (s) => {
        const heldUntil = new Date(Date.now() + 30 * SECOND)
        const request = await created(s, {}, heldUntil)

        await s.store.finish(request.id, 'partial', { receipt: receiptFor(request, 'partial') }, heldUntil)

        expect(await s.store.acquireLease(request.id, new Date(), new Date(Date.now() + 30 * SECOND))).toBe(true)
      })

      test('when asked whether a request is listed, then a created one is and an unlisted one is not', async (s) => {
        const request = await created(s)
        expect(await s.store.isListed(request.id)).toBe(true)

        await s.store.unlist(request.id)

        expect(await s.store.isListed(request.id)).toBe(false)
      })

      test('when asked whether a request is closed, then only a finished one whose lease was given back is', async (s) => {
        const heldUntil = new Date(Date.now() + 30 * SECOND)
        const request = await created(s, {}, heldUntil)
        expect(await s.store.isClosed(request.id)).toBe(false)

        await s.store.finish(request.id, 'completed', { receipt: receiptFor(request, 'completed') }, heldUntil)
        // Its end's record owed: the run's lease is kept.
        expect(await s.store.isClosed(request.id)).toBe(false)
        await s.store.unlist(request.id)
        await s.store.releaseLease(request.id, heldUntil)

        expect(await s.store.isClosed(request.id)).toBe(true)
        expect(await s.store.isClosed(`contract-${randomUUID()}`)).toBe(false)
      })

      test('when a closed request’s lease is taken (a cancel, the sweeper), then nobody else takes it meanwhile, and it reads closed again once given back', async (s) => {
        const heldUntil = new Date(Date.now() + 30 * SECOND)
        const request = await created(s, {}, heldUntil)
        await s.store.finish(request.id, 'completed', { receipt: receiptFor(request, 'completed') }, heldUntil)
        await s.store.unlist(request.id)
        await s.store.releaseLease(request.id, heldUntil)

        const taken = new Date(Date.now() + 30 * SECOND)
        expect(await s.store.acquireLease(request.id, new Date(), taken)).toBe(true)
        // The take overwrites the epoch: a reader now finds it not closed, and its own take refused.
        expect(await s.store.isClosed(request.id)).toBe(false)
        expect(await s.store.acquireLease(request.id, new Date(), new Date(Date.now() + 30 * SECOND))).toBe(false)
        await s.store.releaseLease(request.id, taken)

        expect(await s.store.isClosed(request.id)).toBe(true)
      })

      test('when a closed request is listed again (a cancel took its user’s hold, listed it, and gave its lease back before it could reopen it) and a caller’s create names its id, then it stays listed: what it still owes is the sweeper’s to find', async (s) => {
        const heldUntil = held()
        const request = await created(s, { plan: 'soft' }, heldUntil)
        await s.store.finish(request.id, 'completed', {}, heldUntil)
        await s.store.unlist(request.id)
        await s.store.releaseLease(request.id, heldUntil)
        const taken = held()
        expect(await s.store.acquireLease(request.id, new Date(), taken)).toBe(true)
        await s.store.relist(request)
        await s.store.releaseLease(request.id, taken)
        expect(await s.store.isClosed(request.id)).toBe(true)

        expect(await s.store.create({ ...newRequest(s), id: request.id }, held(), 'caller')).toBe(false)

        expect(await s.store.isListed(request.id)).toBe(true)
        expect(await s.store.get(request.id)).toMatchObject({ state: 'completed' })
      })

      test('when a request fails, then its reason reads back, and it stays listed until it is unlisted', async (s) => {
        const request = await created(s)

        await s.store.finish(request.id, 'failed', { reason: 'superseded' }, held())

        expect(await s.store.get(request.id)).toMatchObject({ state: 'failed', reason: 'superseded' })
        expect((await s.store.get(request.id))?.receipt).toBeUndefined()
        expect(await isListedOpen(s, request.id)).toBe(true)
      })

      test('when a request is left partial, then it stays open and its lease is free for the sweeper at once', async (s) => {
        const request = await created(s, {}, new Date(Date.now() + 30 * SECOND))

        await s.store.finish(request.id, 'partial', { receipt: receiptFor(request, 'partial') })

        expect(await s.store.get(request.id)).toMatchObject({ state: 'partial', receipt: receiptFor(request, 'partial') })
        expect(await isListedOpen(s, request.id)).toBe(true)
        expect(await s.store.acquireLease(request.id, new Date(), new Date(Date.now() + 30 * SECOND))).toBe(true)
      })

      test('when a partial request is finished later, then the new receipt replaces the old one and fields not given are cleared', async (s) => {
        const request = await created(s)
        const heldUntil = held()
        await s.store.finish(request.id, 'failed', { reason: 'superseded' }, heldUntil)
        await s.store.finish(request.id, 'partial', { receipt: receiptFor(request, 'partial') }, heldUntil)

        await s.store.finish(request.id, 'completed', { receipt: receiptFor(request, 'completed') }, held())

        const stored = await s.store.get(request.id)
        expect(stored).toMatchObject({ state: 'completed', receipt: receiptFor(request, 'completed') })
        expect(stored?.reason).toBeUndefined()
      })
    })

    describe('plans and schedules (deletion modes)', () => {
      test("when a request names a plan and an erasure schedule, then both read back; a request without a mode reads back as Sunbird's", async (s) => {
        const eraseAt = new Date(Date.now() + 3 * 24 * 3600 * SECOND)
        const scheduled = await created(s, { plan: 'soft', schedule: { plan: 'hard', eraseAt } })
        const plain = await created(s)

        expect(await s.store.get(scheduled.id)).toMatchObject({ plan: 'soft', schedule: { plan: 'hard', eraseAt } })
        expect(await s.store.get(plain.id)).toMatchObject({ plan: 'sunbird' })
        expect((await s.store.get(plain.id))?.schedule).toBeUndefined()
      })

      test('when a request is scheduled, then it stays open but is not due before its erasure time, and is due from then on', async (s) => {
        const dueAt = new Date(Date.now() + 3600 * SECOND)
        const request = await created(s, { plan: 'soft', schedule: { plan: 'sunbird', eraseAt: dueAt } })

        await s.store.finish(request.id, 'scheduled', { dueAt })

        expect(await s.store.get(request.id)).toMatchObject({ state: 'scheduled' })
        expect((await s.store.listOpen(ALL_OPEN, new Date(dueAt.getTime() - SECOND))).some((open) => open.id === request.id)).toBe(false)
        expect(await s.store.listOpen(ALL_OPEN, new Date(dueAt.getTime() + SECOND))).toContainEqual({ id: request.id, userId: request.userId, createdAt: request.createdAt, dueAt })
      })

      test('when the erasure begins, then the request follows its erasure plan', async (s) => {
        const request = await created(s, { plan: 'soft', schedule: { plan: 'sunbird', eraseAt: new Date() } })

        await s.store.updatePlan(request.id, 'sunbird', 'in_progress')

        expect(await s.store.get(request.id)).toMatchObject({ plan: 'sunbird', state: 'in_progress' })
      })

      test('when a finished request is reopened (a cancel), then it has the new state and is listed open and due at once', async (s) => {
        const dueAt = new Date(Date.now() + 3600 * SECOND)
        const scheduled = await created(s, { plan: 'soft', schedule: { plan: 'sunbird', eraseAt: dueAt } })
        await s.store.finish(scheduled.id, 'scheduled', { dueAt })
        const completed = await created(s, { plan: 'soft' })
        await s.store.finish(completed.id, 'completed', {}, held())

        await s.store.reopen(scheduled, 'cancelling')
        await s.store.reopen(completed, 'cancelling')

        const due = await s.store.listOpen(ALL_OPEN, new Date())
        for (const request of [scheduled, completed]) {
          expect(await s.store.get(request.id)).toMatchObject({ state: 'cancelling' })
          expect(due.map((open) => open.id)).toContain(request.id)
        }
      })

      test('when a request is relisted, then it is listed due at the time given (or at once) and nothing else of it changes', async (s) => {
        const eraseAt = new Date(Date.now() + 3600 * SECOND)
        const scheduled = await created(s, { plan: 'soft', schedule: { plan: 'sunbird', eraseAt } })
        await s.store.finish(scheduled.id, 'scheduled', { dueAt: eraseAt })
        const completed = await created(s, { plan: 'soft' })
        await s.store.finish(completed.id, 'completed', {}, held())
        await s.store.unlist(completed.id)
        const before = [await s.store.get(scheduled.id), await s.store.get(completed.id)]

        await s.store.relist(scheduled)
        await s.store.relist(completed)
        let due = (await s.store.listOpen(ALL_OPEN, new Date())).map((open) => open.id)
        expect(due).toContain(scheduled.id)
        expect(due).toContain(completed.id)
        expect(await s.store.isListed(completed.id)).toBe(true)

        await s.store.relist(scheduled, eraseAt)
        due = (await s.store.listOpen(ALL_OPEN, new Date())).map((open) => open.id)
        expect(due).not.toContain(scheduled.id)
        expect(await s.store.openEntry(scheduled.id)).toMatchObject({ id: scheduled.id, userId: scheduled.userId, dueAt: eraseAt })
        expect([await s.store.get(scheduled.id), await s.store.get(completed.id)]).toEqual(before)
      })

      test('when a scheduled settle is written under the lease its run holds, then it is due at its time and the lease is free; written past that lease (nobody took it since), then the state lands but the due time is not written: it stays due at once', async (s) => {
        const eraseAt = new Date(Date.now() + 3600 * SECOND)
        const heldUntil = new Date(Date.now() + 30 * SECOND)
        const within = await created(s, { plan: 'soft', schedule: { plan: 'sunbird', eraseAt } }, heldUntil)
        const lapsed = new Date(Date.now() - SECOND)
        const past = await created(s, { plan: 'soft', schedule: { plan: 'sunbird', eraseAt } }, lapsed)

        await s.store.finish(within.id, 'scheduled', { dueAt: eraseAt }, heldUntil)
        await s.store.finish(past.id, 'scheduled', { dueAt: eraseAt }, lapsed)

        expect(await s.store.openEntry(within.id)).toMatchObject({ id: within.id, dueAt: eraseAt })
        expect(await s.store.acquireLease(within.id, new Date(), new Date(Date.now() + 30 * SECOND))).toBe(true)
        expect(await s.store.get(past.id)).toMatchObject({ state: 'scheduled' })
        expect((await s.store.openEntry(past.id))?.dueAt).toBeUndefined()
        expect(await isListedOpen(s, past.id)).toBe(true)
      })

      test('when a run relists its request due later under the lease it holds, then it is due then; past that lease, once a cancel took the request and listed it due at once, the relist writes nothing', async (s) => {
        const eraseAt = new Date(Date.now() + 3600 * SECOND)
        const heldUntil = new Date(Date.now() + 30 * SECOND)
        const within = await created(s, { plan: 'soft', schedule: { plan: 'sunbird', eraseAt } }, heldUntil)
        const lapsed = new Date(Date.now() - SECOND)
        const past = await created(s, { plan: 'soft', schedule: { plan: 'sunbird', eraseAt } }, lapsed)
        const now = new Date()
        expect(await s.store.acquireLease(past.id, now, new Date(now.getTime() + 30 * SECOND))).toBe(true)
        await s.store.relist(past)

        await s.store.relist(within, eraseAt, heldUntil)
        await s.store.relist(past, eraseAt, lapsed)

        expect(await s.store.openEntry(within.id)).toMatchObject({ id: within.id, dueAt: eraseAt })
        expect((await s.store.openEntry(past.id))?.dueAt).toBeUndefined()
        expect(await isListedOpen(s, past.id)).toBe(true)
      })

      test("when a run's relist due later, sent while its lease held, lands after a cancel took the request past that lease and listed it due at once, then it stays due at once", async (s) => {
        const eraseAt = new Date(Date.now() + 3600 * SECOND)
        // Long enough for the create and the relist's send; the case waits it out.
        const heldUntil = new Date(Date.now() + SECOND)
        const request = await created(s, { plan: 'soft', schedule: { plan: 'sunbird', eraseAt } }, heldUntil)
        const held = s.withFencedRelistsHeld()
        const stalled = held.store.relist(request, eraseAt, heldUntil)
        await held.reached
        await waitUntil("the run's lease to run out", () => Date.now() > heldUntil.getTime(), { intervalMs: 20 })
        const now = new Date()
        expect(await s.store.acquireLease(request.id, now, new Date(now.getTime() + 30 * SECOND))).toBe(true)
        await s.store.relist(request)

        held.land()
        await stalled

        expect((await s.store.openEntry(request.id))?.dueAt).toBeUndefined()
        expect(await isListedOpen(s, request.id)).toBe(true)
      })

      test("when a run's relist due later, sent while its lease held, lands after another run took the request past that lease, closed it and unlisted it, then it stays unlisted", async (s) => {
        const eraseAt = new Date(Date.now() + 3600 * SECOND)
        // Long enough for the create and the relist's send; the case waits it out.
        const heldUntil = new Date(Date.now() + SECOND)
        const request = await created(s, { plan: 'soft', schedule: { plan: 'sunbird', eraseAt } }, heldUntil)
        const held = s.withFencedRelistsHeld()
        const stalled = held.store.relist(request, eraseAt, heldUntil)
        await held.reached
        await waitUntil("the run's lease to run out", () => Date.now() > heldUntil.getTime(), { intervalMs: 20 })
        const now = new Date()
        const taken = new Date(now.getTime() + 30 * SECOND)
        expect(await s.store.acquireLease(request.id, now, taken)).toBe(true)
        await s.store.finish(request.id, 'cancelled', {}, taken)
        await s.store.unlist(request.id, taken)
        await s.store.releaseLease(request.id, taken)

        held.land()
        await stalled

        expect(await s.store.isClosed(request.id)).toBe(true)
        expect(await s.store.isListed(request.id)).toBe(false)
        expect(await s.store.openEntry(request.id)).toBeUndefined()
      })

      test('when a run unlists its finished request under the lease it holds, then it is unlisted; past that lease, once a cancel took the request and listed it, the unlist writes nothing', async (s) => {
        const heldUntil = held()
        const within = await created(s, { plan: 'soft' }, heldUntil)
        await s.store.finish(within.id, 'completed', {}, heldUntil)
        const lapsed = new Date(Date.now() - SECOND)
        const past = await created(s, { plan: 'soft' }, lapsed)
        await s.store.finish(past.id, 'completed', {}, lapsed)
        const now = new Date()
        expect(await s.store.acquireLease(past.id, now, new Date(now.getTime() + 30 * SECOND))).toBe(true)
        await s.store.relist(past)

        await s.store.unlist(within.id, heldUntil)
        await s.store.unlist(past.id, lapsed)

        expect(await s.store.isListed(within.id)).toBe(false)
        expect(await s.store.isListed(past.id)).toBe(true)
      })

      test("when a run's unlist, sent while its lease held, lands after a cancel took the request past that lease and listed it, then the request stays listed", async (s) => {
        // Long enough for the create, the finish and the unlist's send; the case waits it out.
        const heldUntil = new Date(Date.now() + SECOND)
        const request = await created(s, { plan: 'soft' }, heldUntil)
        await s.store.finish(request.id, 'completed', {}, heldUntil)
        const held = s.withFencedUnlistsHeld()
        const stalled = held.store.unlist(request.id, heldUntil)
        await held.reached
        await waitUntil("the run's lease to run out", () => Date.now() > heldUntil.getTime(), { intervalMs: 20 })
        const now = new Date()
        expect(await s.store.acquireLease(request.id, now, new Date(now.getTime() + 30 * SECOND))).toBe(true)
        await s.store.relist(request)

        held.land()
        await stalled

        expect(await s.store.isListed(request.id)).toBe(true)
      })

      test('when a cancel reopens a request naming its caller, then the caller reads back as cancelledBy, and a reopen naming none keeps it; a request never reopened has none', async (s) => {
        const request = await created(s, { plan: 'soft' })
        await s.store.finish(request.id, 'completed', {}, held())
        const canceller = randomUUID()

        await s.store.reopen({ ...request, cancelledBy: canceller }, 'cancelling')
        expect(await s.store.get(request.id)).toMatchObject({ state: 'cancelling', cancelledBy: canceller })
        await s.store.reopen(request, 'cancelling')

        expect((await s.store.get(request.id))?.cancelledBy).toBe(canceller)
        expect((await s.store.get((await created(s)).id))?.cancelledBy).toBeUndefined()
        expect(await s.store.findByUser(request.userId, 10)).toEqual([expect.objectContaining({ id: request.id, cancelledBy: canceller })])
      })

      test('when a cancel names its caller on a completed request, then the caller reads back as cancelledBy and nothing else of it changes: its state, its time, its listing', async (s) => {
        const request = await created(s, { plan: 'soft' })
        const until = held()
        await s.store.finish(request.id, 'completed', {}, until)
        await s.store.unlist(request.id)
        const finished = await s.store.get(request.id)
        const canceller = randomUUID()

        await s.store.nameCanceller(request.id, canceller, until)

        expect(await s.store.get(request.id)).toEqual({ ...finished, cancelledBy: canceller })
        expect(await s.store.isListed(request.id)).toBe(false)
      })

      test('when a step keeps restore facts, ids and its plan, then they read back as recorded', async (s) => {
        const request = await created(s, { plan: 'soft' })
        const outcome: StepOutcome = { ...done('locked', new Date('2024-05-20T10:09:00.000Z')), plan: 'soft', restore: { status: 0, isDeleted: false }, ids: ['a', 'b'] }

        await s.store.recordSteps(request.id, { lock: outcome }, 'in_progress', held())

        expect((await s.store.get(request.id))?.steps.lock).toEqual(outcome)
      })
    })

    describe('findByUser', () => {
      test('when a user has several requests, then they are answered newest first, up to the limit, and only theirs', async (s) => {
        const userId = randomUUID()
        const base = Date.now() - 60 * SECOND
        const at = (offset: number) => new Date(base + offset * SECOND)
        const middle = await created(s, { userId, createdAt: at(2), updatedAt: at(2) })
        const oldest = await created(s, { userId, createdAt: at(1), updatedAt: at(1) })
        const newest = await created(s, { userId, createdAt: at(3), updatedAt: at(3) })
        await created(s)

        expect((await s.store.findByUser(userId, 10)).map((request) => request.id)).toEqual([newest.id, middle.id, oldest.id])
        expect((await s.store.findByUser(userId, 2)).map((request) => request.id)).toEqual([newest.id, middle.id])
        expect(await s.store.findByUser(randomUUID(), 10)).toEqual([])
      })

      test('when requests are found by user, then each reads back as get answers it', async (s) => {
        const request = await created(s)
        await s.store.recordSteps(request.id, { lock: done('locked', new Date('2024-05-20T10:09:00.000Z')) }, 'in_progress', held())

        expect(await s.store.findByUser(request.userId, 10)).toEqual([await s.store.get(request.id)])
      })
    })
  })
}
