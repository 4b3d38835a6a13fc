import { describe, expect, it, vi } from 'vitest'
import { deletionWorld, type DeletionWorld, WORLD_GRACE_DAY_MS, WORLD_LEASE_MS } from '../../test/support/fakes/deletion-world.js'
import { cancelDeletion } from './cancel-deletion.js'
import type { Caller } from './caller.js'
import { deleteAccount } from './delete-account.js'
import { DependencyUnavailableError, UserNotDeletedError } from './errors.js'
import { resumeOpenDeletions } from './run-deletion.js'
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

describe('a cancel interrupted before it reopened its request, met by the end of the grace period', () => {
  it('when a cancel stalls past its lease after taking the hold and the erasure comes due meanwhile, then the sweeper finishes the cancel instead of failing the request', async () => {
    // Arrange: a grace period of one day, nearly over; the cancel takes the hold (restoring) and
    // stalls just before reopening the request, past its lease and past the end of the period.
    const w = deletionWorld({ seed })
    await deleteAccount(w.deps, { requestId: 'grace-1', userId: TARGET, caller: self(), gracePeriodDays: 1 })
    w.clock.advance(WORLD_GRACE_DAY_MS - 1_000)
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
