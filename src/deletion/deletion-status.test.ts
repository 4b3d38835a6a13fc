import { describe, expect, it, vi } from 'vitest'
import type { Caller } from './caller.js'
import { acceptedRequest, type DeletionRequest } from './deletion-request.js'
import { readDeletionStatus } from './deletion-status.js'
import { DeletionRequestNotFoundError, DependencyUnavailableError, NotPermittedError } from './errors.js'
import type { UserDeletionState } from './ports.js'

const TARGET = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const UNDELETED = 'b0b0b0b0-1111-4222-8333-444455556666'
const STRANGER = 'c0c0c0c0-1111-4222-8333-444455556666'
const PARENT = 'e0e0e0e0-1111-4222-8333-444455556666'
const ORG = 'org-1'

const caller = (userId: string, fields: Partial<Caller> = {}): Caller => ({ consumer: 'portal', userId, roles: [], ...fields })
const stranger = () => caller(STRANGER)
const orgAdminOf = (org: string) => caller('a0a0a0a0-1111-4222-8333-444455556666', { roles: [{ role: 'ORG_ADMIN', organisationIds: [org] }] })

/** TARGET has one deletion request (asked by themselves); UNDELETED has none. Reads are counted. */
function store() {
  const request: DeletionRequest = acceptedRequest({
    id: 'req-1',
    userId: TARGET,
    requestedBy: TARGET,
    plan: 'soft',
    target: { rootOrgId: ORG, managedBy: PARENT, organisationIds: [ORG] },
    now: new Date(0),
  })
  const requests = {
    get: vi.fn(async (id: string) => (id === request.id ? request : undefined)),
    findByUser: vi.fn(async (userId: string) => (userId === TARGET ? [request] : [])),
  }
  return { requests, states: { get: async () => undefined }, reads: () => requests.get.mock.calls.length + requests.findByUser.mock.calls.length }
}

const outcomeOf = (promise: Promise<DeletionRequest>) =>
  promise.then(
    (request) => request.id,
    (err: unknown) => (err as Error).name,
  )

describe('readDeletionStatus by user id', () => {
  it.each([
    ['has a deletion', TARGET],
    ['has none', UNDELETED],
  ])(
    'when a caller who is neither the user, nor acting for them, nor an ORG_ADMIN nor a trusted consumer asks about a user who %s, then the answer is the same refusal, before anything is read',
    async (_has, userId) => {
      const s = store()

      const error = await readDeletionStatus({ requests: s.requests, states: s.states, orgAdminScope: 'organisation' }, { caller: stranger(), userId }).catch((err: unknown) => err)

      expect(error).toBeInstanceOf(NotPermittedError)
      expect(s.reads()).toBe(0)
    },
  )

  it('when the user asks about themselves, then they are told there is none (404) or shown theirs', async () => {
    const s = store()
    const deps = { requests: s.requests, states: s.states, orgAdminScope: 'organisation' as const }

    expect(await outcomeOf(readDeletionStatus(deps, { caller: caller(UNDELETED), userId: UNDELETED }))).toBe('DeletionRequestNotFoundError')
    expect(await outcomeOf(readDeletionStatus(deps, { caller: caller(TARGET), userId: TARGET }))).toBe('req-1')
  })

  it('when the managing parent asks through the managed user’s token, then the request is read and shown', async () => {
    const s = store()
    const parent = caller(PARENT, { managedUser: { userId: TARGET, parentId: PARENT } })

    expect(await outcomeOf(readDeletionStatus({ requests: s.requests, states: s.states, orgAdminScope: 'organisation' }, { caller: parent, userId: TARGET }))).toBe('req-1')
  })

  it('when an ORG_ADMIN asks, then the request is read: shown in their organisation; outside it, 403 where one exists and 404 where none does (what is left to tell)', async () => {
    const s = store()
    const deps = { requests: s.requests, states: s.states, orgAdminScope: 'organisation' as const }

    expect(await outcomeOf(readDeletionStatus(deps, { caller: orgAdminOf(ORG), userId: TARGET }))).toBe('req-1')
    expect(await outcomeOf(readDeletionStatus(deps, { caller: orgAdminOf('org-2'), userId: TARGET }))).toBe('NotPermittedError')
    expect(await outcomeOf(readDeletionStatus(deps, { caller: orgAdminOf('org-2'), userId: UNDELETED }))).toBe('DeletionRequestNotFoundError')
  })

  it('when a consumer trusted with any user asks, then the request is read (shown only when it asked for it)', async () => {
    const s = store()
    const consumer = caller('consumer:notifier', { consumer: 'notifier', deleteAnyUser: true })
    const deps = { requests: s.requests, states: s.states, orgAdminScope: 'organisation' as const }

    expect(await outcomeOf(readDeletionStatus(deps, { caller: consumer, userId: UNDELETED }))).toBe('DeletionRequestNotFoundError')
    expect(await outcomeOf(readDeletionStatus(deps, { caller: consumer, userId: TARGET }))).toBe('NotPermittedError')
    expect(s.reads()).toBe(2)
  })
})

describe('readDeletionStatus by user id: superseded requests', () => {
  const requestOf = (id: string, at: number, fields: Partial<DeletionRequest> = {}): DeletionRequest => ({
    ...acceptedRequest({ id, userId: TARGET, requestedBy: TARGET, plan: 'sunbird', target: { rootOrgId: ORG, managedBy: null, organisationIds: [ORG] }, now: new Date(at) }),
    ...fields,
  })
  /** The user's requests newest first; `held`: the user's hold; `others`: requests of other users, by id. */
  const over = (newestFirst: DeletionRequest[], held?: UserDeletionState, others: DeletionRequest[] = []) => ({
    requests: { get: async (id: string) => others.find((other) => other.id === id), findByUser: async () => newestFirst },
    states: { get: async () => held },
    orgAdminScope: 'organisation' as const,
  })

  it('when the newest request lost a race for the user (failed, superseded), then the status shows the request that deleted them', async () => {
    const winner = requestOf('winner', 1000, { state: 'completed', steps: { lock: { status: 'done', action: 'locked', at: '1970-01-01T00:00:01.000Z' } } })
    const loser = requestOf('loser', 1001, { state: 'failed', reason: 'superseded' })

    const shown = await readDeletionStatus(over([loser, winner]), { caller: caller(TARGET), userId: TARGET })

    expect(shown.id).toBe('winner')
  })

  it('when every request of the user was superseded, then the newest is shown', async () => {
    const older = requestOf('older', 1000, { state: 'failed', reason: 'superseded' })
    const newer = requestOf('newer', 2000, { state: 'failed', reason: 'superseded' })

    expect((await readDeletionStatus(over([newer, older]), { caller: caller(TARGET), userId: TARGET })).id).toBe('newer')
  })

  it("when the user was taken by a request that is not theirs (a managing parent's deletion), then the superseded one is shown, never an older request that no longer holds", async () => {
    const cancelled = requestOf('cancelled', 1000, { state: 'cancelled', steps: { lock: { status: 'done', action: 'locked', at: '1970-01-01T00:00:01.000Z' } } })
    const superseded = requestOf('superseded', 2000, { state: 'failed', reason: 'superseded' })

    expect((await readDeletionStatus(over([superseded, cancelled]), { caller: caller(TARGET), userId: TARGET })).id).toBe('superseded')
  })

  it("when the user's own soft deletion was overtaken by a deletion that erased them (a managing parent's, which holds them under its own id), then their request is shown with erasedBy naming it", async () => {
    const soft = requestOf('own-soft', 1000, { plan: 'soft', state: 'completed', steps: { lock: { status: 'done', action: 'locked', at: '1970-01-01T00:00:01.000Z' } } })

    const parents = { ...requestOf('parents-deletion', 2000, { state: 'completed' }), userId: PARENT, requestedBy: PARENT }

    const shown = await readDeletionStatus(over([soft], { mode: 'sunbird', requestId: 'parents-deletion' }, [parents]), { caller: orgAdminOf(ORG), userId: TARGET })

    expect(shown).toMatchObject({ id: 'own-soft', erasedBy: 'parents-deletion' })
  })

  it('when the deletion holding the user is older than the request (the user put back since), or the caller may not follow it, or the hold cannot be read now, then no erasedBy is told', async () => {
    const soft = requestOf('own-soft', 1000, { plan: 'soft', state: 'completed', steps: { lock: { status: 'done', action: 'locked', at: '1970-01-01T00:00:01.000Z' } } })
    const parents = { ...requestOf('parents-deletion', 2000, { state: 'completed' }), userId: PARENT, requestedBy: PARENT, target: { rootOrgId: 'org-9', managedBy: null, organisationIds: ['org-9'] } }
    const older = { ...requestOf('older-hard', 500, { plan: 'hard', state: 'completed' }) }
    const hold = (requestId: string): UserDeletionState => ({ mode: 'hard', requestId })

    const ofOlder = await readDeletionStatus(over([soft, older], hold('older-hard'), [older]), { caller: caller(TARGET), userId: TARGET })
    const notFollowable = await readDeletionStatus(over([soft], hold('parents-deletion'), [parents]), { caller: caller(TARGET), userId: TARGET })
    const unreadable = await readDeletionStatus({ ...over([soft]), states: { get: () => Promise.reject(new DependencyUnavailableError('cassandra')) } }, { caller: caller(TARGET), userId: TARGET })

    expect(['erasedBy' in ofOlder, 'erasedBy' in notFollowable, 'erasedBy' in unreadable]).toEqual([false, false, false])
  })

  it('when the hold is the request’s own, or a soft or restoring one, then no erasedBy is told', async () => {
    const soft = requestOf('own-soft', 1000, { plan: 'soft', state: 'completed', steps: { lock: { status: 'done', action: 'locked', at: '1970-01-01T00:00:01.000Z' } } })
    const statusWith = (held: UserDeletionState) => readDeletionStatus(over([soft], held), { caller: caller(TARGET), userId: TARGET })

    expect('erasedBy' in (await statusWith({ mode: 'soft', requestId: 'own-soft' }))).toBe(false)
    expect('erasedBy' in (await statusWith({ mode: 'restoring', requestId: 'a-cancel' }))).toBe(false)
    expect('erasedBy' in (await statusWith({ mode: 'hard', requestId: 'own-soft' }))).toBe(false)
  })

  it('when the request that took the user is one the caller may not read, then the superseded one the caller asked for is shown, not a refusal', async () => {
    const consumer = caller('consumer:notifier', { consumer: 'notifier', deleteAnyUser: true })
    const othersWinner = requestOf('winner', 1000, { state: 'completed', steps: { lock: { status: 'done', action: 'locked', at: '1970-01-01T00:00:01.000Z' } } })
    const consumersOwn = requestOf('own', 1001, { state: 'failed', reason: 'superseded', requestedBy: consumer.userId as string })

    expect((await readDeletionStatus(over([consumersOwn, othersWinner]), { caller: consumer, userId: TARGET })).id).toBe('own')
  })

  it('when the newest request failed for another reason, then it is shown: it tells the latest that happened', async () => {
    const completed = requestOf('completed', 1000, { state: 'completed' })
    const failed = requestOf('failed', 2000, { state: 'failed', reason: 'not-found' })

    expect((await readDeletionStatus(over([failed, completed]), { caller: caller(TARGET), userId: TARGET })).id).toBe('failed')
  })
})

describe('readDeletionStatus by request id', () => {
  it('when a stranger asks, then the right depends on the request, so it is read: 403 for one that exists, 404 for none', async () => {
    const s = store()
    const deps = { requests: s.requests, states: s.states, orgAdminScope: 'organisation' as const }

    await expect(readDeletionStatus(deps, { caller: stranger(), requestId: 'req-1' })).rejects.toBeInstanceOf(NotPermittedError)
    await expect(readDeletionStatus(deps, { caller: stranger(), requestId: 'req-2' })).rejects.toBeInstanceOf(DeletionRequestNotFoundError)
  })

  it('when the requester asks, then the request is shown', async () => {
    const s = store()

    expect(await outcomeOf(readDeletionStatus({ requests: s.requests, states: s.states, orgAdminScope: 'organisation' }, { caller: caller(TARGET), requestId: 'req-1' }))).toBe('req-1')
  })
})
