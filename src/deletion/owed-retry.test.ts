import { describe, expect, it } from 'vitest'
import { WORLD_GRACE_DAY_MS, WORLD_LEASE_MS, WORLD_NOW, deletionWorld } from '../../test/support/fakes/deletion-world.js'
import type { Caller } from './caller.js'
import { deleteAccount } from './delete-account.js'
import type { StepOutcome } from './deletion-request.js'
import { countOwedRun, type OwedRetry, owedDueAt } from './owed-retry.js'
import { resumeOpenDeletions } from './run-deletion.js'

const USER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const AT = WORLD_NOW.toISOString()
const self = (): Caller => ({ consumer: 'portal', userId: USER, roles: [] })
/** One second, doubled per run in a row, at most a minute (no jitter: the waits are exact). */
const RETRY: OwedRetry = { maxMs: 60_000, waitMs: (runs) => Math.min(60_000, 1000 * 2 ** (runs - 1)) }
const later = (ms: number) => new Date(WORLD_NOW.getTime() + ms)

const unreachable = (owedRuns?: number): StepOutcome => ({ status: 'pending', action: 'unreachable', at: AT, ...(owedRuns !== undefined && { owedRuns }) })
const unfinished: StepOutcome = { status: 'pending', action: 'unfinished', at: AT }
const done: StepOutcome = { status: 'done', action: 'deleted', at: AT }

function world() {
  const w = deletionWorld({ seed: [{ id: USER, rootOrgId: 'org-1', organisationIds: ['org-1'], lookups: 1 }] })
  w.deps.owedRetry = RETRY
  return w
}

/** The due time of the request's open entry, when a pass at `dueBy` lists it (undefined: listed, due at once). */
async function listedBy(w: ReturnType<typeof world>, dueBy: Date): Promise<{ dueAt?: Date } | undefined> {
  return (await w.requests.listOpen(100, dueBy)).find((entry) => entry.id === 'req-1')
}

describe('owedDueAt: when a request left owing steps is due again', () => {
  it('when no retry delay is configured, then nothing is said (the entry stays due at once)', () => {
    expect(owedDueAt({ keycloak: unreachable(3) }, undefined, WORLD_NOW)).toBeUndefined()
  })

  it('when every owed step waits on a dependency, then after the wait of the most runs in a row any of them counts', () => {
    expect(owedDueAt({ keycloak: unreachable(1), searchUser: unreachable(3), lookups: done }, RETRY, WORLD_NOW)).toEqual(later(4000))
  })

  it('when some owed step was left past a per-run bound (or counts no run), then at once, whatever the others wait on', () => {
    expect(owedDueAt({ keycloak: unreachable(5), searchAddedByName: unfinished }, RETRY, WORLD_NOW)).toBeNull()
    expect(owedDueAt({ lookups: done }, RETRY, WORLD_NOW)).toBeNull()
  })

  it('countOwedRun: one more than the owed outcome it replaces; the first after a done (or no) outcome counts one', () => {
    expect(countOwedRun(unreachable(), unreachable(2))).toMatchObject({ owedRuns: 3 })
    expect(countOwedRun(unreachable(), unreachable())).toMatchObject({ owedRuns: 1 })
    expect(countOwedRun(unreachable(), done)).toMatchObject({ owedRuns: 1 })
    expect(countOwedRun(unreachable(), undefined)).toMatchObject({ owedRuns: 1 })
  })
})

describe('the sweeper and a request owed because Keycloak is down, with a retry delay', () => {
  it('when the deletion leaves Keycloak owed, then the request stays partial and listed but is due only after the wait, which doubles run by run; the operator round takes it at once', async () => {
    const w = world()
    w.identity.goDown()
    await deleteAccount(w.deps, { requestId: 'req-1', userId: USER, caller: self() })
    expect(w.requests.peek('req-1')).toMatchObject({ state: 'partial', steps: { keycloak: { status: 'pending', owedRuns: 1 } } })
    expect(await listedBy(w, WORLD_NOW)).toBeUndefined()
    expect(await listedBy(w, later(1000))).toEqual(expect.objectContaining({ dueAt: later(1000) }))

    // A pass before the wait is over leaves it alone.
    w.clock.advance(999)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 0 })
    w.clock.advance(1)
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, partial: 1 })
    expect(w.requests.peek('req-1')?.steps.keycloak?.owedRuns).toBe(2)
    expect(await listedBy(w, later(1000 + 1999))).toBeUndefined()
    expect(await listedBy(w, later(1000 + 2000))).toBeDefined()

    // npm run deletion:resume: no wait, and Keycloak back, the request completes.
    w.identity.comeBack()
    expect(await resumeOpenDeletions(w.deps, 200, undefined, { owedWaitsWithinMs: RETRY.maxMs })).toMatchObject({ resumed: 1, completed: 1 })
    expect(w.requests.peek('req-1')?.state).toBe('completed')
  })

  it('when Keycloak hangs so that each retry outlasts its lease, then every retry still writes the due time, and the wait doubles run by run', async () => {
    const w = world()
    w.identity.goDown()
    await deleteAccount(w.deps, { requestId: 'req-1', userId: USER, caller: self() })
    // Each call to Keycloak now answers only after the run's lease has run out.
    const eraseAccount = w.identity.eraseAccount.bind(w.identity)
    w.identity.eraseAccount = async (id: string) => {
      w.clock.advance(WORLD_LEASE_MS + 1000)
      return eraseAccount(id)
    }
    for (const [runs, waitMs] of [
      [2, 2000],
      [3, 4000],
    ] as const) {
      const dueAt = (await listedBy(w, later(10 * 60_000)))?.dueAt
      w.clock.advance(Number(dueAt?.getTime()) - w.clock.now().getTime())
      expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, partial: 1 })
      expect(w.requests.peek('req-1')?.steps.keycloak?.owedRuns).toBe(runs)
      expect(await listedBy(w, w.clock.now())).toBeUndefined()
      expect(await listedBy(w, new Date(w.clock.now().getTime() + waitMs))).toEqual(expect.objectContaining({ dueAt: new Date(w.clock.now().getTime() + waitMs) }))
    }
  })

  it('when a grace period’s soft phase leaves Keycloak owed, then it is due after the wait, never after its erasure time', async () => {
    const w = world()
    w.identity.goDown()
    await deleteAccount(w.deps, { requestId: 'req-1', userId: USER, caller: self(), gracePeriodDays: 2 })
    expect(w.requests.peek('req-1')).toMatchObject({ state: 'scheduled', steps: { keycloak: { status: 'pending', owedRuns: 1 } } })
    expect(await listedBy(w, WORLD_NOW)).toBeUndefined()
    expect(await listedBy(w, later(1000))).toBeDefined()

    // A wait longer than the grace period: due at eraseAt.
    w.deps.owedRetry = { maxMs: 10 * WORLD_GRACE_DAY_MS, waitMs: () => 10 * WORLD_GRACE_DAY_MS }
    w.clock.advance(1000)
    await resumeOpenDeletions(w.deps)
    expect(w.requests.peek('req-1')).toMatchObject({ state: 'scheduled', steps: { keycloak: { owedRuns: 2 } } })
    const eraseAt = w.requests.peek('req-1')?.schedule?.eraseAt
    expect((await w.requests.listOpen(100, new Date(Number(eraseAt?.getTime())))).map((entry) => entry.dueAt)).toEqual([eraseAt])
  })
})
