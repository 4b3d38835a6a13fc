import { describe, expect, it } from 'vitest'
import { WORLD_GRACE_DAY_MS, WORLD_LEASE_MS, WORLD_NOW, deletionWorld } from '../../test/support/fakes/deletion-world.js'
import type { Caller } from './caller.js'
import { deleteAccount } from './delete-account.js'
import type { StepOutcome } from './deletion-request.js'
import { DependencyUnavailableError } from './errors.js'
import { countOwedRun, type OwedRetry, owedDueAt } from './owed-retry.js'
import { resumeOpenDeletions } from './run-deletion.js'
import { addedByNameBudgetMs } from './steps/search-added-by-name.js'

const USER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const AT = WORLD_NOW.toISOString()
const self = (): Caller => ({ consumer: 'portal', userId: USER, roles: [] })
/** The longest wait of RETRY: a minute. */
const RETRY_MAX_MS = 60_000
/** One second, doubled per run in a row, at most a minute (no jitter: the waits are exact). */
const RETRY: OwedRetry = { waitMs: (runs) => Math.min(RETRY_MAX_MS, 1000 * 2 ** (runs - 1)) }
const later = (ms: number) => new Date(WORLD_NOW.getTime() + ms)

const unreachable = (owedRuns?: number): StepOutcome => ({ status: 'pending', action: 'unreachable', at: AT, ...(owedRuns !== undefined && { owedRuns }) })
const unfinished: StepOutcome = { status: 'pending', action: 'unfinished', at: AT }
const done: StepOutcome = { status: 'done', action: 'deleted', at: AT }
/** A run of a step that told of a dependency it could not reach, and nothing else. */
const toldOnly = { toldOfADependency: true, owesPastABound: false, changedSomething: false }

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
    expect(countOwedRun(unreachable(), unreachable(2), toldOnly)).toMatchObject({ owedRuns: 3 })
    expect(countOwedRun(unreachable(), unreachable(), toldOnly)).toMatchObject({ owedRuns: 1 })
    expect(countOwedRun(unreachable(), done, toldOnly)).toMatchObject({ owedRuns: 1 })
    expect(countOwedRun(unreachable(), undefined, toldOnly)).toMatchObject({ owedRuns: 1 })
  })

  it('countOwedRun: none when no dependency was told of, or when part of the work is owed past a per-run bound only', () => {
    expect(countOwedRun(unfinished, unreachable(2), { ...toldOnly, toldOfADependency: false })).not.toHaveProperty('owedRuns')
    expect(countOwedRun(unreachable(), unreachable(2), { ...toldOnly, owesPastABound: true })).not.toHaveProperty('owedRuns')
    expect(countOwedRun(done, unreachable(2), toldOnly)).toEqual(done)
  })

  it('countOwedRun: after a run that made progress on the step (changed something, or owes fewer stores than before), the count starts again at one', () => {
    expect(countOwedRun(unreachable(), unreachable(4), { ...toldOnly, changedSomething: true })).toMatchObject({ owedRuns: 1 })
    const lines = (...owed: string[]) => ['a', 'b'].map((store) => ({ store, action: owed.includes(store) ? 'pending' : 'deleted', count: 1 }))
    expect(countOwedRun({ ...unreachable(), entries: lines('b') }, { ...unreachable(4), entries: lines('a', 'b') }, toldOnly)).toMatchObject({ owedRuns: 1 })
    expect(countOwedRun({ ...unreachable(), entries: lines('a', 'b') }, { ...unreachable(4), entries: lines('a', 'b') }, toldOnly)).toMatchObject({ owedRuns: 5 })
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
    expect(await resumeOpenDeletions(w.deps, 200, undefined, { owedWaitsWithinMs: RETRY_MAX_MS })).toMatchObject({ resumed: 1, completed: 1 })
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
    w.deps.owedRetry = { waitMs: () => 10 * WORLD_GRACE_DAY_MS }
    w.clock.advance(1000)
    await resumeOpenDeletions(w.deps)
    expect(w.requests.peek('req-1')).toMatchObject({ state: 'scheduled', steps: { keycloak: { owedRuns: 2 } } })
    const eraseAt = w.requests.peek('req-1')?.schedule?.eraseAt
    expect((await w.requests.listOpen(100, new Date(Number(eraseAt?.getTime())))).map((entry) => entry.dueAt)).toEqual([eraseAt])
  })
})

/** A deletion world where `adders` (the user and the users they manage) each added `count` users to ORG, their name kept in those users' memberships. */
function worldWithAdders(adders: { id: string; managedBy?: string; added: number }[]) {
  const addedBy = (adder: string, count: number) => Array.from({ length: count }, (_, i) => `${adder.slice(0, 8)}-added-${String(i).padStart(3, '0')}`)
  const w = deletionWorld({
    seed: [
      ...adders.map(({ id, managedBy }) => ({ id, rootOrgId: 'org-1', organisationIds: ['org-1'], ...(managedBy && { managedBy }) })),
      ...adders.flatMap(({ id, added }) => addedBy(id, added)).map((id) => ({ id, rootOrgId: 'org-1' })),
    ],
  })
  for (const { id: adder, added } of adders) {
    for (const userId of addedBy(adder, added)) {
      w.users.setAdder(userId, 'org-1', adder, 'a name')
      w.search.users.set(userId, { id: userId, userId, status: 1, organisations: [{ organisationId: 'org-1', addedBy: adder, addedByName: 'a name' }] })
    }
  }
  w.deps.owedRetry = RETRY
  return w
}

describe('the retry delay of a request owed part by part, or owed after a run that made progress', () => {
  it('when one managed user’s Keycloak account is out of reach while another managed user’s search work stops at its per-run bound, then the managed users’ step counts no owed run: the request is due at once', async () => {
    const [reachable, unreachableChild] = ['6a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d42', '7b5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d43']
    const w = worldWithAdders([
      { id: USER, added: 0 },
      { id: reachable, managedBy: USER, added: 40 },
      { id: unreachableChild, managedBy: USER, added: 0 },
    ])
    const eraseAccount = w.identity.eraseAccount.bind(w.identity)
    w.identity.eraseAccount = async (id: string) => {
      if (id === unreachableChild) throw new DependencyUnavailableError('keycloak')
      return eraseAccount(id)
    }
    // A slow search engine: the search work of the managed user who added 40 users stops at the run's share of the lease.
    const eraseAdderName = w.search.eraseAdderName.bind(w.search)
    w.search.eraseAdderName = async (userId, adderId) => {
      w.clock.advance(1_000)
      return eraseAdderName(userId, adderId)
    }
    expect(addedByNameBudgetMs({ leaseMs: WORLD_LEASE_MS })).toBeLessThan(40_000)

    await deleteAccount(w.deps, { requestId: 'req-1', userId: USER, caller: self() })

    const managedUsers = w.requests.peek('req-1')?.steps.managedUsers
    expect(managedUsers).toMatchObject({ status: 'pending' })
    expect(managedUsers).not.toHaveProperty('owedRuns')
    expect(managedUsers?.entries).toEqual(
      expect.arrayContaining([{ store: 'keycloak (managed users)', action: 'pending' }, expect.objectContaining({ store: 'search.user_alias (addedByName) (managed users)', action: 'pending' })]),
    )
    expect(await listedBy(w, w.clock.now())).toBeDefined()
  })

  it('when a run rewrote some of the documents naming the user before the search engine failed, then the count of owed runs starts again at one; a run that changed nothing counts one more', async () => {
    const w = worldWithAdders([{ id: USER, added: 30 }])
    // The search engine fails every fourth rewrite: each run rewrites three documents, then finds it out of reach.
    const eraseAdderName = w.search.eraseAdderName.bind(w.search)
    let calls = 0
    w.search.eraseAdderName = async (userId, adderId) => {
      if (++calls % 4 === 0) throw new DependencyUnavailableError('search')
      return eraseAdderName(userId, adderId)
    }
    const owedRuns = () => w.requests.peek('req-1')?.steps.searchAddedByName?.owedRuns
    const rewritten = () => w.requests.peek('req-1')?.steps.searchAddedByName?.entries?.find((entry) => entry.store === 'search.user_alias (addedByName)')?.count
    const runWhenDue = async () => {
      const dueAt = (await listedBy(w, later(10 * 60_000)))?.dueAt
      w.clock.advance(Number(dueAt?.getTime()) - w.clock.now().getTime())
      expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, partial: 1 })
    }

    await deleteAccount(w.deps, { requestId: 'req-1', userId: USER, caller: self() })
    expect(w.requests.peek('req-1')?.steps.searchAddedByName).toMatchObject({ status: 'pending', action: 'unreachable', owedRuns: 1 })
    expect(rewritten()).toBe(3)

    await runWhenDue()
    expect(rewritten()).toBe(6)
    expect(owedRuns()).toBe(1)
    expect(await listedBy(w, new Date(w.clock.now().getTime() + 1000))).toBeDefined()

    // Down altogether: nothing changes, and the wait grows again.
    w.search.down = true
    await runWhenDue()
    expect(owedRuns()).toBe(2)
    await runWhenDue()
    expect(owedRuns()).toBe(3)
  })

  it('when the managed users’ runs rewrote documents naming a managed user before the search engine failed, then their step’s count starts again at one too, though the user’s own run of the search step changed something first', async () => {
    const child = '6a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d42'
    const w = worldWithAdders([
      { id: USER, added: 12 },
      { id: child, managedBy: USER, added: 12 },
    ])
    // The search engine fails every fourth rewrite: in each run, the user's and the managed user's work each rewrite three documents first.
    const eraseAdderName = w.search.eraseAdderName.bind(w.search)
    let calls = 0
    w.search.eraseAdderName = async (userId, adderId) => {
      if (++calls % 4 === 0) throw new DependencyUnavailableError('search')
      return eraseAdderName(userId, adderId)
    }

    await deleteAccount(w.deps, { requestId: 'req-1', userId: USER, caller: self() })
    expect(w.requests.peek('req-1')?.steps.managedUsers).toMatchObject({ status: 'pending', owedRuns: 1 })

    const dueAt = (await listedBy(w, later(10 * 60_000)))?.dueAt
    w.clock.advance(Number(dueAt?.getTime()) - w.clock.now().getTime())
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, partial: 1 })
    expect(calls).toBe(16)
    expect(w.requests.peek('req-1')?.steps).toMatchObject({ searchAddedByName: { owedRuns: 1 }, managedUsers: { status: 'pending', owedRuns: 1 } })
  })

  it('when Keycloak removes some managed users’ accounts in each run and times out for the others, then the managed users’ count of owed runs starts again at one after each such run; a run that removes none counts one more', async () => {
    const children = ['6a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d42', '7b5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d43', '8c5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d44']
    const w = worldWithAdders([{ id: USER, added: 0 }, ...children.map((id) => ({ id, managedBy: USER, added: 0 }))])
    // Keycloak removes one managed user's account per run, then times out for the rest (an account gone already answers absent).
    const eraseAccount = w.identity.eraseAccount.bind(w.identity)
    const removed = new Set<string>()
    let removalsLeftThisRun = 1
    w.identity.eraseAccount = async (id: string) => {
      if (id === USER || removed.has(id)) return eraseAccount(id)
      if (removalsLeftThisRun === 0) throw new DependencyUnavailableError('keycloak')
      removalsLeftThisRun--
      removed.add(id)
      return eraseAccount(id)
    }
    const managedUsers = () => w.requests.peek('req-1')?.steps.managedUsers
    const runWhenDue = async (removals: number) => {
      removalsLeftThisRun = removals
      const dueAt = (await listedBy(w, later(10 * 60_000)))?.dueAt
      w.clock.advance(Number(dueAt?.getTime()) - w.clock.now().getTime())
      return resumeOpenDeletions(w.deps)
    }

    await deleteAccount(w.deps, { requestId: 'req-1', userId: USER, caller: self() })
    expect(managedUsers()).toMatchObject({ status: 'pending', owedRuns: 1 })

    expect(await runWhenDue(1)).toMatchObject({ resumed: 1, partial: 1 })
    expect(removed.size).toBe(2)
    expect(managedUsers()?.entries).toContainEqual({ store: 'keycloak (managed users)', action: 'pending' })
    expect(managedUsers()?.owedRuns).toBe(1)

    // Nothing removed: the wait grows.
    expect(await runWhenDue(0)).toMatchObject({ resumed: 1, partial: 1 })
    expect(managedUsers()?.owedRuns).toBe(2)

    expect(await runWhenDue(1)).toMatchObject({ resumed: 1, completed: 1 })
    expect(removed.size).toBe(3)
  })

  it('when Keycloak can only disable a managed user’s account (it refuses the removal every run) while another’s is out of reach, then those runs are no progress: the managed users’ count of owed runs grows', async () => {
    const [keptChild, unreachableChild] = ['6a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d42', '7b5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d43']
    const w = worldWithAdders([
      { id: USER, added: 0 },
      { id: keptChild, managedBy: USER, added: 0 },
      { id: unreachableChild, managedBy: USER, added: 0 },
    ])
    // Sunbird's fallback, run after run: the account stays, disabled and blanked again, which changes nothing the second time.
    const eraseAccount = w.identity.eraseAccount.bind(w.identity)
    w.identity.eraseAccount = async (id: string) => {
      if (id === keptChild) return 'disabled'
      if (id === unreachableChild) throw new DependencyUnavailableError('keycloak')
      return eraseAccount(id)
    }
    const runWhenDue = async () => {
      const dueAt = (await listedBy(w, later(10 * 60_000)))?.dueAt
      w.clock.advance(Number(dueAt?.getTime()) - w.clock.now().getTime())
      expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, partial: 1 })
    }

    await deleteAccount(w.deps, { requestId: 'req-1', userId: USER, caller: self() })
    expect(w.requests.peek('req-1')?.steps.managedUsers).toMatchObject({ status: 'pending', owedRuns: 1 })
    await runWhenDue()
    expect(w.requests.peek('req-1')?.steps.managedUsers?.owedRuns).toBe(2)
    await runWhenDue()
    expect(w.requests.peek('req-1')?.steps.managedUsers?.owedRuns).toBe(3)
  })

  it('when Redis removes one managed user’s cached copy in a run and times out for the others, then the managed users’ count of owed runs starts again at one', async () => {
    const children = ['6a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d42', '7b5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d43', '8c5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d44']
    const w = worldWithAdders([{ id: USER, added: 0 }, ...children.map((id) => ({ id, managedBy: USER, added: 0 }))])
    for (const id of [USER, ...children]) w.cache.hashes.set(id, { firstName: 'a name' })
    // Redis removes one managed user's key per run, then times out for the rest (a key gone already counts 0).
    const deleteUser = w.cache.deleteUser.bind(w.cache)
    let removalsLeftThisRun = 1
    w.cache.deleteUser = async (id: string) => {
      if (id === USER || !w.cache.hashes.has(id)) return deleteUser(id)
      if (removalsLeftThisRun === 0) throw new DependencyUnavailableError('redis')
      removalsLeftThisRun--
      return deleteUser(id)
    }

    await deleteAccount(w.deps, { requestId: 'req-1', userId: USER, caller: self() })
    expect(w.requests.peek('req-1')?.steps.managedUsers).toMatchObject({ status: 'pending', owedRuns: 1 })

    removalsLeftThisRun = 1
    const dueAt = (await listedBy(w, later(10 * 60_000)))?.dueAt
    w.clock.advance(Number(dueAt?.getTime()) - w.clock.now().getTime())
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 1, partial: 1 })
    expect(w.cache.hashes.size).toBe(1)
    expect(w.requests.peek('req-1')?.steps.managedUsers).toMatchObject({ status: 'pending', owedRuns: 1 })
  })
})
