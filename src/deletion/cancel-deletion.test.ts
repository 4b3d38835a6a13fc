import { describe, expect, it, vi } from 'vitest'
import { deletionWorld, type DeletionWorld, WORLD_GRACE_DAY_MS, WORLD_LEASE_MS } from '../../test/support/fakes/deletion-world.js'
import { cancelDeletion } from './cancel-deletion.js'
import type { Caller } from './caller.js'
import { acceptedRequest, type DeletionRequest } from './deletion-request.js'
import { deleteAccount } from './delete-account.js'
import { ContentionError, DependencyUnavailableError, UserErasedError, UserNotDeletedError, UserNotFoundError, WordedCause } from './errors.js'
import { resumeDeletionReport, resumeOpenDeletions } from './run-deletion.js'
import { lockOutStanding } from './user-condition.js'

const TARGET = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const self = (): Caller => ({ consumer: 'portal', userId: TARGET, roles: [] })
const seed = [{ id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'] }]

async function softDeleted(): Promise<DeletionWorld> {
  const w = deletionWorld({ seed })
  await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
  return w
}

/** A promise the test settles by hand, to hold a store call for as long as it likes. */
function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { open, opened }
}

const inMs = (ms: number) => new Date(Date.now() + ms)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('cancelDeletion against the request deadline (answerBy)', () => {
  it('when the deadline passes once the cancel is recorded (Keycloak slow to enable the account), then the answer is the cancel’s success, never "retry", and the cancel completes', async () => {
    // Arrange
    const w = await softDeleted()
    const keycloak = gate()
    const enable = w.identity.enableAccount.bind(w.identity)
    w.identity.enableAccount = async (userId) => {
      await keycloak.opened
      return enable(userId)
    }
    const onCommit = vi.fn()

    // Act
    // Long enough for the cancel to reach its point of no return on a loaded machine; Keycloak holds it past that.
    const answer = await cancelDeletion(w.deps, { userId: TARGET, caller: self(), answerBy: inMs(1000), onCommit })

    // Assert: answered while Keycloak still holds the undoing; the cancel then completes.
    expect(answer).toEqual({ requestId: 'soft-1' })
    expect(onCommit).toHaveBeenCalled()
    expect(w.requests.all()[0]?.state).toBe('cancelling')
    keycloak.open()
    await vi.waitFor(() => expect(w.requests.all()[0]?.state).toBe('cancelled'))
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(await lockOutStanding(w, TARGET)).toBe('active')
  })

  it('when the deadline passes before the restore begins, then the answer is "retry" and the cancel writes nothing after it: the retry cancels', async () => {
    // Arrange: the first read of the user is slower than the deadline.
    const w = await softDeleted()
    const slowRead = gate()
    const findUser = w.users.findUser.bind(w.users)
    let first = true
    w.users.findUser = async (userId) => {
      if (first) {
        first = false
        await slowRead.opened
      }
      return findUser(userId)
    }
    const onCommit = vi.fn()

    // Act
    const answer = cancelDeletion(w.deps, { userId: TARGET, caller: self(), answerBy: inMs(200), onCommit }).catch((err: unknown) => err)
    expect(await answer).toBeInstanceOf(DependencyUnavailableError)
    w.timeline.clear()
    slowRead.open()

    // Assert: the abandoned run stopped before the hold's compare-and-set; the user is still soft-deleted.
    expect(onCommit).not.toHaveBeenCalled()
    await vi.waitFor(() => expect(w.timeline.writes()).toEqual(['requests.acquireLease', 'requests.releaseLease']))
    await sleep(20)
    expect(w.timeline.writes()).toEqual(['requests.acquireLease', 'requests.releaseLease'])
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'soft' })
    expect(w.requests.all()[0]?.state).toBe('completed')
    await expect(cancelDeletion(w.deps, { userId: TARGET, caller: self() })).resolves.toEqual({ requestId: 'soft-1' })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
  })

  it('when the deadline passes while the hold’s compare-and-set is under way, then the answer waits for the cancel to be recorded and is its success', async () => {
    // Arrange
    const w = await softDeleted()
    const slowSwap = gate()
    const swap = w.states.swap.bind(w.states)
    w.states.swap = async (userId, expected, next) => {
      if (next?.mode === 'restoring') await slowSwap.opened
      return swap(userId, expected, next)
    }
    const onCommit = vi.fn()

    // Act
    const answerBy = inMs(500)
    const answer = cancelDeletion(w.deps, { userId: TARGET, caller: self(), answerBy, onCommit })
    await vi.waitFor(() => expect(onCommit).toHaveBeenCalled())
    // The swap is held until the deadline has passed.
    await sleep(answerBy.getTime() - Date.now() + 50)
    slowSwap.open()

    // Assert
    expect(await answer).toEqual({ requestId: 'soft-1' })
    await vi.waitFor(() => expect(w.requests.all()[0]?.state).toBe('cancelled'))
  })

  it('when the user is not deleted, then the deadline changes nothing: the refusal is the answer', async () => {
    const w = deletionWorld({ seed })

    await expect(cancelDeletion(w.deps, { userId: TARGET, caller: self(), answerBy: inMs(1_000) })).rejects.toBeInstanceOf(UserNotDeletedError)
  })
})

/** The cancel's first reopen of its request waits until the returned gate opens (a run stalled right after taking the hold). */
function stallFirstReopen(w: DeletionWorld) {
  const reopen = w.requests.reopen.bind(w.requests)
  const stalled = gate()
  let stalling = true
  w.requests.reopen = async (...args) => {
    if (stalling) {
      stalling = false
      await stalled.opened
    }
    return reopen(...args)
  }
  return stalled
}

describe('a cancel interrupted before it reopened its request, met by the end of the grace period', () => {
  it('when a cancel stalls past its lease after taking the hold and the erasure comes due meanwhile, then the sweeper finishes the cancel instead of failing the request', async () => {
    // Arrange: a grace period of one day, nearly over; the cancel takes the hold (restoring) and
    // stalls just before reopening the request, past its lease and past the end of the period.
    const w = deletionWorld({ seed })
    await deleteAccount(w.deps, { requestId: 'grace-1', userId: TARGET, caller: self(), gracePeriodDays: 1 })
    w.clock.advance(WORLD_GRACE_DAY_MS - 1_000)
    const stalled = stallFirstReopen(w)
    const cancel = cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)
    await vi.waitFor(() => expect(w.states.peek(TARGET)).toMatchObject({ mode: 'restoring' }))

    // Act
    w.clock.advance(WORLD_LEASE_MS + 5_000)
    const sweep = await resumeOpenDeletions(w.deps)
    stalled.open()
    await cancel

    // Assert: the cancel was finished (recorded once, with no caller), the user is back, nothing is left open.
    expect(sweep).toMatchObject({ resumed: 1, completed: 0 })
    const [request] = w.requests.all()
    expect(request?.state).toBe('cancelled')
    expect(request?.reason).toBeUndefined()
    expect(w.audit.eventsOf('grace-1').filter((event) => event === 'deletion.cancelled')).toHaveLength(1)
    expect(w.states.peek(TARGET)).toBeUndefined()
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(w.identity.isDisabled(TARGET)).toBe(false)
    expect(await lockOutStanding(w, TARGET)).toBe('active')
    expect(await w.requests.listOpen(10, w.clock.now())).toEqual([])
  })
})

describe('a cancel whose hold moved to restoring but whose reopen never landed', () => {
  it('when the soft deletion had completed and closed, then the sweeper still finds the cancel and lets the user in', async () => {
    const w = await softDeleted()
    expect(w.requests.isOpen('soft-1')).toBe(false)
    w.requests.failNext('reopen', new DependencyUnavailableError('cassandra'))

    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)).toBeInstanceOf(DependencyUnavailableError)
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'restoring' })

    await resumeOpenDeletions(w.deps)

    expect(w.requests.all()[0]?.state).toBe('cancelled')
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(await lockOutStanding(w, TARGET)).toBe('active')
  })

  it('when it was a grace period, then the sweeper finishes the cancel at once, not when the period ends', async () => {
    const w = deletionWorld({ seed })
    await deleteAccount(w.deps, { requestId: 'grace-1', userId: TARGET, caller: self(), gracePeriodDays: 30 })
    w.requests.failNext('reopen', new DependencyUnavailableError('cassandra'))

    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)).toBeInstanceOf(DependencyUnavailableError)
    await resumeOpenDeletions(w.deps)

    expect(w.requests.all()[0]?.state).toBe('cancelled')
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(await w.requests.listOpen(10, w.clock.now())).toEqual([])
  })

  it('when a grace period is found listed due before its end and no cancel holds the user, then its due time is put back and the next passes leave it alone', async () => {
    const w = deletionWorld({ seed })
    await deleteAccount(w.deps, { requestId: 'grace-1', userId: TARGET, caller: self(), gracePeriodDays: 30 })
    const request = w.requests.peek('grace-1')
    if (!request?.schedule) throw new Error('no grace period')
    await w.requests.relist(request)

    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 0 })
    w.timeline.clear()
    await resumeOpenDeletions(w.deps)

    expect(w.timeline.writes()).toEqual([])
    expect(await w.requests.openEntry('grace-1')).toMatchObject({ dueAt: request.schedule.eraseAt })
    expect(w.requests.peek('grace-1')?.state).toBe('scheduled')
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'soft' })
  })
})

describe('a cancel that stops before its move of the hold, and a grace period listed early', () => {
  it('when a cancel of a completed soft deletion dies at the move of the hold, then the sweeper stores no second deletion.completed', async () => {
    const w = await softDeleted()
    const swap = w.states.swap.bind(w.states)
    w.states.swap = async (userId, expected, next) => {
      if (next?.mode === 'restoring') throw new Error('the process died here')
      return swap(userId, expected, next)
    }
    // Dead: its lease is not given back either.
    w.requests.failNext('releaseLease', new Error('the process died here'))
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch(() => undefined)
    w.states.swap = swap
    // Listed by the cancel before its move: the sweeper meets the request (else it has nothing to store twice).
    expect(w.requests.isOpen('soft-1')).toBe(true)

    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)

    expect(w.audit.eventsOf('soft-1').filter((event) => event === 'deletion.completed')).toHaveLength(1)
    expect(w.requests.peek('soft-1')?.state).toBe('completed')
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'soft' })
    expect(w.requests.isOpen('soft-1')).toBe(false)
  })

  it('when a cancel of a completed soft deletion dies right after its move of the hold landed, then the sweeper finishes the cancel: the user is let in, no second deletion.completed', async () => {
    const w = await softDeleted()
    const swap = w.states.swap.bind(w.states)
    w.states.swap = async (userId, expected, next) => {
      const moved = await swap(userId, expected, next)
      if (next?.mode === 'restoring') throw new Error('the process died here')
      return moved
    }
    // Dead: its lease is not given back either.
    w.requests.failNext('releaseLease', new Error('the process died here'))
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch(() => undefined)
    w.states.swap = swap
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'restoring' })

    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)

    expect(w.requests.peek('soft-1')).toMatchObject({ state: 'cancelled', cancelledBy: self().userId })
    expect(w.audit.eventsOf('soft-1')).toEqual(['deletion.accepted', 'deletion.completed', 'deletion.cancelled'])
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(await lockOutStanding(w, TARGET)).toBe('active')
  })

  it('when a grace period listed early finds its hold taken by another deletion, then the sweeper ends it superseded, not scheduled until its end', async () => {
    const w = deletionWorld({ seed })
    await deleteAccount(w.deps, { requestId: 'grace-1', userId: TARGET, caller: self(), gracePeriodDays: 30 })
    const request = w.requests.peek('grace-1')
    if (!request) throw new Error('no grace period')
    await w.requests.relist(request)
    w.states.set(TARGET, { mode: 'hard', requestId: 'hard-1' })

    await resumeOpenDeletions(w.deps)

    expect(w.requests.peek('grace-1')).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(w.audit.eventsOf('grace-1')).toContain('deletion.failed')
  })

  it('when the sweeper stalls past its lease before putting a due time back and another runner takes the request meanwhile, then it writes no due time over that runner’s entry', async () => {
    const w = deletionWorld({ seed })
    await deleteAccount(w.deps, { requestId: 'grace-1', userId: TARGET, caller: self(), gracePeriodDays: 30 })
    const request = w.requests.peek('grace-1')
    if (!request) throw new Error('no grace period')
    await w.requests.relist(request)
    const get = w.states.get.bind(w.states)
    let stalled = false
    w.states.get = async (userId) => {
      const held = await get(userId)
      if (!stalled) {
        stalled = true
        // The sweeper stalls here; another runner takes the request once its lease has run out.
        w.clock.advance(WORLD_LEASE_MS + 1)
        expect(await w.requests.acquireLease('grace-1', w.clock.now(), new Date(w.clock.now().getTime() + WORLD_LEASE_MS))).toBe(true)
      }
      return held
    }

    await resumeOpenDeletions(w.deps)

    expect(await w.requests.openEntry('grace-1')).not.toHaveProperty('dueAt')
  })
})

describe('a cancel of a completed soft deletion held up between its listing and its move of the hold', () => {
  it('when the deadline passes while it names its caller on the request, then the answer is "retry", the hold is not moved, the sweeper only takes the request off its list, and the retry cancels', async () => {
    // Arrange: the naming is held until the deadline has passed.
    const w = await softDeleted()
    const slowName = gate()
    const nameCanceller = w.requests.nameCanceller.bind(w.requests)
    w.requests.nameCanceller = async (...args) => {
      await slowName.opened
      return nameCanceller(...args)
    }
    const onCommit = vi.fn()

    // Act
    const answerBy = inMs(200)
    const answer = cancelDeletion(w.deps, { userId: TARGET, caller: self(), answerBy, onCommit }).catch((err: unknown) => err)
    await sleep(answerBy.getTime() - Date.now() + 50)
    slowName.open()

    // Assert: "retry", and nothing of the user moved after it; the listing is the sweeper's to take off.
    expect(await answer).toBeInstanceOf(DependencyUnavailableError)
    expect(onCommit).not.toHaveBeenCalled()
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'soft' })
    await resumeOpenDeletions(w.deps)
    expect(await w.requests.listOpen(10, w.clock.now())).toEqual([])
    expect(w.requests.peek('soft-1')?.state).toBe('completed')
    expect(w.audit.eventsOf('soft-1')).toEqual(['deletion.accepted', 'deletion.completed'])
    await expect(cancelDeletion(w.deps, { userId: TARGET, caller: self() })).resolves.toEqual({ requestId: 'soft-1' })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
  })

  it('when it stalls past its lease after listing, the sweeper takes the request off its list meanwhile, and the process dies after the cancel resumes, then the hold is still soft: never restoring on a request nobody lists', async () => {
    // Arrange: the cancel's listing lands, then the run stalls past its lease.
    const w = await softDeleted()
    const stalled = gate()
    const relist = w.requests.relist.bind(w.requests)
    let stalling = true
    let dead = false
    w.requests.relist = async (...args) => {
      if (dead) throw new Error('the process died here')
      await relist(...args)
      if (stalling) {
        stalling = false
        await stalled.opened
      }
    }
    const cancel = cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)
    await vi.waitFor(() => expect(stalling).toBe(false))

    // Act: the sweeper takes the request over and unlists it; the cancel resumes, and its process dies at its next listing.
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)
    expect(await w.requests.listOpen(10, w.clock.now())).toEqual([])
    dead = true
    stalled.open()
    const answer = await cancel
    dead = false

    // Assert: the cancel stopped before moving the hold; the user is as the soft deletion left them, and a cancel again lets them in.
    expect(answer).toBeInstanceOf(DependencyUnavailableError)
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'soft' })
    expect(w.requests.peek('soft-1')?.state).toBe('completed')
    await expect(cancelDeletion(w.deps, { userId: TARGET, caller: self() })).resolves.toEqual({ requestId: 'soft-1' })
    expect(await lockOutStanding(w, TARGET)).toBe('active')
  })
  it('when it stalls after listing until its lease has a millisecond left and its move of the hold lands after that lease would have ended, then the sweeper does not take the request meanwhile: the hold restoring stays listed, and the sweeper finishes the cancel though the process died', async () => {
    // Arrange: the listing lands, then the run stalls until 1 ms of its lease is left; the move of the hold is held back.
    const w = await softDeleted()
    const stalled = gate()
    const swapHeld = gate()
    const relist = w.requests.relist.bind(w.requests)
    const reopen = w.requests.reopen.bind(w.requests)
    const swap = w.states.swap.bind(w.states)
    let stalling = true
    let swapping = false
    let dead = false
    w.requests.relist = async (...args) => {
      if (dead) throw new Error('the process died here')
      await relist(...args)
      if (stalling) {
        stalling = false
        await stalled.opened
      }
    }
    w.requests.reopen = async (...args) => {
      if (dead) throw new Error('the process died here')
      return reopen(...args)
    }
    w.states.swap = async (...args) => {
      swapping = true
      await swapHeld.opened
      return swap(...args)
    }
    const cancel = cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)
    await vi.waitFor(() => expect(stalling).toBe(false))
    w.clock.advance(WORLD_LEASE_MS - 1)
    stalled.open()
    await vi.waitFor(() => expect(swapping).toBe(true))

    // Act: the lease the cancel took would have ended; the sweeper passes; the move lands, and the process dies at its next write.
    w.clock.advance(2)
    await resumeOpenDeletions(w.deps)
    dead = true
    swapHeld.open()
    await cancel
    dead = false

    // Assert: the hold is the cancel's, on a request still listed, and the sweeper finishes the cancel once the renewed lease ends.
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'restoring' })
    expect((await w.requests.listOpen(10, w.clock.now())).map((entry) => entry.id)).toEqual(['soft-1'])
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(await lockOutStanding(w, TARGET)).toBe('active')
  })

  it('when it reaches its move of the hold with most of its lease left, then it writes nothing more to the request before that move', async () => {
    // Arrange
    const w = await softDeleted()
    w.timeline.clear()

    // Act
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    // Assert: from taking the lease to the move, the listing's writes alone.
    const calls = w.timeline.entries
    const upToSwap = calls.slice(
      calls.indexOf('requests.acquireLease'),
      calls.findIndex((call) => call.startsWith('states.swap')),
    )
    expect(upToSwap).toContain('requests.relist')
    expect(upToSwap.filter((call) => call.startsWith('requests.renewLease') || call.startsWith('requests.confirmLease'))).toEqual([])
  })
})

describe('cancelDeletion and the Keycloak accounts the soft deletion disabled', () => {
  // The person holds two Keycloak accounts: the native one under their id and a federated one.
  const FEDERATED = `f:sunbird-fed:${TARGET}`

  /** A world where the person also has a federated account, enabled or (by an administrator) disabled. */
  function personWithTwoAccounts(federated: { enabled: boolean }): DeletionWorld {
    const w = deletionWorld({ seed })
    w.identity.addAccount(TARGET, {}, { keycloakId: FEDERATED, enabled: federated.enabled })
    return w
  }

  const keycloakOutcome = (w: DeletionWorld) => w.requests.peek('soft-1')?.steps.keycloak

  it('when an administrator had disabled one account before the deletion, then the cancel enables only the one the deletion disabled', async () => {
    // Arrange
    const w = personWithTwoAccounts({ enabled: false })
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    expect(keycloakOutcome(w)).toMatchObject({ status: 'done', action: 'disabled', restore: { disabledAccounts: [TARGET] } })

    // Act
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    // Assert
    expect(w.identity.isDisabled(TARGET)).toBe(false)
    expect(w.identity.isDisabled(FEDERATED)).toBe(true)
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
  })

  it('when both accounts were enabled, then the deletion records both and the cancel enables both', async () => {
    const w = personWithTwoAccounts({ enabled: true })
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })

    expect(keycloakOutcome(w)).toMatchObject({ restore: { disabledAccounts: [TARGET, FEDERATED] } })
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    expect(w.identity.isDisabled(TARGET)).toBe(false)
    expect(w.identity.isDisabled(FEDERATED)).toBe(false)
  })

  it('when every account was disabled before the deletion, then the cancel enables none and records left-as-it-was', async () => {
    const w = personWithTwoAccounts({ enabled: false })
    w.identity.disableByAdministrator(TARGET)
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })

    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    expect(w.identity.isDisabled(TARGET)).toBe(true)
    expect(w.identity.isDisabled(FEDERATED)).toBe(true)
    expect(keycloakOutcome(w)).toMatchObject({ status: 'done', action: 'left-as-it-was' })
  })

  it('when the account the deletion disabled was removed since, then the cancel completes (absent) and the administrator’s disabled account stays disabled', async () => {
    // Arrange
    const w = personWithTwoAccounts({ enabled: false })
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    w.identity.removeByAdministrator(TARGET)

    // Act
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    // Assert
    expect(keycloakOutcome(w)).toMatchObject({ status: 'done', action: 'absent' })
    expect(w.identity.isDisabled(FEDERATED)).toBe(true)
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
  })

  it('when Keycloak fails after the deletion disabled one of two accounts, then the owed step keeps both it meant to disable, and a cancel meanwhile enables the one and leaves the other enabled', async () => {
    // Arrange: disabling the federated account (the second) fails; the native one is disabled already.
    const w = personWithTwoAccounts({ enabled: true })
    w.identity.failWritesTo(FEDERATED)
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    expect(keycloakOutcome(w)).toMatchObject({ status: 'pending', restore: { disabledAccounts: [TARGET, FEDERATED] } })
    expect(w.identity.isDisabled(TARGET)).toBe(true)
    expect(w.identity.isDisabled(FEDERATED)).toBe(false)

    // Act
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    // Assert
    expect(w.identity.isDisabled(TARGET)).toBe(false)
    expect(w.identity.isDisabled(FEDERATED)).toBe(false)
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
  })

  it('when the owed step is run again, then what it disables is added to what the earlier attempt recorded, and the cancel enables both', async () => {
    // Arrange
    const w = personWithTwoAccounts({ enabled: true })
    w.identity.failWritesTo(FEDERATED)
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    w.identity.comeBack()

    // Act
    await resumeOpenDeletions(w.deps)
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    // Assert
    expect(w.identity.isDisabled(TARGET)).toBe(false)
    expect(w.identity.isDisabled(FEDERATED)).toBe(false)
  })

  it('when the step is about to disable accounts, then it records them (the enabled ones only) before Keycloak is asked', async () => {
    const w = personWithTwoAccounts({ enabled: false })
    const recorded: unknown[] = []
    const recordSteps = w.requests.recordSteps.bind(w.requests)
    w.requests.recordSteps = async (id, outcomes, ...rest) => {
      if (outcomes.keycloak) recorded.push(outcomes.keycloak)
      return recordSteps(id, outcomes, ...rest)
    }

    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })

    const writes = w.timeline.writes()
    expect(writes.indexOf('requests.recordSteps(keycloak)')).toBe(writes.indexOf('identity.disableAccount') - 1)
    expect(recorded[0]).toMatchObject({ status: 'pending', action: 'disabling', restore: { disabledAccounts: [TARGET] } })
  })

  it('when a deletion without a mode or a hard one runs, then the Keycloak step lists no accounts and records no intent', async () => {
    for (const mode of [undefined, 'hard'] as const) {
      const w = deletionWorld({ seed })
      await deleteAccount(w.deps, { requestId: 'del-1', userId: TARGET, caller: self(), ...(mode && { mode }) })
      expect(
        w.timeline.entries.filter((entry) => entry.startsWith('identity.')),
        mode,
      ).toEqual(['identity.eraseAccount'])
      expect(
        w.timeline.entries.filter((entry) => /^requests\.recordSteps\(keycloak\)/.test(entry)),
        mode,
      ).toEqual([])
    }
  })

  /** The Keycloak step's outcomes as written by recordSteps, in order. */
  function recordedKeycloakOutcomes(w: DeletionWorld): unknown[] {
    const recorded: unknown[] = []
    const recordSteps = w.requests.recordSteps.bind(w.requests)
    w.requests.recordSteps = async (id, outcomes, ...rest) => {
      if (outcomes.keycloak) recorded.push(outcomes.keycloak)
      return recordSteps(id, outcomes, ...rest)
    }
    return recorded
  }

  /** The cancel's log of accounts left disabled; `settled` waits for its report, which the cancel does not await. */
  function logLeftDisabled(w: DeletionWorld) {
    const calls: [string, number][] = []
    w.deps.onAccountsLeftDisabled = (requestId, count) => calls.push([requestId, count])
    const lists: Promise<unknown>[] = []
    const listAccounts = w.identity.listAccounts.bind(w.identity)
    w.identity.listAccounts = (userId) => {
      const listed = listAccounts(userId)
      lists.push(listed)
      return listed
    }
    const settled = async () => {
      await Promise.allSettled(lists)
      await new Promise((resolve) => setImmediate(resolve))
    }
    return { calls, settled }
  }

  /** Fails, once, the write of the Keycloak step's outcome after its disable (the process dies there). */
  function dieBeforeTheOutcomeIsWritten(w: DeletionWorld) {
    const recordSteps = w.requests.recordSteps.bind(w.requests)
    const finish = w.requests.finish.bind(w.requests)
    let failed = false
    const failOnce = (keycloak: { action: string } | undefined) => {
      if (failed || !keycloak || keycloak.action === 'disabling') return
      failed = true
      throw new DependencyUnavailableError('cassandra')
    }
    w.requests.recordSteps = async (id, outcomes, ...rest) => {
      failOnce(outcomes.keycloak)
      return recordSteps(id, outcomes, ...rest)
    }
    w.requests.finish = async (id, state, fields, ...rest) => {
      failOnce(fields.steps?.keycloak)
      return finish(id, state, fields, ...rest)
    }
  }

  /** A soft deletion whose run died after Keycloak disabled the account, its outcome still the intent. */
  async function diedAfterTheDisable(): Promise<DeletionWorld> {
    const w = deletionWorld({ seed })
    dieBeforeTheOutcomeIsWritten(w)
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' }).catch(() => undefined)
    expect(w.identity.isDisabled(TARGET)).toBe(true)
    expect(keycloakOutcome(w)).toMatchObject({ status: 'pending', action: 'disabling', restore: { disabledAccounts: [TARGET] } })
    return w
  }

  it('when the run died after Keycloak took the change and before the outcome was written, then the run again keeps the account it had recorded, and the cancel enables it', async () => {
    // Arrange: the sweeper runs the request again.
    const w = await diedAfterTheDisable()
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)
    expect(keycloakOutcome(w)).toMatchObject({ status: 'done', action: 'disabled', restore: { disabledAccounts: [TARGET] } })

    // Act
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    // Assert
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(w.identity.isDisabled(TARGET)).toBe(false)
  })

  it('when the run died in that window and the cancel comes before any sweeper run (the outcome still the intent), then the cancel enables the account', async () => {
    // Arrange
    const w = await diedAfterTheDisable()
    w.clock.advance(WORLD_LEASE_MS + 1)

    // Act
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    // Assert
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(w.identity.isDisabled(TARGET)).toBe(false)
  })

  it('when an account is created between the listing and the disable, then the outcome naming it is written right after the disable (one more write), and the cancel enables both', async () => {
    // Arrange: the federated account appears once the step has listed the accounts.
    const w = deletionWorld({ seed })
    const listAccounts = w.identity.listAccounts.bind(w.identity)
    w.identity.listAccounts = async (userId) => {
      const listed = await listAccounts(userId)
      if (!w.identity.hasAccount(FEDERATED)) w.identity.addAccount(TARGET, {}, { keycloakId: FEDERATED })
      return listed
    }
    const recorded = recordedKeycloakOutcomes(w)

    // Act
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })

    // Assert: the intent (the one listed), then the outcome with the new one, written next.
    expect(recorded.slice(0, 2)).toMatchObject([
      { status: 'pending', action: 'disabling', restore: { disabledAccounts: [TARGET] } },
      { status: 'done', action: 'disabled', restore: { disabledAccounts: [TARGET, FEDERATED] } },
    ])
    const writes = w.timeline.writes()
    const disable = writes.indexOf('identity.disableAccount')
    expect(writes[disable + 1]).toMatch(/^requests\.recordSteps\(.*keycloak.*\)$/)
    expect(keycloakOutcome(w)).toMatchObject({ status: 'done', restore: { disabledAccounts: [TARGET, FEDERATED] } })
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })
    expect(w.identity.isDisabled(TARGET)).toBe(false)
    expect(w.identity.isDisabled(FEDERATED)).toBe(false)
  })

  it('when no account appears during the disable, then the step writes only its intent (no write after the disable)', async () => {
    const w = personWithTwoAccounts({ enabled: true })
    const recorded = recordedKeycloakOutcomes(w)

    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })

    expect(recorded).toMatchObject([{ status: 'pending', action: 'disabling' }])
    const writes = w.timeline.writes()
    expect(writes[writes.indexOf('identity.disableAccount') + 1]).not.toMatch(/keycloak/)
  })

  it('when an administrator disables an account between the listing and the disable, then the done outcome drops it (the intent named it), and the cancel leaves it disabled', async () => {
    // Arrange
    const w = personWithTwoAccounts({ enabled: true })
    const listAccounts = w.identity.listAccounts.bind(w.identity)
    w.identity.listAccounts = async (userId) => {
      const listed = await listAccounts(userId)
      if (!w.identity.isDisabled(FEDERATED)) w.identity.disableByAdministrator(FEDERATED)
      return listed
    }
    const recorded = recordedKeycloakOutcomes(w)

    // Act
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })

    // Assert
    expect(recorded[0]).toMatchObject({ action: 'disabling', restore: { disabledAccounts: [TARGET, FEDERATED] } })
    expect(keycloakOutcome(w)).toMatchObject({ status: 'done', action: 'disabled', restore: { disabledAccounts: [TARGET] } })
    w.identity.listAccounts = listAccounts
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })
    expect(w.identity.isDisabled(TARGET)).toBe(false)
    expect(w.identity.isDisabled(FEDERATED)).toBe(true)
  })

  it('when the run died in that window, an administrator having disabled the other account before the deletion, then the cancel enables only the deletion’s, and logs the one it leaves (request id, count)', async () => {
    // Arrange
    const w = personWithTwoAccounts({ enabled: false })
    const log = logLeftDisabled(w)
    dieBeforeTheOutcomeIsWritten(w)
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' }).catch(() => undefined)
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)

    // Act
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    // Assert
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(w.identity.isDisabled(TARGET)).toBe(false)
    expect(w.identity.isDisabled(FEDERATED)).toBe(true)
    await log.settled()
    expect(log.calls).toEqual([['soft-1', 1]])
  })

  it('when the run died after recording its intent and before Keycloak was asked, then a cancel enables the account (enabled already: harmless), and the run again disables it', async () => {
    // Arrange: the intent is written, then its answer is lost (the run stops there).
    const w = deletionWorld({ seed })
    const recordSteps = w.requests.recordSteps.bind(w.requests)
    let lost = false
    w.requests.recordSteps = async (id, outcomes, ...rest) => {
      await recordSteps(id, outcomes, ...rest)
      if (!lost && outcomes.keycloak?.action === 'disabling') {
        lost = true
        throw new DependencyUnavailableError('cassandra')
      }
    }
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' }).catch(() => undefined)
    expect(w.identity.timeline.entries).not.toContain('identity.disableAccount')
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)
    expect(w.identity.isDisabled(TARGET)).toBe(true)

    // Act
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    // Assert
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(w.identity.isDisabled(TARGET)).toBe(false)
  })

  it('when the cancel leaves no account disabled, then nothing is logged; when it leaves one an administrator disabled, it is', async () => {
    for (const [federatedEnabled, logged] of [
      [true, []],
      [false, [['soft-1', 1]]],
    ] as const) {
      const w = personWithTwoAccounts({ enabled: federatedEnabled })
      const log = logLeftDisabled(w)
      await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })

      await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

      await log.settled()
      expect(log.calls, `federated enabled: ${federatedEnabled}`).toEqual(logged)
    }
  })

  it('when the listing for the log does not answer, then the cancel does not wait for it', async () => {
    const w = personWithTwoAccounts({ enabled: false })
    w.deps.onAccountsLeftDisabled = () => undefined
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    w.identity.listAccounts = () => new Promise(() => undefined)

    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(w.identity.isDisabled(TARGET)).toBe(false)
  })

  it('when a request recorded before the accounts were named is cancelled, then every account is enabled, as before', async () => {
    // Arrange: the outcome as a soft deletion recorded it before this change: whether any account was enabled.
    const w = personWithTwoAccounts({ enabled: false })
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    const request = w.requests.peek('soft-1')
    if (!request?.steps.keycloak) throw new Error('no keycloak outcome')
    request.steps.keycloak = { ...request.steps.keycloak, restore: { enabled: true } }
    w.requests.seed(request)

    // Act
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    // Assert
    expect(w.identity.isDisabled(TARGET)).toBe(false)
    expect(w.identity.isDisabled(FEDERATED)).toBe(false)
  })
})

describe('cancelDeletion and its deletion.cancelled audit record', () => {
  const cancelledRecords = (w: DeletionWorld, requestId: string) => w.audit.records.filter((record) => record.requestId === requestId && record.event === 'deletion.cancelled')

  it('when a cancel is finished, then its record is stored after the user is restored and before the hold is cleared and the request recorded cancelled, and names who cancelled', async () => {
    const w = await softDeleted()
    w.timeline.clear()

    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    const writes = w.timeline.writes()
    const at = (entry: string) => writes.indexOf(entry)
    expect(at('audit.append(deletion.cancelled)')).toBeGreaterThan(writes.findIndex((entry) => entry.startsWith('users.restoreStatus')))
    expect(at('audit.append(deletion.cancelled)')).toBeLessThan(writes.findLastIndex((entry) => entry.startsWith('states.swap')))
    expect(at('audit.append(deletion.cancelled)')).toBeLessThan(at('requests.finish(cancelled)'))
    expect(cancelledRecords(w, 'soft-1')).toEqual([expect.objectContaining({ detail: { cancelledBy: TARGET } })])
  })

  it('when the audit record of a cancel cannot be stored, then the request is not recorded cancelled: it stays cancelling and open, and the sweeper stores the record and finishes it', async () => {
    // Arrange
    const w = await softDeleted()
    w.audit.failNext(new DependencyUnavailableError('cassandra'))

    // Act
    const error = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    // Assert: the cancel answered 503 and is left to the sweeper, not ended unaudited.
    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect(w.requests.peek('soft-1')?.state).toBe('cancelling')
    expect(w.requests.isOpen('soft-1')).toBe(true)
    expect(cancelledRecords(w, 'soft-1')).toEqual([])
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'restoring', requestId: 'soft-1' })

    const sweep = await resumeOpenDeletions(w.deps)

    expect(sweep).toMatchObject({ resumed: 1 })
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(cancelledRecords(w, 'soft-1')).toHaveLength(1)
    expect(w.states.peek(TARGET)).toBeUndefined()
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(await w.requests.listOpen(10, w.clock.now())).toEqual([])
  })

  it('when the audit record of a cancel cannot be stored, then the same cancel again stores it (naming its caller) and succeeds', async () => {
    const w = await softDeleted()
    w.audit.failNext(new DependencyUnavailableError('cassandra'))
    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)).toBeInstanceOf(DependencyUnavailableError)

    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: self() })).toEqual({ requestId: 'soft-1' })

    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(cancelledRecords(w, 'soft-1')).toEqual([expect.objectContaining({ detail: { cancelledBy: TARGET } })])
  })

  it('when the process dies between the cancel’s restore and its record, then the sweeper stores the record and finishes the cancel', async () => {
    // Arrange: the append never returns to this run (the process is gone); nothing was stored.
    const w = await softDeleted()
    const append = w.audit.append.bind(w.audit)
    let died = false
    w.audit.append = async (record) => {
      if (record.event === 'deletion.cancelled' && !died) {
        died = true
        throw new Error('the process died here')
      }
      return append(record)
    }
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch(() => undefined)
    expect(w.requests.peek('soft-1')?.state).toBe('cancelling')

    // Act: another instance's sweeper, once the dead run's lease has run out.
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)

    // Assert
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(cancelledRecords(w, 'soft-1')).toHaveLength(1)
  })

  it('when the cancel’s final write fails after its record was stored, then the sweeper finishes it without a second record', async () => {
    const w = await softDeleted()
    w.requests.failNext('finish', new DependencyUnavailableError('cassandra'))
    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)).toBeInstanceOf(DependencyUnavailableError)
    expect(w.requests.peek('soft-1')?.state).toBe('cancelling')

    await resumeOpenDeletions(w.deps)

    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(cancelledRecords(w, 'soft-1')).toHaveLength(1)
  })

  it('when Keycloak is down during a cancel, then no deletion.cancelled record is stored while the user is still locked out; it is stored once the sweeper has restored them', async () => {
    const w = await softDeleted()
    w.identity.goDown()

    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)).toBeInstanceOf(DependencyUnavailableError)

    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
    expect(cancelledRecords(w, 'soft-1')).toEqual([])

    w.identity.comeBack()
    await resumeOpenDeletions(w.deps)

    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(cancelledRecords(w, 'soft-1')).toHaveLength(1)
  })

  it('when Keycloak interrupts a managing parent’s cancel and the sweeper finishes it, then the record names the parent who cancelled, not the user who asked for the deletion', async () => {
    const PARENT = '0a0a0a0a-2222-4333-8444-555566667777'
    const w = deletionWorld({ seed: [{ id: PARENT }, { id: TARGET, managedBy: PARENT }] })
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    w.identity.goDown()
    const parent: Caller = { consumer: 'portal', userId: PARENT, roles: [], managedUser: { userId: TARGET, parentId: PARENT } }
    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: parent }).catch((err: unknown) => err)).toBeInstanceOf(DependencyUnavailableError)

    w.identity.comeBack()
    await resumeOpenDeletions(w.deps)

    expect(w.requests.peek('soft-1')).toMatchObject({ state: 'cancelled', requestedBy: TARGET, cancelledBy: PARENT })
    expect(cancelledRecords(w, 'soft-1')).toEqual([expect.objectContaining({ detail: { cancelledBy: PARENT } })])
  })

  it('when a cancel stalls past its lease after taking the hold and the sweeper takes over meanwhile, then no record is stored for the stalled run’s refused reopen', async () => {
    // The stalled run's reopen is refused (another runner has the request): it stores nothing.
    const w = await softDeleted()
    const stalled = stallFirstReopen(w)
    const cancel = cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)
    await vi.waitFor(() => expect(w.states.peek(TARGET)).toMatchObject({ mode: 'restoring' }))
    w.clock.advance(WORLD_LEASE_MS + 1)
    await w.requests.acquireLease('soft-1', w.clock.now(), new Date(w.clock.now().getTime() + WORLD_LEASE_MS))

    stalled.open()

    expect(await cancel).toBeInstanceOf(DependencyUnavailableError)
    expect(cancelledRecords(w, 'soft-1')).toEqual([])
    expect(w.requests.peek('soft-1')?.state).not.toBe('cancelled')
  })
})

describe('a cancel whose hold is taken over before its record is stored', () => {
  // Formerly the cancel stored its deletion.cancelled record here anyway and ended `cancelled`: a
  // record of a cancel that the deletion holding the user then undoes, and the row left active
  // under that deletion's hold. A hold taken from `restoring` by another deletion (a manager's
  // erasure of this managed user) now ends the cancel superseded, as a grace period's erasure
  // taken over by a hard deletion ends: `failed`, reason `superseded`, its `deletion.failed` record.

  /** The hold moves to a hard deletion right after the row is put back (the managed-users step's hold()). */
  function takenOverAfterTheRowRestore(w: DeletionWorld) {
    const restoreStatus = w.users.restoreStatus.bind(w.users)
    w.users.restoreStatus = async (...args) => {
      const restored = await restoreStatus(...args)
      await w.states.swap(TARGET, { mode: 'restoring', requestId: 'soft-1' }, { mode: 'hard', requestId: 'manager-hard-1' })
      return restored
    }
  }

  it('when a manager’s hard deletion takes the managed user’s restoring hold once the row is put back, then no deletion.cancelled is stored: the request ends superseded, the row is locked again, and the caller hears the user does not exist', async () => {
    // Arrange
    const w = await softDeleted()
    takenOverAfterTheRowRestore(w)

    // Act
    const error = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    // Assert: superseded and audited so, the hard deletion's hold left alone, the user locked out under it.
    expect(error).toBeInstanceOf(UserNotFoundError)
    expect(w.requests.peek('soft-1')).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(w.requests.isOpen('soft-1')).toBe(false)
    expect(w.audit.eventsOf('soft-1')).not.toContain('deletion.cancelled')
    expect(w.audit.records.filter((record) => record.requestId === 'soft-1' && record.event === 'deletion.failed')).toEqual([expect.objectContaining({ detail: { reason: 'superseded' } })])
    expect(w.states.peek(TARGET)).toEqual({ mode: 'hard', requestId: 'manager-hard-1' })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
    expect(await lockOutStanding(w, TARGET)).toBe('deleted')
  })

  it('when the hold was taken over, then the gate is not told the user is back: the hard deletion keeps them locked out', async () => {
    const w = await softDeleted()
    takenOverAfterTheRowRestore(w)

    await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch(() => undefined)

    expect(w.listener.restored).toEqual([])
  })
})

describe('a cancel racing the deletion of the user who manages them', () => {
  const MANAGER = '9b9e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d49'
  const managerSelf = (): Caller => ({ consumer: 'portal', userId: MANAGER, roles: [] })
  const tombstone = { id: TARGET, status: 2, isDeleted: true, rootOrgId: null, managedBy: null }

  /** The managed user (TARGET) soft-deleted of their own, their manager active. */
  async function managedAndSoftDeleted(): Promise<DeletionWorld> {
    const w = deletionWorld({
      seed: [
        { id: MANAGER, rootOrgId: 'org-1', organisationIds: ['org-1'] },
        { id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'], managedBy: MANAGER },
      ],
    })
    w.search.users.set(TARGET, { id: TARGET, userId: TARGET, status: 1, isDeleted: false, isBlocked: false })
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    // Later than the soft deletion, as any deletion that follows it is.
    w.clock.advance(1_000)
    return w
  }

  /** The manager's deletion (hard, or Sunbird's without a mode), run once from inside the cancel. */
  const managersDeletion = (w: DeletionWorld, mode?: 'hard') => deleteAccount(w.deps, { requestId: 'manager-1', userId: MANAGER, caller: managerSelf(), ...(mode && { mode }) })

  const cancelledRecords = (w: DeletionWorld) => w.audit.records.filter((record) => record.requestId === 'soft-1' && record.event === 'deletion.cancelled')
  const failedRecords = (w: DeletionWorld) => w.audit.records.filter((record) => record.requestId === 'soft-1' && record.event === 'deletion.failed')

  /** What a cancel that lost the user to the manager's erasure must leave: no false record, nothing open, the user erased and locked out. */
  async function expectSuperseded(w: DeletionWorld) {
    expect(cancelledRecords(w)).toEqual([])
    expect(failedRecords(w)).toEqual([expect.objectContaining({ detail: { reason: 'superseded' } })])
    expect(w.requests.peek('soft-1')).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(w.requests.isOpen('soft-1')).toBe(false)
    expect(await lockOutStanding(w, TARGET)).toBe('deleted')
    expect(w.listener.restored).toEqual([])
  }

  it('when the manager’s hard deletion takes the hold between the cancel’s hold check and its row write, then the row stays the tombstone (the write is refused), no deletion.cancelled is stored, the request ends superseded, and the caller hears the user does not exist', async () => {
    // Arrange: the hard deletion runs whole right before the row's restore is sent.
    const w = await managedAndSoftDeleted()
    const restoreStatus = w.users.restoreStatus.bind(w.users)
    let interleaved = false
    w.users.restoreStatus = async (...args) => {
      if (!interleaved) {
        interleaved = true
        await managersDeletion(w, 'hard')
      }
      return restoreStatus(...args)
    }

    // Act
    const error = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    // Assert
    expect(error).toBeInstanceOf(UserNotFoundError)
    expect(w.users.snapshot(TARGET)).toEqual(tombstone)
    expect(w.states.peek(TARGET)).toEqual({ mode: 'hard', requestId: 'manager-1' })
    await expectSuperseded(w)
  })

  it('when the manager’s hard deletion takes the hold before the Keycloak step, then the cancel restores nothing more: the account is not enabled and the row not touched', async () => {
    // Arrange: the hard deletion runs while the cancel restores the search document (the first step it undoes).
    const w = await managedAndSoftDeleted()
    const restoreFlags = w.search.restoreUserFlags.bind(w.search)
    w.search.restoreUserFlags = async (...args) => {
      const restored = await restoreFlags(...args)
      await managersDeletion(w, 'hard')
      return restored
    }
    const enable = vi.spyOn(w.identity, 'enableAccount')

    // Act
    const error = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    // Assert
    expect(error).toBeInstanceOf(UserNotFoundError)
    expect(enable).not.toHaveBeenCalled()
    expect(w.users.callCount('restoreStatus')).toBe(0)
    expect(w.users.snapshot(TARGET)).toEqual(tombstone)
    await expectSuperseded(w)
  })

  it('when the manager’s deletion without a mode erases them during the cancel, then that deletion takes the restoring hold, the scrubbed row stays deleted, and the caller hears the user was erased', async () => {
    const w = await managedAndSoftDeleted()
    const enable = w.identity.enableAccount.bind(w.identity)
    w.identity.enableAccount = async (...args) => {
      const enabled = await enable(...args)
      await managersDeletion(w)
      return enabled
    }

    const error = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    expect(error).toBeInstanceOf(UserErasedError)
    expect(w.states.peek(TARGET)).toEqual({ mode: 'sunbird', requestId: 'manager-1' })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
    expect(w.users.callCount('restoreStatus')).toBe(0)
    await expectSuperseded(w)
  })

  it('when the audit record of the superseded end cannot be stored, then the sweeper stores it and the request ends superseded, restoring nothing', async () => {
    // Arrange
    const w = await managedAndSoftDeleted()
    const restoreStatus = w.users.restoreStatus.bind(w.users)
    w.users.restoreStatus = async (...args) => {
      if (w.states.peek(TARGET)?.mode === 'restoring') {
        await managersDeletion(w, 'hard')
        w.audit.failNext(new DependencyUnavailableError('cassandra'))
      }
      return restoreStatus(...args)
    }
    // Never the cancel's success; the record is owed.
    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)).toBeInstanceOf(Error)
    expect(failedRecords(w)).toEqual([])

    // Act: another instance's sweeper, once the run's lease has run out.
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)

    // Assert
    expect(w.users.snapshot(TARGET)).toEqual(tombstone)
    await expectSuperseded(w)
  })
})

describe('a cancel whose row was erased outside this service', () => {
  it('when the row is removed outright while the cancel restores the user, then it is not written back: the hold is dropped, the request ends failed (not-found), and the caller hears the user does not exist', async () => {
    // Arrange: no deletion of this service holds the user; someone deletes the row before its restore.
    const w = await softDeleted()
    const restoreStatus = w.users.restoreStatus.bind(w.users)
    w.users.restoreStatus = async (...args) => {
      w.users.removeRow(TARGET)
      return restoreStatus(...args)
    }

    // Act
    const error = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    // Assert
    expect(error).toBeInstanceOf(UserNotFoundError)
    expect(w.users.snapshot(TARGET)).toBeUndefined()
    expect(w.states.peek(TARGET)).toBeUndefined()
    expect(w.requests.peek('soft-1')).toMatchObject({ state: 'failed', reason: 'not-found' })
    expect(w.audit.eventsOf('soft-1')).not.toContain('deletion.cancelled')
    expect(w.listener.restored).toEqual([])
  })

  it('when a lock recorded before its time was kept is cancelled, then the row is restored as before', async () => {
    // Arrange: the lock outcome as a soft deletion recorded it before this change (no lockedAt).
    const w = await softDeleted()
    const request = w.requests.peek('soft-1')
    if (!request?.steps.lock?.restore) throw new Error('no lock outcome')
    const { lockedAt: _dropped, ...older } = request.steps.lock.restore
    request.steps.lock = { ...request.steps.lock, restore: older }
    w.requests.seed(request)

    // Act
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    // Assert
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
  })
})

describe('cancelDeletion and the gate of this instance', () => {
  it('when a cancel drops its hold, then the gate is told once that the user is back', async () => {
    const w = await softDeleted()

    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    expect(w.listener.restored).toEqual([TARGET])
  })

  it('when a cancel’s final write failed after its hold was dropped, then the sweeper’s rerun does not tell the gate again (the user may be deleted again by then)', async () => {
    const w = await softDeleted()
    w.requests.failNext('finish', new DependencyUnavailableError('cassandra'))
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch(() => undefined)
    expect(w.listener.restored).toEqual([TARGET])

    await resumeOpenDeletions(w.deps)

    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(w.listener.restored).toEqual([TARGET])
  })
})

describe('a cancel of a soft deletion whose deletion.completed is not stored yet', () => {
  it('when the soft deletion is between its finish and its record, then a cancel waits for it (the run keeps its lease): refused with 503, nothing reopened', async () => {
    const w = deletionWorld({ seed })
    const append = w.audit.append.bind(w.audit)
    const held = gate()
    let entered!: () => void
    const inAppend = new Promise<void>((resolve) => {
      entered = resolve
    })
    w.audit.append = async (record) => {
      if (record.event === 'deletion.completed') {
        entered()
        await held.opened
      }
      return append(record)
    }
    const deletion = deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    await inAppend

    const refused = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)
    held.open()
    await deletion

    expect(refused).toBeInstanceOf(DependencyUnavailableError)
    expect(w.requests.peek('soft-1')?.state).toBe('completed')
    expect(w.requests.isOpen('soft-1')).toBe(false)
    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: self() })).toEqual({ requestId: 'soft-1' })
    expect(w.audit.eventsOf('soft-1')).toEqual(['deletion.accepted', 'deletion.completed', 'deletion.cancelled'])
  })

  it('when the soft deletion’s deletion.completed could not be stored, then a cancel once its lease has run out stores it before its own record', async () => {
    const w = deletionWorld({ seed })
    w.audit.failNextOf('deletion.completed', new DependencyUnavailableError('cassandra'))
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' }).catch(() => undefined)
    expect(w.requests.peek('soft-1')?.state).toBe('completed')
    w.clock.advance(WORLD_LEASE_MS + 1)

    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: self() })).toEqual({ requestId: 'soft-1' })

    expect(w.audit.eventsOf('soft-1')).toEqual(['deletion.accepted', 'deletion.completed', 'deletion.cancelled'])
    expect(w.requests.isOpen('soft-1')).toBe(false)
  })

  it('when the record the cancel owes first cannot be stored either, then the cancel answers 503 having changed nothing: the hold stays the soft deletion’s, and the sweeper stores the record later', async () => {
    const w = deletionWorld({ seed })
    w.audit.failNextOf('deletion.completed', new DependencyUnavailableError('cassandra'))
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' }).catch(() => undefined)
    w.clock.advance(WORLD_LEASE_MS + 1)
    w.audit.failNextOf('deletion.completed', new DependencyUnavailableError('cassandra'))

    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)).toBeInstanceOf(DependencyUnavailableError)

    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'soft', requestId: 'soft-1' })
    expect(w.requests.peek('soft-1')?.state).toBe('completed')
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)
    expect(w.audit.eventsOf('soft-1')).toEqual(['deletion.accepted', 'deletion.completed'])
    expect(w.requests.isOpen('soft-1')).toBe(false)
  })

  it('when the cancel cannot tell whether the record is owed (the list unreadable), then the lease is kept, not given back as if closed, and the sweeper stores the record once', async () => {
    const w = deletionWorld({ seed })
    w.audit.failNextOf('deletion.completed', new DependencyUnavailableError('cassandra'))
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' }).catch(() => undefined)
    w.clock.advance(WORLD_LEASE_MS + 1)
    w.requests.failNext('isListed', new DependencyUnavailableError('cassandra'))

    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)).toBeInstanceOf(DependencyUnavailableError)

    expect(w.requests.leaseOf('soft-1')?.getTime()).toBeGreaterThan(0)
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)
    expect(w.audit.eventsOf('soft-1')).toEqual(['deletion.accepted', 'deletion.completed'])
    expect(w.requests.isOpen('soft-1')).toBe(false)
  })
})

describe('a cancel of a closed soft deletion (completed, audited, unlisted, its lease given back)', () => {
  it('when its list entry has come back (a replica down past the tombstone window), then the cancel stores no second deletion.completed and does not read the list', async () => {
    const w = deletionWorld({ seed })
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    const closed = w.requests.peek('soft-1')
    if (!closed) throw new Error('no request')
    w.requests.seed(closed, { open: true })
    w.timeline.clear()

    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: self() })).toEqual({ requestId: 'soft-1' })

    expect(w.audit.eventsOf('soft-1')).toEqual(['deletion.accepted', 'deletion.completed', 'deletion.cancelled'])
    expect(w.timeline.count('requests.isListed')).toBe(0)
  })

  it('when the cancel stops after taking the hold and before reopening the request, then resuming the request by id finishes the cancel', async () => {
    const w = deletionWorld({ seed })
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    w.requests.failNext('reopen', new DependencyUnavailableError('cassandra'))
    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)).toBeInstanceOf(DependencyUnavailableError)
    expect(w.states.peek(TARGET)).toMatchObject({ mode: 'restoring', requestId: 'soft-1' })
    expect(await w.requests.isClosed('soft-1')).toBe(true)

    expect(await resumeDeletionReport(w.deps, 'soft-1')).toEqual({ state: 'cancelled', closed: false })

    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(w.audit.eventsOf('soft-1')).toEqual(['deletion.accepted', 'deletion.completed', 'deletion.cancelled'])
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(w.states.peek(TARGET)).toBeUndefined()
  })

  it('when the request cannot be read once the cancel holds its lease, then the lease is kept, not given back (it may owe its end’s record): 503', async () => {
    const w = deletionWorld({ seed })
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    const get = w.requests.get.bind(w.requests)
    let leased = false
    const acquireLease = w.requests.acquireLease.bind(w.requests)
    w.requests.acquireLease = async (...args) => {
      leased = await acquireLease(...args)
      return leased
    }
    w.requests.get = async (id) => {
      if (leased) throw new DependencyUnavailableError('cassandra')
      return get(id)
    }

    expect(await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)).toBeInstanceOf(DependencyUnavailableError)

    expect(leased).toBe(true)
    expect(w.requests.leaseOf('soft-1')?.getTime()).toBeGreaterThan(w.clock.now().getTime())
  })
})

describe('a cancel of a soft-deleted row another writer stamped since the lock', () => {
  // While the cancel still holds the user, the row is put back over that write (UserStore.restoreStatus); a deletion that took the user is never undone.
  const MANAGER = '9b9e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d49'
  const managerSelf = (): Caller => ({ consumer: 'portal', userId: MANAGER, roles: [] })
  /** A profile as Sunbird keeps it: the fake counts a row with no name, email or phone left as erased. */
  const profile = { username: 'asha.k', firstname: 'Asha', lastname: 'Verma', email: 'asha@example.org', phone: '9876543210' }
  const tombstone = { id: TARGET, status: 2, isDeleted: true, rootOrgId: null, managedBy: null }

  async function softDeletedWithProfile(managedBy?: string): Promise<DeletionWorld> {
    const w = deletionWorld({
      seed: [
        ...(managedBy ? [{ id: managedBy, rootOrgId: 'org-1', organisationIds: ['org-1'] }] : []),
        { id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'], profile, ...(managedBy && { managedBy }) },
      ],
    })
    w.search.users.set(TARGET, { id: TARGET, userId: TARGET, status: 1, isDeleted: false, isBlocked: false })
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    w.clock.advance(1_000)
    return w
  }

  /** Sunbird's services write the soft-deleted row: its `updateddate` (and, with `updatedBy`, who updated it). */
  function outsideWrite(w: DeletionWorld, updatedBy?: string) {
    w.users.restamp(TARGET, { updatedBy: updatedBy ?? w.requests.peek('soft-1')?.requestedBy ?? null, at: w.clock.now() })
    w.clock.advance(1_000)
  }

  /** A request of Sunbird's route (no mode) on the user, by their org admin. */
  function sunbirdRequest(id: string, now: Date): DeletionRequest {
    return acceptedRequest({ id, userId: TARGET, requestedBy: 'org-admin-1', plan: 'sunbird', target: { rootOrgId: 'org-1', managedBy: null, organisationIds: ['org-1'] }, now })
  }

  /** The cancel's first row restore applies but its answer is lost: the cancel fails, the row reads active. */
  async function cancelWithLostRestoreAnswer(w: DeletionWorld) {
    const restoreStatus = w.users.restoreStatus.bind(w.users)
    let lost = false
    w.users.restoreStatus = async (...args) => {
      const restored = await restoreStatus(...args)
      if (!lost) {
        lost = true
        throw new DependencyUnavailableError('cassandra')
      }
      return restored
    }
    await expect(cancelDeletion(w.deps, { userId: TARGET, caller: self() })).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
  }

  /** A request without a mode locks the active row (it takes no hold) and has not scrubbed it yet. */
  async function lockedWithoutHold(w: DeletionWorld) {
    const current = w.users.snapshot(TARGET)
    if (!current) throw new Error('no user')
    expect(await w.users.markDeleted(current, { requestedBy: 'org-admin-1', at: w.clock.now() })).toEqual({ kind: 'deleted' })
    w.clock.advance(1_000)
  }

  /** The cancel answers, ends cancelled and puts the row back active. */
  async function expectCancelRestores(w: DeletionWorld) {
    const answer = await cancelDeletion(w.deps, { userId: TARGET, caller: self() })
    expect(answer).toEqual({ requestId: 'soft-1' })
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
  }

  /** The cancel rerun over a row a request without a mode locked: that lock stands, the cancel ends superseded, the hold dropped. */
  function expectLeftToThatDeletion(w: DeletionWorld, error: unknown) {
    expect(error).toBeInstanceOf(UserErasedError)
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
    expect(w.requests.peek('soft-1')).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(w.audit.eventsOf('soft-1')).not.toContain('deletion.cancelled')
    expect(w.states.peek(TARGET)).toBeUndefined()
  }

  it('when Sunbird’s services wrote updateddate on the row between the lock and the cancel, then the cancel restores the row, stores deletion.cancelled and ends cancelled', async () => {
    // Arrange
    const w = await softDeletedWithProfile()
    outsideWrite(w)

    // Act
    const answer = await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    // Assert: the whole user is back, not the account and the document beside a row still deleted.
    expect(answer).toEqual({ requestId: 'soft-1' })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(w.requests.peek('soft-1')?.steps.lock).toMatchObject({ status: 'done', action: 'restored' })
    expect(w.audit.eventsOf('soft-1')).toEqual(['deletion.accepted', 'deletion.completed', 'deletion.cancelled'])
    expect(w.states.peek(TARGET)).toBeUndefined()
    expect(w.listener.restored).toEqual([TARGET])
    expect((await w.identity.readAccount(TARGET))?.enabled).toBe(true)
    expect(await lockOutStanding(w, TARGET)).toBe('active')
  })

  it('when an admin script wrote updatedby and updateddate on a row whose lock was recorded before its time was kept, then the cancel restores the row all the same', async () => {
    // Arrange: the lock outcome without lockedAt (matched on updatedby alone), and another updatedby on the row.
    const w = await softDeletedWithProfile()
    const request = w.requests.peek('soft-1')
    if (!request?.steps.lock?.restore) throw new Error('no lock outcome')
    const { lockedAt: _dropped, ...older } = request.steps.lock.restore
    request.steps.lock = { ...request.steps.lock, restore: older }
    w.requests.seed(request)
    outsideWrite(w, 'admin-script')

    // Act
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    // Assert
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(w.audit.eventsOf('soft-1')).toContain('deletion.cancelled')
  })

  it('when a manager’s hard deletion took the hold (and erased the row) after the outside write, right before the row’s restore, then the cancel still ends superseded: the tombstone is not reactivated and no deletion.cancelled is stored', async () => {
    // Arrange
    const w = await softDeletedWithProfile(MANAGER)
    outsideWrite(w)
    const restoreStatus = w.users.restoreStatus.bind(w.users)
    let interleaved = false
    w.users.restoreStatus = async (...args) => {
      if (!interleaved) {
        interleaved = true
        await deleteAccount(w.deps, { requestId: 'manager-1', userId: MANAGER, caller: managerSelf(), mode: 'hard' })
      }
      return restoreStatus(...args)
    }

    // Act
    const error = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    // Assert
    expect(error).toBeInstanceOf(UserNotFoundError)
    expect(w.users.snapshot(TARGET)).toEqual(tombstone)
    expect(w.states.peek(TARGET)).toEqual({ mode: 'hard', requestId: 'manager-1' })
    expect(w.requests.peek('soft-1')).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(w.audit.eventsOf('soft-1')).not.toContain('deletion.cancelled')
    expect(w.listener.restored).toEqual([])
    expect(await lockOutStanding(w, TARGET)).toBe('deleted')
  })

  it('when a hard deletion has taken the hold but not yet written the row (stamped by the outside write, not erased), then the row is not reactivated: the cancel ends superseded', async () => {
    // Arrange: the hold moves to the hard deletion right before the row's restore, the row untouched by it so far.
    const w = await softDeletedWithProfile()
    outsideWrite(w)
    const restoreStatus = w.users.restoreStatus.bind(w.users)
    const answers: string[] = []
    w.users.restoreStatus = async (...args) => {
      await w.states.swap(TARGET, { mode: 'restoring', requestId: 'soft-1' }, { mode: 'hard', requestId: 'hard-1' })
      const answer = await restoreStatus(...args)
      answers.push(answer)
      return answer
    }

    // Act
    const error = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    // Assert: the restore itself was refused (not put back and then locked again by the superseded end).
    expect(answers).toEqual(['changed'])
    expect(w.users.callCount('markDeleted', TARGET)).toBe(1)
    expect(error).toBeInstanceOf(UserNotFoundError)
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
    expect(w.states.peek(TARGET)).toEqual({ mode: 'hard', requestId: 'hard-1' })
    expect(w.requests.peek('soft-1')).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(w.audit.eventsOf('soft-1')).not.toContain('deletion.cancelled')
    expect(w.listener.restored).toEqual([])
  })

  it('when a deletion without a mode (which takes no hold) locked the row while an earlier restore of this cancel had put it back, then the cancel’s rerun leaves that deletion’s row deleted and ends superseded', async () => {
    // Arrange: the first restore applies but its answer is lost; the row reads active meanwhile.
    const w = await softDeletedWithProfile()
    await cancelWithLostRestoreAnswer(w)
    // A request without a mode, accepted while the row read active, locks it.
    w.clock.advance(1_000)
    w.requests.seed(sunbirdRequest('sunbird-1', w.clock.now()))
    await lockedWithoutHold(w)

    // Act: the cancel again.
    const error = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    // Assert: that deletion's lock stands; the cancel lets the row alone say where the user is.
    expectLeftToThatDeletion(w, error)
  })

  it('when a request without a mode accepted before the soft deletion crashed before its lock and, resumed, locked the row an earlier restore of this cancel had put back, then the cancel’s rerun leaves that deletion’s row deleted and ends superseded', async () => {
    // Arrange: Sunbird's route accepted a deletion of the user, and its runner died before its lock.
    const w = deletionWorld({ seed: [{ id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'], profile }] })
    w.requests.seed(sunbirdRequest('sunbird-old', w.clock.now()))
    w.clock.advance(1_000)
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    w.clock.advance(1_000)
    // The cancel's restore applies, but its answer is lost: the request stays cancelling.
    await cancelWithLostRestoreAnswer(w)
    expect(w.requests.peek('soft-1')?.state).toBe('cancelling')
    // The old request, resumed once its lease ran out, locks the now active row.
    w.clock.advance(1_000)
    await lockedWithoutHold(w)

    // Act: the cancel again.
    const error = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    // Assert: that deletion's lock stands; the cancel ends superseded as it did before restores over a stamp.
    expectLeftToThatDeletion(w, error)
    expect(w.listener.restored).toEqual([])
  })

  it('when a request without a mode created after the soft deletion has failed, then it does not keep the cancel from restoring a stamped row', async () => {
    // Arrange: Sunbird's route refused a deletion of the soft-deleted user (failed, superseded), then an outside stamp.
    const w = await softDeletedWithProfile()
    const refused = sunbirdRequest('sunbird-refused', w.clock.now())
    w.requests.seed({ ...refused, state: 'failed', reason: 'superseded' })
    w.clock.advance(1_000)
    outsideWrite(w)

    // Act, Assert
    await expectCancelRestores(w)
  })

  it('when Sunbird’s services stamp the row again between each read and retry of the restore, then the cancel fails as contention (503) and stays cancelling, and the sweeper finishes it once the stamping stops', async () => {
    // Arrange: every ask of whether the cancel still holds the user sees another stamp land right after it.
    const w = await softDeletedWithProfile()
    outsideWrite(w)
    const findByUser = w.requests.findByUser.bind(w.requests)
    let stamping = true
    w.requests.findByUser = async (...args) => {
      if (stamping) outsideWrite(w)
      return findByUser(...args)
    }

    // Act
    const error = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    // Assert: not superseded (no lock-out for good): open, its hold kept, for a later pass.
    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect(((error as DependencyUnavailableError).cause as Error).message).toBe('the user row kept changing during the restore')
    expect(w.requests.peek('soft-1')?.state).toBe('cancelling')
    expect(w.requests.isOpen('soft-1')).toBe(true)
    expect(w.states.peek(TARGET)).toEqual({ mode: 'restoring', requestId: 'soft-1' })
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })

    stamping = false
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)
    expect(w.requests.peek('soft-1')?.state).toBe('cancelled')
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    expect(w.audit.eventsOf('soft-1')).toContain('deletion.cancelled')
  })

  it('when a request without a mode completed before the soft deletion (an admin reactivated the user since), then it does not keep the cancel from restoring a stamped row', async () => {
    // Arrange: Sunbird's deletion of the user long ago, then the soft deletion, then an outside stamp.
    const w = deletionWorld({ seed: [{ id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'], profile }] })
    const longAgo = new Date(w.clock.now().getTime() - 30 * WORLD_GRACE_DAY_MS)
    const old = sunbirdRequest('sunbird-old', longAgo)
    w.requests.seed({ ...old, state: 'completed' })
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    w.clock.advance(1_000)
    outsideWrite(w)

    // Act, Assert
    await expectCancelRestores(w)
  })
})

describe('a cancel whose move of the hold is refused because a hard deletion has just taken it', () => {
  /** Runs a hard deletion of the user right before the cancel's swap of the hold, while the cancel holds the soft request's lease. */
  function hardDeletionBeforeTheSwap(w: DeletionWorld) {
    const swap = w.states.swap.bind(w.states)
    let ran = false
    w.states.swap = async (userId, from, to) => {
      if (!ran && to?.mode === 'restoring') {
        ran = true
        await deleteAccount(w.deps, { requestId: 'hard-1', userId: TARGET, caller: self(), mode: 'hard' })
        w.timeline.clear()
      }
      return swap(userId, from, to)
    }
  }

  it('when the soft deletion is a grace period waiting for its erasure, then the cancel ends it superseded under its lease (finished, audited, unlisted, then the lease given back) and the caller hears the user does not exist', async () => {
    // Arrange: the hard deletion's own supersede is refused the grace period's lease, which the cancel holds.
    const w = deletionWorld({ seed })
    await deleteAccount(w.deps, { requestId: 'grace-1', userId: TARGET, caller: self(), gracePeriodDays: 1 })
    expect(w.requests.peek('grace-1')?.state).toBe('scheduled')
    w.clock.advance(1_000)
    hardDeletionBeforeTheSwap(w)

    // Act
    const error = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    // Assert: no pending erasure left for a user already hard-deleted.
    expect(error).toBeInstanceOf(UserNotFoundError)
    expect(w.requests.peek('hard-1')?.state).toBe('completed')
    expect(w.states.peek(TARGET)).toEqual({ mode: 'hard', requestId: 'hard-1' })
    expect(w.requests.peek('grace-1')).toMatchObject({ state: 'failed', reason: 'superseded' })
    expect(w.audit.eventsOf('grace-1').filter((event) => event === 'deletion.failed')).toHaveLength(1)
    expect(w.audit.eventsOf('grace-1')).not.toContain('deletion.cancelled')
    expect(w.requests.isOpen('grace-1')).toBe(false)
    expect(w.requests.leaseOf('grace-1')?.getTime()).toBe(0)
    const writes = w.timeline.writes()
    const order = ['requests.finish(failed)', 'audit.append(deletion.failed)', 'requests.unlist', 'requests.releaseLease'].map((entry) => writes.findIndex((write) => write.startsWith(entry)))
    expect(order.every((at) => at >= 0)).toBe(true)
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    // Its erasure, once due, finds nothing to do.
    w.clock.advance(2 * WORLD_GRACE_DAY_MS)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 0 })
  })

  it('when the soft deletion has completed (no grace period), then it keeps its end: the cancel ends nothing and the caller hears the user does not exist', async () => {
    const w = await softDeleted()
    hardDeletionBeforeTheSwap(w)

    const error = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    expect(error).toBeInstanceOf(UserNotFoundError)
    expect(w.requests.peek('soft-1')?.state).toBe('completed')
    expect(w.audit.eventsOf('soft-1')).not.toContain('deletion.failed')
    expect(w.requests.isOpen('soft-1')).toBe(false)
  })
})

describe('a cancel whose hold keeps moving', () => {
  it('when every compare-and-set of the hold is lost, then the cancel fails as contention (DependencyUnavailableError, worded), not an unexpected error', async () => {
    // Arrange: two completed soft deletions of the user, the hold moved from one to the other right before each swap.
    const w = await softDeleted()
    const first = w.requests.peek('soft-1')
    if (!first) throw new Error('no soft deletion')
    w.requests.seed({ ...first, id: 'soft-2' }, { open: false })
    for (const to of ['soft-2', 'soft-1', 'soft-2']) w.states.beforeNextSwap(() => w.states.set(TARGET, { mode: 'soft', requestId: to }))

    // Act
    const error = await cancelDeletion(w.deps, { userId: TARGET, caller: self() }).catch((err: unknown) => err)

    // Assert
    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect((error as DependencyUnavailableError).cause).toBeInstanceOf(WordedCause)
    expect(((error as DependencyUnavailableError).cause as Error).message).toBe('the deletion state of the user kept changing')
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 2, isDeleted: true })
  })
})

describe('cancel after a soft deletion whose search flag update landed but was not answered', () => {
  const FLAGS_BEFORE = { status: 1, isDeleted: false, isBlocked: false }

  /** TARGET soft-deleted while the search engine flags the document and then fails to answer (once). */
  async function flaggedUnanswered(): Promise<DeletionWorld> {
    const w = deletionWorld({ seed: [{ id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'] }] })
    w.search.users.set(TARGET, { id: TARGET, userId: TARGET, ...FLAGS_BEFORE })
    const flag = w.search.flagUserDeleted.bind(w.search)
    let answered = false
    w.search.flagUserDeleted = async (userId) => {
      await flag(userId)
      if (answered) return flag(userId)
      answered = true
      throw new DependencyUnavailableError('search')
    }
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: self(), mode: 'soft' })
    expect(w.search.users.get(TARGET)).toMatchObject({ status: 2, isDeleted: true, isBlocked: true })
    return w
  }

  it('when the person cancels at once, then the document gets the flags it had before the deletion back', async () => {
    const w = await flaggedUnanswered()

    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    expect(w.search.users.get(TARGET)).toMatchObject(FLAGS_BEFORE)
  })

  it('when the sweeper ran the step again first (reading the flagged document), then the cancel still puts back the flags from before the deletion', async () => {
    const w = await flaggedUnanswered()
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)
    expect(w.requests.peek('soft-1')?.steps.searchUser).toMatchObject({ status: 'done', action: 'flagged' })

    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    expect(w.search.users.get(TARGET)).toMatchObject(FLAGS_BEFORE)
  })
})

describe('cancels of one user sent at once', () => {
  it('when two race, then one restores the user and the other is refused as a race lost (ContentionError: answered 503, its reason contention, not an outage)', async () => {
    const w = await softDeleted()

    const outcomes = await Promise.all(
      [cancelDeletion(w.deps, { userId: TARGET, caller: self() }), cancelDeletion(w.deps, { userId: TARGET, caller: self() })].map((cancel) => cancel.catch((err: unknown) => err)),
    )

    const lost = outcomes.filter((outcome) => outcome instanceof Error)
    expect(outcomes.filter((outcome) => !(outcome instanceof Error))).toEqual([{ requestId: 'soft-1' }])
    expect(lost).toEqual([expect.any(ContentionError)])
    const error = lost[0] as ContentionError
    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect(error.message).toMatch(/^contended: lost a race/)
    expect((error.cause as WordedCause).message).toBe('the deletion request is held by another runner (a cancel or the deletion of the same user under way)')
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
  })
})
