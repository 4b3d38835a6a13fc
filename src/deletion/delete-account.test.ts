import { describe, expect, it, vi } from 'vitest'
import { WORLD_GRACE_DAY_MS, WORLD_LEASE_MS, WORLD_NOW, deletionWorld } from '../../test/support/fakes/deletion-world.js'
import type { SeedUser } from '../../test/support/fakes/in-memory-user-store.js'
import { batchRequestId } from './batch-job.js'
import { cancelDeletion } from './cancel-deletion.js'
import type { Caller } from './caller.js'
import { type DeletionInput, deleteAccount } from './delete-account.js'
import { DeletionWithdrawnError, DependencyUnavailableError, NotPermittedError, RequestAlreadyOpenedError, UserAlreadyDeletedError, UserNotFoundError } from './errors.js'
import { FencePassedError } from './lease.js'
import { resumeDeletion, resumeOpenDeletions } from './run-deletion.js'
import { encryptAsSunbird } from '../../test/support/sunbird-encryption.js'

const TARGET = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const ADMIN = 'a0a0a0a0-1111-4222-8333-444455556666'
const STRANGER = 'c0c0c0c0-1111-4222-8333-444455556666'
const CHILD = 'd1d1d1d1-1111-4222-8333-444455556666'
const ORG = 'org-1'

const self = (): Caller => ({ consumer: 'portal', userId: TARGET, roles: [] })
const orgAdmin = (): Caller => ({ consumer: 'portal', userId: ADMIN, roles: [{ role: 'ORG_ADMIN', organisationIds: [ORG] }] })
const stranger = (): Caller => ({ consumer: 'portal', userId: STRANGER, roles: [] })

const activeUser = (overrides: Partial<SeedUser> = {}): SeedUser => ({ id: TARGET, rootOrgId: ORG, organisationIds: [ORG], lookups: 3, externalIdentities: 1, ...overrides })

let counter = 0
const ask = (fields: Partial<DeletionInput> = {}, caller: Caller = self()): DeletionInput => ({ requestId: `req-${++counter}`, userId: TARGET, caller, ...fields })

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  )
}

type Mode = 'soft' | 'hard' | 'none'
const fields = (mode: Mode): Partial<DeletionInput> => (mode === 'none' ? {} : { mode })

/** A user in the state a first request of this mode leaves them in. */
async function userAfter(first: Mode) {
  const w = deletionWorld({ seed: [activeUser()] })
  await deleteAccount(w.deps, ask(fields(first)))
  return w
}

describe('deleteAccount, the repeat rules (seed 003)', () => {
  const table: [request: Mode, after: Mode, expected: 'deleted' | typeof UserAlreadyDeletedError | typeof UserNotFoundError][] = [
    ['soft', 'soft', UserAlreadyDeletedError],
    ['soft', 'hard', UserNotFoundError],
    ['soft', 'none', UserNotFoundError],
    ['hard', 'soft', 'deleted'],
    ['hard', 'hard', UserNotFoundError],
    ['hard', 'none', 'deleted'],
    ['none', 'soft', UserAlreadyDeletedError],
    ['none', 'hard', UserAlreadyDeletedError],
    ['none', 'none', UserAlreadyDeletedError],
  ]

  it.each(table)('when a %s request meets a user deleted by a %s request, then it answers as the table says', async (request, after, expected) => {
    // Arrange
    const w = await userAfter(after)

    // Act: the rules are for callers past the lock-out (the user's own token is refused once deleted: see below).
    const outcome = await deleteAccount(w.deps, ask(fields(request), orgAdmin())).catch((err: unknown) => err)

    // Assert
    if (expected === 'deleted') {
      expect(outcome).toMatchObject({ kind: 'deleted', mode: 'hard' })
      expect(w.states.peek(TARGET)).toMatchObject({ mode: 'hard' })
      expect(w.users.remainingRoles(TARGET)).toEqual([])
    } else {
      expect(outcome).toBeInstanceOf(expected)
    }
  })

  it('when an ORG_ADMIN of the organisation asks about a hard-deleted user, then the existence rules answer (the tombstone names no organisation), not a 403', async () => {
    const w = await userAfter('hard')

    expect(await failureOf(deleteAccount(w.deps, ask({ mode: 'hard' }, orgAdmin())))).toBeInstanceOf(UserNotFoundError)
    expect(await failureOf(deleteAccount(w.deps, ask({}, orgAdmin())))).toBeInstanceOf(UserAlreadyDeletedError)
  })

  it.each([{ mode: 'soft' as const }, { mode: 'hard' as const }, { mode: 'hard' as const, dryRun: true }])(
    'when a caller who could be allowed for nobody names a hard-deleted user with %o, then NotPermitted, as for an unknown id: no 404 tells them it was a user',
    async (options) => {
      const w = await userAfter('hard')
      const unknown = deletionWorld({ seed: [] })

      expect(await failureOf(deleteAccount(w.deps, ask(options, stranger())))).toBeInstanceOf(NotPermittedError)
      expect(await failureOf(deleteAccount(unknown.deps, ask(options, stranger())))).toBeInstanceOf(NotPermittedError)
    },
  )

  it('when a stranger asks for a soft deletion of an active user, then NotPermitted and nothing is written', async () => {
    const w = deletionWorld({ seed: [activeUser()] })

    expect(await failureOf(deleteAccount(w.deps, ask({ mode: 'soft' }, stranger())))).toBeInstanceOf(NotPermittedError)
    expect(w.timeline.writes()).toEqual([])
  })

  it('when two hard deletions race on a soft-deleted user, then exactly one wins and the other answers 404', async () => {
    const w = await userAfter('soft')

    const outcomes = await Promise.all([
      deleteAccount(w.deps, ask({ mode: 'hard' }, orgAdmin())).catch((err: unknown) => err),
      deleteAccount(w.deps, ask({ mode: 'hard' }, orgAdmin())).catch((err: unknown) => err),
    ])

    expect(outcomes.filter((outcome) => outcome instanceof UserNotFoundError)).toHaveLength(1)
    expect(outcomes.filter((outcome) => (outcome as { kind?: string }).kind === 'deleted')).toHaveLength(1)
  })

  it('when a soft and a Sunbird deletion race on an active user, then exactly one locks it and the loser answers by the rules', async () => {
    const w = deletionWorld({ seed: [activeUser()] })

    const [soft, plain] = await Promise.all([
      deleteAccount(w.deps, ask({ mode: 'soft' }, orgAdmin())).catch((err: unknown) => err),
      deleteAccount(w.deps, ask({}, orgAdmin())).catch((err: unknown) => err),
    ])

    const winners = [soft, plain].filter((outcome) => (outcome as { kind?: string }).kind === 'deleted')
    expect(winners).toHaveLength(1)
    if (winners[0] === soft) expect(plain).toBeInstanceOf(UserAlreadyDeletedError)
    else expect(soft).toBeInstanceOf(UserNotFoundError)
    expect(w.users.callCount('markDeleted')).toBeGreaterThanOrEqual(1)
  })
})

describe('deleteAccount, a request id derived from a batch job and its user', () => {
  it('when two runners of one batch item race, then one request is opened and deletes the user; the other is refused as opened already and opens none', async () => {
    const w = deletionWorld({ seed: [activeUser()] })
    const item = ask({ requestId: 'batch-job-1-user', requestIdChosenBy: 'derived' }, orgAdmin())

    const outcomes = await Promise.all([deleteAccount(w.deps, item).catch((err: unknown) => err), deleteAccount(w.deps, item).catch((err: unknown) => err)])

    expect(outcomes.filter((outcome) => (outcome as { kind?: string }).kind === 'deleted')).toHaveLength(1)
    expect(outcomes.filter((outcome) => outcome instanceof RequestAlreadyOpenedError)).toEqual([expect.objectContaining({ requestId: 'batch-job-1-user' })])
    expect(w.requests.all().map((request) => [request.id, request.state])).toEqual([['batch-job-1-user', 'completed']])
    expect(w.audit.records.filter((record) => record.event === 'deletion.accepted')).toHaveLength(1)
  })

  describe('fenced by the slice lease (an item no earlier try can have opened)', () => {
    const ITEM_ID = 'batch-job-1-user'
    // A slice lease that ends before a request's own lease would.
    const FENCE = new Date(WORLD_NOW.getTime() + WORLD_LEASE_MS / 3)
    const fencedItem = (fields: Partial<DeletionInput> = {}) => ask({ requestId: ITEM_ID, requestIdChosenBy: 'derived', fencedBy: FENCE, ...fields }, orgAdmin())
    const events = (w: ReturnType<typeof deletionWorld>) => w.audit.records.map((record) => record.event)

    it.each([{}, { mode: 'hard' as const }])(
      'when it is deleted (%o), then its request is created by the fenced create, not the compare-and-set, its lease ending by the fence, and the deletion goes on as any',
      async (mode) => {
        const w = deletionWorld({ seed: [activeUser()] })

        await deleteAccount(w.deps, fencedItem(mode))

        expect(w.timeline.count('requests.create')).toBe(0)
        expect(w.requests.created).toEqual([expect.objectContaining({ leaseUntil: FENCE, fence: FENCE, applied: true })])
        expect(w.requests.peek(ITEM_ID)).toMatchObject({ state: 'completed' })
        expect(events(w)).toEqual(['deletion.accepted', 'deletion.completed'])
      },
    )

    it('when its run outlasts that lease and nobody took the request meanwhile, then its writes still land and it completes', async () => {
      const w = deletionWorld({
        seed: [activeUser()],
        afterStep: (step) => {
          if (step === 'accept') w.clock.advance(WORLD_LEASE_MS)
        },
      })

      await deleteAccount(w.deps, fencedItem())

      expect(w.requests.peek(ITEM_ID)).toMatchObject({ state: 'completed' })
      expect(events(w)).toEqual(['deletion.accepted', 'deletion.completed'])
    })

    it('when its run stalls past that lease and another runner takes the request over, then the stalled run records nothing more, and the request is finished once, by the taker', async () => {
      const takerUntil = new Date(FENCE.getTime() + 1 + WORLD_LEASE_MS)
      const w = deletionWorld({
        seed: [activeUser()],
        afterStep: (step) => {
          if (step !== 'accept') return
          w.clock.set(new Date(FENCE.getTime() + 1))
          // The taker's compare-and-set on the lease (the fake's lands at once).
          void w.requests.acquireLease(ITEM_ID, w.clock.now(), takerUntil)
        },
      })

      await deleteAccount(w.deps, fencedItem())
      expect(w.requests.peek(ITEM_ID)).toMatchObject({ state: 'accepted', steps: {} })
      w.clock.set(new Date(takerUntil.getTime() + 1))
      expect(await resumeDeletion(w.deps, ITEM_ID)).toBe('completed')

      expect(events(w)).toEqual(['deletion.accepted', 'deletion.completed'])
    })

    it("when the create's answer comes only after the fence, then FencePassedError: nothing audited, the user not locked; the request, its lease ended with the fence, is finished by whoever resumes it", async () => {
      const w = deletionWorld({ seed: [activeUser()] })
      const held = w.requests.holdFencedCreates()
      const stalled = failureOf(deleteAccount(w.deps, fencedItem()))
      await held.reached
      w.clock.set(FENCE)
      held.land()

      expect(await stalled).toBeInstanceOf(FencePassedError)

      expect(events(w)).toEqual([])
      expect(w.users.callCount('markDeleted')).toBe(0)
      expect(w.requests.leaseOf(ITEM_ID)).toEqual(FENCE)
      w.clock.advance(1)
      expect(await resumeDeletion(w.deps, ITEM_ID)).toBe('completed')
      expect(events(w)).toEqual(['deletion.completed'])
    })

    it('when the fence has passed before the create, then FencePassedError, and nothing is written', async () => {
      const w = deletionWorld({ seed: [activeUser()] })
      w.clock.set(FENCE)

      expect(await failureOf(deleteAccount(w.deps, fencedItem()))).toBeInstanceOf(FencePassedError)

      expect(w.requests.all()).toEqual([])
      expect(w.requests.isOpen(ITEM_ID)).toBe(false)
      expect(events(w)).toEqual([])
      expect(w.users.callCount('markDeleted')).toBe(0)
    })

    it.each([{}, { mode: 'hard' as const }])(
      'when a create by compare-and-set (an id an earlier try may have opened) is begun only after the lease it is sent within, then FencePassedError, and nothing is written (%o)',
      async (fields) => {
        const w = deletionWorld({ seed: [activeUser()] })
        const { fencedBy: _fence, ...item } = fencedItem({ sentWithin: FENCE, ...fields })
        w.clock.set(FENCE)

        expect(await failureOf(deleteAccount(w.deps, item))).toBeInstanceOf(FencePassedError)

        expect(w.requests.all()).toEqual([])
        expect(events(w)).toEqual([])
        expect(w.users.callCount('markDeleted')).toBe(0)
        // Within it, the create goes on as always.
        w.clock.set(WORLD_NOW)
        await deleteAccount(w.deps, item)
        expect(w.requests.peek(ITEM_ID)).toMatchObject({ state: 'completed' })
      },
    )
  })

  describe('withdrawn by its caller right before the create (a batch job cancelled while its deletion was reading)', () => {
    const ITEM_ID = 'batch-job-1-user'
    const FENCE = new Date(WORLD_NOW.getTime() + WORLD_LEASE_MS / 3)

    it.each([
      ['fenced, Sunbird’s deletion', { fencedBy: FENCE }],
      ['fenced, a hard deletion', { fencedBy: FENCE, mode: 'hard' as const }],
      ['by compare-and-set, Sunbird’s deletion', { sentWithin: FENCE }],
      ['by compare-and-set, a hard deletion', { sentWithin: FENCE, mode: 'hard' as const }],
    ])('when mayBegin answers false (%s), then DeletionWithdrawnError and nothing is written; it is asked once the deletion’s reads are done', async (_case, fields) => {
      const w = deletionWorld({ seed: [activeUser()] })
      const readsBefore: number[] = []
      const mayBegin = async () => {
        readsBefore.push(w.users.callCount('findRoles'))
        return false
      }

      expect(await failureOf(deleteAccount(w.deps, ask({ requestId: ITEM_ID, requestIdChosenBy: 'derived', mayBegin, ...fields }, orgAdmin())))).toBeInstanceOf(DeletionWithdrawnError)

      expect(readsBefore).toEqual([1])
      expect(w.requests.all()).toEqual([])
      expect(w.requests.isOpen(ITEM_ID)).toBe(false)
      expect(w.audit.records).toEqual([])
      expect(w.users.callCount('markDeleted')).toBe(0)
    })

    it('when mayBegin answers true, then the deletion goes on as any', async () => {
      const w = deletionWorld({ seed: [activeUser()] })

      await deleteAccount(w.deps, ask({ requestId: ITEM_ID, requestIdChosenBy: 'derived', fencedBy: FENCE, mayBegin: async () => true }, orgAdmin()))

      expect(w.requests.peek(ITEM_ID)).toMatchObject({ state: 'completed' })
    })
  })

  it("when a caller's own id clashes, then the request gets an id of the service's, as Sunbird's callers have always had it", async () => {
    const w = deletionWorld({ seed: [activeUser(), activeUser({ id: STRANGER })] })
    await deleteAccount(w.deps, { ...ask({ requestId: 'reused-msgid' }, orgAdmin()), userId: STRANGER })

    await deleteAccount(w.deps, ask({ requestId: 'reused-msgid' }, orgAdmin()))

    expect(w.requests.all().filter((request) => request.userId === TARGET && request.state === 'completed')).toHaveLength(1)
    expect(w.requests.all().find((request) => request.userId === TARGET)?.id).not.toBe('reused-msgid')
  })

  it("when a caller's own id has the shape of a batch item's, then the request gets an id of the service's before any write, since the batch creates such ids without a compare-and-set", async () => {
    const batchShaped = batchRequestId('job-of-someone', TARGET)
    const w = deletionWorld({ seed: [activeUser()] })

    await deleteAccount(w.deps, ask({ requestId: batchShaped }, orgAdmin()))

    expect(w.requests.created.map((call) => call.idChosenBy)).toEqual(['service'])
    expect(w.requests.peek(batchShaped)).toBeUndefined()
    expect(w.requests.all()).toEqual([expect.objectContaining({ userId: TARGET, state: 'completed' })])
  })
})

describe('deleteAccount, soft', () => {
  it('when a user is soft-deleted, then they are locked out, the account disabled not removed, everything kept, no event, and the lock-out told it is restorable', async () => {
    const w = deletionWorld({ seed: [activeUser()] })

    const outcome = await deleteAccount(w.deps, ask({ mode: 'soft' }))

    expect(outcome).toMatchObject({ kind: 'deleted', mode: 'soft' })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true, rootOrgId: ORG })
    expect(w.identity.hasAccount(TARGET)).toBe(true)
    expect(w.identity.isDisabled(TARGET)).toBe(true)
    expect(w.users.remainingLookups(TARGET)).toBe(3)
    expect(w.users.remainingExternalIdentities(TARGET)).toBe(1)
    expect(w.users.activeMemberships(TARGET)).toEqual([ORG])
    expect(w.outbox.appends).toEqual([])
    expect(w.listener.restorable).toEqual([TARGET])
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'soft' })
    const [request] = w.requests.all()
    expect(request).toMatchObject({ state: 'completed', plan: 'soft' })
    expect(request?.receipt?.stores.map(({ store, action }) => `${store}: ${action}`)).toEqual([
      'cassandra.user (status): locked',
      'keycloak: disabled',
      'cassandra.otp: deleted',
      'cassandra.rate_limit: deleted',
      'cassandra.user_lookup: kept',
      'cassandra.usr_external_identity: kept',
      'cassandra.user_organisation: kept',
      'cassandra.user_declarations: kept',
      'cassandra.user_consent: kept',
      'cassandra.user_notes: kept',
      'search.usernotes: kept',
      'cassandra.shadow_user: kept',
      'cassandra.user_feed: kept',
      'cassandra.user_cert: kept',
      'cassandra.address: kept',
      'cassandra.user (profile): kept',
      'search.user_alias: absent',
      'search.user_alias (addedByName): kept',
      'cassandra.user_organisation (addedbyname): kept',
      'redis.user: deleted',
      'cassandra.user (managed users): kept',
      'kafka (delete.user topic): not-sent',
      'cassandra.user_roles: kept',
      'downstream.ml: kept',
      'downstream.knowlg: kept',
      'cassandra.bulk_upload_process: not reachable by user id',
      'cassandra.user_deletion_audit: appended',
    ])
  })
})

describe('deleteAccount, hard', () => {
  it('when a user is hard-deleted, then what Sunbird keeps goes too: lookups, identities, memberships, roles, the account, a tombstone row, and the managed users the same way', async () => {
    const w = deletionWorld({ seed: [activeUser({ roles: ['PUBLIC'] }), { id: CHILD, managedBy: TARGET, lookups: 2, organisationIds: [ORG] }] })

    await deleteAccount(w.deps, ask({ mode: 'hard' }))

    for (const id of [TARGET, CHILD]) {
      expect(w.users.snapshot(id)).toEqual({ id, status: 2, isDeleted: true, rootOrgId: null, managedBy: null })
      expect(w.users.remainingLookups(id)).toBe(0)
      expect(w.users.remainingRoles(id)).toEqual([])
      expect(w.users.remainingMemberships(id)).toBe(0)
      expect(w.identity.hasAccount(id)).toBe(false)
      expect(w.states.peek(id)).toMatchObject({ mode: 'hard' })
    }
    const [request] = w.requests.all().filter((r) => r.userId === TARGET)
    expect(request?.state).toBe('completed')
    // The event still names the managed users, though the tombstones no longer point at the parent.
    expect(w.outbox.eventOf(request?.id ?? '')?.edata).toMatchObject({ userId: TARGET, managed_users: [CHILD], organisationId: ORG })
  })
})

describe('deleteAccount, grace period', () => {
  it('when a grace period is asked, then the user is soft-deleted now and erased by the sweeper once the period ends, with the event then', async () => {
    const w = deletionWorld({ seed: [activeUser()] })

    const outcome = await deleteAccount(w.deps, ask({ gracePeriodDays: 2 }))

    const eraseAt = new Date(w.clock.now().getTime() + 2 * WORLD_GRACE_DAY_MS)
    expect(outcome).toMatchObject({ kind: 'scheduled', mode: 'default', eraseAt })
    expect(w.requests.all()[0]).toMatchObject({ state: 'scheduled', plan: 'soft', schedule: { plan: 'sunbird', eraseAt } })
    expect(w.outbox.appends).toEqual([])

    // Before the end: the sweeper leaves it alone.
    w.clock.advance(2 * WORLD_GRACE_DAY_MS - 1000)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 0 })
    expect(w.users.remainingLookups(TARGET)).toBe(3)

    // After it: Sunbird's deletion, the account removed, the event queued.
    w.clock.advance(2000)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, completed: 1 })
    expect(w.users.remainingLookups(TARGET)).toBe(0)
    expect(w.identity.hasAccount(TARGET)).toBe(false)
    expect(w.outbox.appends).toHaveLength(1)
    expect(w.requests.all()[0]).toMatchObject({ state: 'completed', plan: 'sunbird' })
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'sunbird' })
    expect(w.requests.isOpen(w.requests.all()[0]?.id ?? '')).toBe(false)
  })

  it('when the sweeper’s change of the hold settles as not applied though nobody else holds the user (a compare-and-set that timed out in contention), then the erasure still happens', async () => {
    const w = deletionWorld({ seed: [activeUser()] })
    await deleteAccount(w.deps, ask({ gracePeriodDays: 1 }))
    const swap = w.states.swap.bind(w.states)
    let unapplied = 0
    w.states.swap = async (userId, expected, next) => {
      if (expected?.mode === 'soft' && next?.mode === 'sunbird' && unapplied < 2) {
        unapplied++
        return false
      }
      return swap(userId, expected, next)
    }

    w.clock.advance(WORLD_GRACE_DAY_MS)
    await resumeOpenDeletions(w.deps)

    expect(w.requests.all()[0]).toMatchObject({ state: 'completed', plan: 'sunbird' })
    expect(w.users.remainingLookups(TARGET)).toBe(0)
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'sunbird' })
  })

  it('when the hold keeps settling as not applied, then the request stays scheduled for the next pass rather than ending superseded', async () => {
    const w = deletionWorld({ seed: [activeUser()] })
    await deleteAccount(w.deps, ask({ gracePeriodDays: 1 }))
    const swap = w.states.swap.bind(w.states)
    w.states.swap = async (userId, expected, next) => (expected?.mode === 'soft' && next?.mode === 'sunbird' ? false : swap(userId, expected, next))

    w.clock.advance(WORLD_GRACE_DAY_MS)
    await resumeOpenDeletions(w.deps)

    expect(w.requests.all()[0]).toMatchObject({ state: 'scheduled' })
    expect(w.requests.isOpen(w.requests.all()[0]?.id ?? '')).toBe(true)
    w.states.swap = swap
    await resumeOpenDeletions(w.deps)
    expect(w.requests.all()[0]).toMatchObject({ state: 'completed', plan: 'sunbird' })
  })

  it('when a grace period ends in a hard deletion, then the sweeper leaves a tombstone', async () => {
    const w = deletionWorld({ seed: [activeUser()] })
    await deleteAccount(w.deps, ask({ mode: 'hard', gracePeriodDays: 1 }))

    w.clock.advance(WORLD_GRACE_DAY_MS)
    await resumeOpenDeletions(w.deps)

    expect(w.users.snapshot(TARGET)).toEqual({ id: TARGET, status: 2, isDeleted: true, rootOrgId: null, managedBy: null })
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'hard' })
  })

  it('when the scheduled deletion is cancelled, then the erasure never happens', async () => {
    const w = deletionWorld({ seed: [activeUser()] })
    await deleteAccount(w.deps, ask({ gracePeriodDays: 1 }))

    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })
    w.clock.advance(2 * WORLD_GRACE_DAY_MS)
    await resumeOpenDeletions(w.deps)

    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(w.users.remainingLookups(TARGET)).toBe(3)
    expect(w.identity.isDisabled(TARGET)).toBe(false)
    expect(w.requests.all()[0]?.state).toBe('cancelled')
    expect(w.outbox.appends).toEqual([])
  })

  it('when a hard deletion meets a user in a grace period, then 0008 (a grace period needs an active user); a hard deletion without one takes over, and the earlier schedule is superseded', async () => {
    const w = deletionWorld({ seed: [activeUser()] })
    await deleteAccount(w.deps, ask({ gracePeriodDays: 5 }))

    expect(await failureOf(deleteAccount(w.deps, ask({ mode: 'hard', gracePeriodDays: 1 })))).toBeInstanceOf(UserAlreadyDeletedError)
    await deleteAccount(w.deps, ask({ mode: 'hard' }))

    const scheduled = w.requests.all().find((request) => request.schedule)
    expect(scheduled).toMatchObject({ state: 'failed', reason: 'superseded' })
    w.clock.advance(10 * WORLD_GRACE_DAY_MS)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 0 })
  })
})

describe('deleteAccount, dry run', () => {
  it.each([
    ['soft', { mode: 'soft' }, { lookups: 'keep', keycloak: 'disable', event: 'none', profile: 'keep' }],
    ['hard', { mode: 'hard' }, { lookups: 'delete', keycloak: 'delete', event: 'publish', profile: 'tombstone' }],
    ['default', {}, { lookups: 'delete', keycloak: 'delete', event: 'publish', profile: 'scrub' }],
  ] as const)('when a %s deletion is previewed, then every store is listed with what would happen, and nothing is written', async (mode, options, expected) => {
    const w = deletionWorld({ seed: [activeUser()] })

    const outcome = await deleteAccount(w.deps, ask({ ...options, dryRun: true }))

    expect(w.timeline.writes()).toEqual([])
    expect(w.requests.all()).toEqual([])
    expect(outcome).toMatchObject({ kind: 'dry-run', mode })
    if (outcome.kind !== 'dry-run') throw new Error('not a dry run')
    const action = (store: string) => outcome.plan.find((entry) => entry.store === store)?.action
    expect(outcome.plan.filter((entry) => entry.store.startsWith('cassandra.user_lookup (')).map((entry) => entry.action)).toEqual([expected.lookups, expected.lookups, expected.lookups])
    expect(action('keycloak')).toBe(expected.keycloak)
    expect(action('kafka (delete.user topic)')).toBe(expected.event)
    expect(action('cassandra.user (profile)')).toBe(expected.profile)
    expect(outcome.plan.find((entry) => entry.store === 'cassandra.usr_external_identity')?.count).toBe(1)
  })

  it("when a dry run reads contacts the encryption key does not decrypt (the person's and a managed user's), then it tells it once for its call, with counts only, as a deletion does; one whose contacts all decrypt tells nothing", async () => {
    const key = 'a-deployment-encryption-key'
    const w = deletionWorld({
      seed: [
        activeUser({ profile: { email: encryptAsSunbird('asha@example.org', key), phone: encryptAsSunbird('9876543210', 'another-deployments-key'), recoveryemail: 'parent@example.org' } }),
        { id: CHILD, managedBy: TARGET, profile: { email: encryptAsSunbird('ravi@example.org', 'another-deployments-key') } },
      ],
      sunbirdEncryptionKey: key,
    })
    const told: [string, number, number][] = []
    w.deps.onContactsNotDecrypted = (requestId, notDecrypted, contacts) => told.push([requestId, notDecrypted, contacts])

    await deleteAccount(w.deps, ask({ mode: 'hard', dryRun: true, requestId: 'dry-run-1' }))
    const clean = deletionWorld({ seed: [activeUser({ profile: { email: encryptAsSunbird('asha@example.org', key) } })], sunbirdEncryptionKey: key })
    clean.deps.onContactsNotDecrypted = (requestId, notDecrypted, contacts) => told.push([requestId, notDecrypted, contacts])
    await deleteAccount(clean.deps, ask({ dryRun: true, requestId: 'dry-run-2' }))

    expect(told).toEqual([['dry-run-1', 3, 4]])
  })

  it('when a dry run meets what a real call would refuse, then it answers the same error, and writes nothing', async () => {
    const w = await userAfter('soft')
    w.timeline.clear()

    expect(await failureOf(deleteAccount(w.deps, ask({ mode: 'soft', dryRun: true })))).toBeInstanceOf(UserAlreadyDeletedError)
    expect(await failureOf(deleteAccount(w.deps, ask({ dryRun: true })))).toBeInstanceOf(UserAlreadyDeletedError)
    expect(w.timeline.writes()).toEqual([])
  })
})

describe('cancelDeletion', () => {
  it('when a soft deletion is cancelled, then the row, the account and the lock-out are as before, and the request is cancelled and audited', async () => {
    const w = await userAfter('soft')

    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(w.identity.isDisabled(TARGET)).toBe(false)
    expect(w.listener.restored).toEqual([TARGET])
    expect(w.states.peek(TARGET)).toBeUndefined()
    const [request] = w.requests.all()
    expect(request?.state).toBe('cancelled')
    expect(w.audit.eventsOf(request?.id ?? '')).toContain('deletion.cancelled')
  })

  it('when Keycloak is down during a cancel, then 503, the user stays locked out, and the sweeper finishes the cancel once it is back', async () => {
    const w = await userAfter('soft')
    w.identity.goDown()

    expect(await failureOf(cancelDeletion(w.deps, { userId: TARGET, caller: self() }))).toBeInstanceOf(DependencyUnavailableError)
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
    expect(w.requests.all()[0]?.state).toBe('cancelling')

    w.identity.comeBack()
    await resumeOpenDeletions(w.deps)

    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(w.requests.all()[0]?.state).toBe('cancelled')
  })

  it('when a runner holds the soft deletion (the sweeper retrying its Keycloak step), then the cancel changes nothing and answers unavailable, and succeeds once the runner is through', async () => {
    const w = await userAfter('soft')
    const [request] = w.requests.all()
    await w.requests.acquireLease(request?.id ?? '', w.clock.now(), new Date(w.clock.now().getTime() + 30_000))
    w.timeline.clear()

    expect(await failureOf(cancelDeletion(w.deps, { userId: TARGET, caller: self() }))).toBeInstanceOf(DependencyUnavailableError)
    expect(w.timeline.writes()).toEqual(['requests.acquireLease'])
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'soft' })

    await w.requests.releaseLease(request?.id ?? '')
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
  })

  it('when a cancel stalls past its lease after taking the hold and another cancel finishes meanwhile, then the stalled one reopens nothing and audits no second cancel', async () => {
    // The first cancel moves the hold to `restoring`, then stalls past its lease; a second cancel
    // takes the request over and finishes the undoing. The first then comes back to reopen.
    const w = await userAfter('soft')
    const swap = w.states.swap.bind(w.states)
    let stalled: { goOn(): void } | undefined
    w.states.swap = async (userId, expected, next) => {
      const applied = await swap(userId, expected, next)
      if (next?.mode === 'restoring' && !stalled) await new Promise<void>((resolve) => (stalled = { goOn: resolve }))
      return applied
    }
    const first = failureOf(cancelDeletion(w.deps, { userId: TARGET, caller: self() }))
    await vi.waitFor(() => expect(stalled).toBeDefined())

    w.clock.advance(WORLD_LEASE_MS + 1)
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })
    const [finished] = w.requests.all()
    stalled?.goOn()

    expect(await first).toBeInstanceOf(DependencyUnavailableError)
    const [request] = w.requests.all()
    expect(request).toEqual(finished)
    expect(request?.state).toBe('cancelled')
    expect(await w.requests.listOpen(10)).toEqual([])
    expect(w.audit.eventsOf(request?.id ?? '').filter((event) => event === 'deletion.cancelled')).toHaveLength(1)
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
  })

  it('when a cancel dies after taking the hold, before recording itself, then the hard deletion that meets the hold records and finishes that cancel once, and deletes', async () => {
    const w = await userAfter('soft')
    const [soft] = w.requests.all()
    const swap = w.states.swap.bind(w.states)
    let died = false
    w.states.swap = async (userId, expected, next) => {
      const applied = await swap(userId, expected, next)
      if (next?.mode === 'restoring' && !died) {
        died = true
        throw new Error('the process died here')
      }
      return applied
    }
    await failureOf(cancelDeletion(w.deps, { userId: TARGET, caller: self() }))
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'restoring' })

    await deleteAccount(w.deps, ask({ mode: 'hard' }))

    expect(w.requests.peek(soft?.id ?? '')?.state).toBe('cancelled')
    expect(w.audit.eventsOf(soft?.id ?? '').filter((event) => event === 'deletion.cancelled')).toHaveLength(1)
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'hard' })
  })

  it('when the user was blocked (status 0) before the soft deletion, then the cancel puts back 0, not 1', async () => {
    const w = deletionWorld({ seed: [activeUser({ status: 0 })] })
    await deleteAccount(w.deps, ask({ mode: 'soft' }))

    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 0, isDeleted: false })
  })

  it.each([
    ['not deleted', async () => deletionWorld({ seed: [activeUser()] }), 'UserNotDeletedError'],
    ['erased by a Sunbird deletion', () => userAfter('none'), 'UserErasedError'],
    ['hard-deleted', () => userAfter('hard'), 'UserNotFoundError'],
  ] as const)('when the user is %s, then the cancel is refused with its own error and nothing changes', async (_state, arrange, errorName) => {
    const w = await arrange()
    w.timeline.clear()

    const error = await failureOf(cancelDeletion(w.deps, { userId: TARGET, caller: self() }))

    expect((error as Error).name).toBe(errorName)
    expect(w.timeline.writes()).toEqual([])
  })
})

describe('deleteAccount, whose request id', () => {
  const asked: [what: string, fields: Partial<DeletionInput>][] = [
    ["Sunbird's deletion", {}],
    ['a soft deletion', { mode: 'soft' }],
    ['a hard deletion', { mode: 'hard' }],
    ['a grace period', { gracePeriodDays: 3 }],
  ]

  it.each(asked)('when %s runs under an id the service generated, then its request is created as one no other call can name', async (_what, fields) => {
    const w = deletionWorld({ seed: [activeUser()] })

    await deleteAccount(w.deps, ask({ ...fields, requestIdChosenBy: 'service' }))

    expect(w.requests.created.map(({ idChosenBy, applied }) => ({ idChosenBy, applied }))).toEqual([{ idChosenBy: 'service', applied: true }])
  })

  it.each(asked)("when %s does not say whose its id is, then its request is created as the caller's (the compare-and-set)", async (_what, fields) => {
    const w = deletionWorld({ seed: [activeUser()] })

    await deleteAccount(w.deps, ask(fields))

    expect(w.requests.created.map(({ idChosenBy, applied }) => ({ idChosenBy, applied }))).toEqual([{ idChosenBy: 'caller', applied: true }])
  })
})
