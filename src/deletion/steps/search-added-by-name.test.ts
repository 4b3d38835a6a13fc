import { describe, expect, it } from 'vitest'
import { WORLD_LEASE_MS, type WorldOptions, deletionWorld } from '../../../test/support/fakes/deletion-world.js'
import type { Caller } from '../caller.js'
import { type DeletionInput, deleteAccount } from '../delete-account.js'
import { DependencyUnavailableError } from '../errors.js'
import { resumeOpenDeletions } from '../run-deletion.js'
import { ABSENT_ON_RESUME } from './absent-on-resume.js'
import type { StepContext } from './step.js'
import { ADDED_BY_NAME_MAX_DOCUMENTS, ADDED_BY_NAME_PAGE_SIZE, addedByNameBudgetMs, searchAddedByName } from './search-added-by-name.js'

const ADDER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const THIRD = '7c7e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d43'
const ORG = 'org-1'
const OTHER_ORG = 'org-2'
const ADDER_NAME = 'Asha Verma'
const THIRD_NAME = 'Ravi Kumar'

const self = (): Caller => ({ consumer: 'portal', userId: ADDER, roles: [] })
let counter = 0
const ask = (fields: Partial<DeletionInput> = {}): DeletionInput => ({ requestId: `req-${++counter}`, userId: ADDER, caller: self(), ...fields })

/** The adder, and `added` users they added to ORG (the first one also added to OTHER_ORG by a third adder), in the index and in user_organisation. */
function worldWithAdded(added: string[], options: WorldOptions = {}) {
  const w = deletionWorld({ seed: [{ id: ADDER, rootOrgId: ORG, organisationIds: [ORG] }, ...added.map((id) => ({ id, rootOrgId: ORG }))], ...options })
  added.forEach((userId, i) => {
    const memberships = [{ organisationId: ORG, addedBy: ADDER, addedByName: ADDER_NAME }]
    w.users.setAdder(userId, ORG, ADDER, ADDER_NAME)
    if (i === 0) {
      memberships.push({ organisationId: OTHER_ORG, addedBy: THIRD, addedByName: THIRD_NAME })
      w.users.setAdder(userId, OTHER_ORG, THIRD, THIRD_NAME)
    }
    w.search.users.set(userId, { id: userId, userId, firstName: 'Someone', status: 1, organisations: memberships })
  })
  return w
}

const namesIn = (document: unknown) => ((document as { organisations?: { addedByName?: string }[] })?.organisations ?? []).map((m) => m.addedByName ?? null)
const linesOf = (w: ReturnType<typeof deletionWorld>) => Object.fromEntries((w.requests.all()[0]?.receipt?.stores ?? []).map((entry) => [entry.store, entry]))

describe('searchAddedByName: the name of the person in the memberships they added other users to', () => {
  it.each([undefined, 'hard'] as const)(
    "when the person is deleted (mode %s), then their name leaves the other users' documents and user_organisation rows, a third adder's stays, and the receipt counts both",
    async (mode) => {
      const w = worldWithAdded(['u-1', 'u-2'])

      await deleteAccount(w.deps, ask(mode ? { mode } : {}))

      expect(w.requests.all()[0]?.state).toBe('completed')
      expect(namesIn(w.search.users.get('u-1'))).toEqual([null, THIRD_NAME])
      expect(namesIn(w.search.users.get('u-2'))).toEqual([null])
      expect(w.search.users.get('u-1')?.organisations).toEqual([
        { organisationId: ORG, addedBy: ADDER },
        { organisationId: OTHER_ORG, addedBy: THIRD, addedByName: THIRD_NAME },
      ])
      expect([w.users.adderNameOf('u-1', ORG), w.users.adderNameOf('u-2', ORG), w.users.adderNameOf('u-1', OTHER_ORG)]).toEqual([null, null, THIRD_NAME])
      const lines = linesOf(w)
      expect(lines['search.user_alias (addedByName)']).toMatchObject({ action: 'blanked', count: 2 })
      expect(lines['cassandra.user_organisation (addedbyname)']).toMatchObject({ action: 'blanked', count: 2 })
      expect(JSON.stringify(w.requests.all()[0])).not.toContain(ADDER_NAME)
    },
  )

  it('when the deletion is soft, then nothing of theirs is touched and the receipt says kept', async () => {
    const w = worldWithAdded(['u-1'])

    await deleteAccount(w.deps, ask({ mode: 'soft' }))

    expect(namesIn(w.search.users.get('u-1'))).toEqual([ADDER_NAME, THIRD_NAME])
    expect(w.users.adderNameOf('u-1', ORG)).toBe(ADDER_NAME)
    expect(w.requests.all()[0]?.steps.searchAddedByName).toBeUndefined()
    expect(linesOf(w)['search.user_alias (addedByName)']).toMatchObject({ action: 'kept' })
    expect(linesOf(w)['cassandra.user_organisation (addedbyname)']).toMatchObject({ action: 'kept' })
  })

  it.each([
    ['sunbird', 'blank', 2, 3],
    ['soft', 'keep', 0, 0],
  ] as const)('when the plan is previewed (%s), then it lists the documents and the user_organisation rows, as the receipt does', async (plan, action, documents, rows) => {
    const w = worldWithAdded(['u-1', 'u-2'])
    w.users.setAdder('u-1', OTHER_ORG, ADDER, ADDER_NAME)
    w.search.users.set('u-1', {
      id: 'u-1',
      userId: 'u-1',
      status: 1,
      organisations: [
        { organisationId: ORG, addedBy: ADDER, addedByName: ADDER_NAME },
        { organisationId: OTHER_ORG, addedBy: ADDER, addedByName: ADDER_NAME },
      ],
    })

    const lines = await searchAddedByName.preview({ deps: w.deps, userId: ADDER, plan } as unknown as Parameters<typeof searchAddedByName.preview>[0])

    expect(lines).toEqual([
      { store: 'search.user_alias (addedByName)', action, count: documents },
      { store: 'cassandra.user_organisation (addedbyname)', action, count: rows },
    ])
  })

  it('when the search engine is not configured, then the step says so and no user_organisation row is read', async () => {
    const w = worldWithAdded(['u-1'], { withoutSearch: true })

    await deleteAccount(w.deps, ask())

    expect(w.requests.all()[0]?.steps.searchAddedByName).toMatchObject({ status: 'skipped', action: 'not configured' })
    expect(w.users.calls.filter((call) => call.method === 'blankAdderName')).toEqual([])
    expect(w.users.adderNameOf('u-1', ORG)).toBe(ADDER_NAME)
  })

  it('when the search engine is down, then the step is owed, and the sweeper finishes it once it is back', async () => {
    const w = worldWithAdded(['u-1'])
    w.search.down = true

    await deleteAccount(w.deps, ask())
    expect(w.requests.all()[0]?.steps.searchAddedByName).toMatchObject({ status: 'pending', action: 'unreachable' })
    expect(w.users.adderNameOf('u-1', ORG)).toBe(ADDER_NAME)

    w.search.down = false
    w.clock.advance(60_000)
    await resumeOpenDeletions(w.deps)

    expect(w.requests.all()[0]?.state).toBe('completed')
    expect(namesIn(w.search.users.get('u-1'))).toEqual([null, THIRD_NAME])
    expect(w.users.adderNameOf('u-1', ORG)).toBeNull()
  })

  it("when Cassandra is unreachable as a user_organisation row's name is blanked, then the run stops there (the step is not recorded owed), and the sweeper's run finishes it", async () => {
    const w = worldWithAdded(['u-1'])
    w.users.failNext('blankAdderName', new DependencyUnavailableError('cassandra'))

    await deleteAccount(w.deps, ask())
    expect(w.requests.all()[0]?.state).toBe('in_progress')
    expect(w.requests.all()[0]?.steps.searchAddedByName).toBeUndefined()
    expect(namesIn(w.search.users.get('u-1'))).toEqual([ADDER_NAME, THIRD_NAME])

    w.clock.advance(60_000)
    await resumeOpenDeletions(w.deps)

    expect(w.requests.all()[0]?.state).toBe('completed')
    expect(w.users.adderNameOf('u-1', ORG)).toBeNull()
    expect(namesIn(w.search.users.get('u-1'))).toEqual([null, THIRD_NAME])
  })

  it('when a run is killed after it rewrote the documents, before its outcome was written, then the resumed run says absent on resume, not blanked 0', async () => {
    let killed = false
    const w = worldWithAdded(['u-1', 'u-2'], {
      afterStep: (step) => {
        if (step === 'searchAddedByName' && !killed) {
          killed = true
          throw new Error('killed')
        }
      },
    })

    await deleteAccount(w.deps, ask()).catch(() => undefined)
    expect(killed).toBe(true)
    expect(w.requests.all()[0]?.steps.searchAddedByName).toBeUndefined()
    w.clock.advance(60_000)
    await resumeOpenDeletions(w.deps)

    expect(w.requests.all()[0]?.state).toBe('completed')
    expect(linesOf(w)['search.user_alias (addedByName)']).toMatchObject({ action: ABSENT_ON_RESUME, count: 0 })
    expect(linesOf(w)['cassandra.user_organisation (addedbyname)']).toMatchObject({ action: ABSENT_ON_RESUME, count: 0 })
  })

  it('when the person added more users than a run may rewrite, then the step stays owed, the next run continues, and the receipt counts every one', async () => {
    const total = ADDED_BY_NAME_MAX_DOCUMENTS + 3
    const w = worldWithAdded(Array.from({ length: total }, (_, i) => `u-${String(i).padStart(5, '0')}`))

    await deleteAccount(w.deps, ask())
    expect(w.requests.all()[0]?.steps.searchAddedByName).toMatchObject({ status: 'pending', action: 'unfinished' })

    w.clock.advance(60_000)
    await resumeOpenDeletions(w.deps)

    expect(w.requests.all()[0]?.state).toBe('completed')
    expect([...w.search.users.values()].flatMap(namesIn).filter((name) => name === ADDER_NAME)).toEqual([])
    expect(linesOf(w)['search.user_alias (addedByName)']).toMatchObject({ action: 'blanked', count: total })
    expect(linesOf(w)['cassandra.user_organisation (addedbyname)']).toMatchObject({ action: 'blanked', count: total })
  })

  it('when the search engine answers slowly, then a run stops once its share of the lease is spent, the step stays owed, and the next run finishes it', async () => {
    const w = worldWithAdded(Array.from({ length: 40 }, (_, i) => `u-${String(i).padStart(5, '0')}`))
    const eraseQuickly = w.search.eraseAdderName.bind(w.search)
    const started: number[] = []
    w.search.eraseAdderName = async (userId, adderId) => {
      started.push(w.clock.now().getTime())
      w.clock.advance(1_000)
      return eraseQuickly(userId, adderId)
    }
    const budget = addedByNameBudgetMs({ leaseMs: WORLD_LEASE_MS })

    await deleteAccount(w.deps, ask())
    const first = w.requests.all()[0]?.steps.searchAddedByName
    expect(first).toMatchObject({ status: 'pending', action: 'unfinished' })
    expect(started.length).toBeGreaterThan(0)
    expect(started.length).toBeLessThan(40)
    expect((started.at(-1) ?? 0) - (started[0] ?? 0)).toBeLessThan(budget)

    while (w.requests.all()[0]?.state !== 'completed' && started.length < 200) {
      w.clock.advance(60_000)
      await resumeOpenDeletions(w.deps)
    }

    expect(w.requests.all()[0]?.state).toBe('completed')
    expect([...w.search.users.values()].flatMap(namesIn).filter((name) => name === ADDER_NAME)).toEqual([])
    expect(linesOf(w)['search.user_alias (addedByName)']).toMatchObject({ action: 'blanked', count: 40 })
  })

  it("when the person's managed users added users too, then the person's run and the managed users' runs share one share of the lease, not one each, and the sweeper's runs finish them", async () => {
    const children = ['c-1', 'c-2']
    const addedBy = (adder: string) => Array.from({ length: 6 }, (_, i) => `${adder}-added-${i}`)
    const w = deletionWorld({
      seed: [
        { id: ADDER, rootOrgId: ORG, organisationIds: [ORG] },
        ...children.map((id) => ({ id, rootOrgId: ORG, organisationIds: [ORG], managedBy: ADDER })),
        ...[ADDER, ...children].flatMap(addedBy).map((id) => ({ id, rootOrgId: ORG })),
      ],
    })
    for (const adder of [ADDER, ...children]) {
      for (const userId of addedBy(adder)) {
        w.users.setAdder(userId, ORG, adder, `name of ${adder}`)
        w.search.users.set(userId, { id: userId, userId, status: 1, organisations: [{ organisationId: ORG, addedBy: adder, addedByName: `name of ${adder}` }] })
      }
    }
    const eraseQuickly = w.search.eraseAdderName.bind(w.search)
    const started: number[] = []
    w.search.eraseAdderName = async (userId, adderId) => {
      started.push(w.clock.now().getTime())
      w.clock.advance(1_000)
      return eraseQuickly(userId, adderId)
    }
    const budget = addedByNameBudgetMs({ leaseMs: WORLD_LEASE_MS })

    await deleteAccount(w.deps, ask())

    // 18 documents at a second each: one budget per run of the step would have rewritten them all in one deletion run.
    expect(started.length).toBeLessThan(18)
    expect((started.at(-1) ?? 0) - (started[0] ?? 0)).toBeLessThan(budget)
    expect(w.requests.all()[0]?.steps.managedUsers).toMatchObject({ status: 'pending' })
    expect(linesOf(w)['search.user_alias (addedByName) (managed users)']).toMatchObject({ action: 'pending' })

    for (let pass = 0; w.requests.all()[0]?.state !== 'completed' && pass < 10; pass++) {
      w.clock.advance(60_000)
      await resumeOpenDeletions(w.deps)
    }

    expect(w.requests.all()[0]?.state).toBe('completed')
    expect([...w.search.users.values()].flatMap(namesIn).filter((name) => name !== null)).toEqual([])
    expect(linesOf(w)['search.user_alias (addedByName)']).toMatchObject({ action: 'blanked', count: 6 })
  })

  it("when a hard deletion records its managed users (a checkpoint: the lease renewed) after the person's run spent most of its third, then the managed users' runs have a third of the renewed lease and the deletion run finishes them", async () => {
    const children = ['c-1', 'c-2', 'c-3']
    const addedBy = (adder: string, count: number) => Array.from({ length: count }, (_, i) => `${adder}-added-${i}`)
    const added = new Map([[ADDER, addedBy(ADDER, 9)], ...children.map((child) => [child, addedBy(child, 1)] as const)])
    const w = deletionWorld({
      seed: [
        { id: ADDER, rootOrgId: ORG, organisationIds: [ORG] },
        ...children.map((id) => ({ id, rootOrgId: ORG, organisationIds: [ORG], managedBy: ADDER })),
        ...[...added.values()].flat().map((id) => ({ id, rootOrgId: ORG })),
      ],
    })
    for (const [adder, userIds] of added) {
      for (const userId of userIds) {
        w.users.setAdder(userId, ORG, adder, `name of ${adder}`)
        w.search.users.set(userId, { id: userId, userId, status: 1, organisations: [{ organisationId: ORG, addedBy: adder, addedByName: `name of ${adder}` }] })
      }
    }
    // A second per document rewritten, a second and a half per managed user's Keycloak account.
    const eraseQuickly = w.search.eraseAdderName.bind(w.search)
    w.search.eraseAdderName = async (userId, adderId) => {
      w.clock.advance(1_000)
      return eraseQuickly(userId, adderId)
    }
    const eraseAccountQuickly = w.identity.eraseAccount.bind(w.identity)
    w.identity.eraseAccount = async (userId) => {
      if (children.includes(userId)) w.clock.advance(1_500)
      return eraseAccountQuickly(userId)
    }

    await deleteAccount(w.deps, ask({ mode: 'hard' }))

    // The person's 9 s were spent under the lease the managed users' checkpoint renewed: their 3 × 2.5 s fit in a third of the new one.
    expect(w.requests.all()[0]?.state).toBe('completed')
    expect([...w.search.users.values()].flatMap(namesIn).filter((name) => name !== null)).toEqual([])
    expect(linesOf(w)['search.user_alias (addedByName) (managed users)']).toMatchObject({ action: 'blanked', count: 3 })
  })

  it("when the search still names documents rewritten already (before the index's refresh) and the first search outlasts the run's third of the lease, then those count as no progress: the run goes on to rewrite one that still has the name", async () => {
    const w = worldWithAdded(['u-1', 'u-2'])
    const findQuickly = w.search.findAdderNamed.bind(w.search)
    w.search.findAdderNamed = async (adderId, pageSize, after) => {
      w.clock.advance(addedByNameBudgetMs({ leaseMs: WORLD_LEASE_MS }) + 1)
      const page = await findQuickly(adderId, pageSize, after)
      // A stale search: two documents whose names a run before removed come first.
      return after === undefined ? { ...page, documents: [{ userId: 'a-stale-1', organisationIds: [ORG] }, { userId: 'a-stale-2', organisationIds: [ORG] }, ...page.documents] } : page
    }

    await deleteAccount(w.deps, ask())

    expect(w.requests.all()[0]?.steps.searchAddedByName).toMatchObject({ status: 'pending', action: 'unfinished', count: 1 })
    expect(namesIn(w.search.users.get('u-1'))).toEqual([null, THIRD_NAME])
  })

  it("when more documents than a run rewrites are rewritten already but still match (another adder's name in them), then a run reaches the ones past them and the step is done", async () => {
    const rewrittenBefore = Array.from({ length: ADDED_BY_NAME_MAX_DOCUMENTS + 2 * ADDED_BY_NAME_PAGE_SIZE }, (_, i) => `a-${String(i).padStart(5, '0')}`)
    const w = worldWithAdded(['z-1', 'z-2'])
    for (const userId of rewrittenBefore) {
      w.search.users.set(userId, {
        id: userId,
        userId,
        status: 1,
        organisations: [
          { organisationId: ORG, addedBy: ADDER },
          { organisationId: OTHER_ORG, addedBy: THIRD, addedByName: THIRD_NAME },
        ],
      })
    }

    await deleteAccount(w.deps, ask())

    expect(w.requests.all()[0]?.state).toBe('completed')
    expect([namesIn(w.search.users.get('z-1')), namesIn(w.search.users.get('z-2'))]).toEqual([[null, THIRD_NAME], [null]])
    expect(linesOf(w)['search.user_alias (addedByName)']).toMatchObject({ action: 'blanked', count: 2 })
  })

  it('when a run left the step owed past its bound and the next (an ordinary sweeper run) finds no row with a name, then the rows line says blanked 0, never absent on resume', async () => {
    const total = ADDED_BY_NAME_MAX_DOCUMENTS + 3
    const added = Array.from({ length: total }, (_, i) => `u-${String(i).padStart(5, '0')}`)
    const w = worldWithAdded(added)
    // Sunbird 8.0 rows: the adder's id, no name.
    for (const userId of added) w.users.setAdder(userId, ORG, ADDER, null)
    w.users.setAdder('u-00000', OTHER_ORG, THIRD, null)

    await deleteAccount(w.deps, ask())
    expect(w.requests.all()[0]?.steps.searchAddedByName).toMatchObject({ status: 'pending', action: 'unfinished' })
    w.clock.advance(60_000)
    await resumeOpenDeletions(w.deps)

    expect(w.requests.all()[0]?.state).toBe('completed')
    expect(linesOf(w)['search.user_alias (addedByName)']).toMatchObject({ action: 'blanked', count: total })
    expect(linesOf(w)['cassandra.user_organisation (addedbyname)']).toMatchObject({ action: 'blanked', count: 0 })
  })

  it("when the first search alone outlasts the run's share of the lease, then the run still rewrites a document, so every run makes progress", async () => {
    const w = worldWithAdded(['u-1', 'u-2'])
    const findQuickly = w.search.findAdderNamed.bind(w.search)
    w.search.findAdderNamed = async (adderId, pageSize, after) => {
      w.clock.advance(addedByNameBudgetMs({ leaseMs: WORLD_LEASE_MS }) + 1)
      return findQuickly(adderId, pageSize, after)
    }

    await deleteAccount(w.deps, ask())

    expect(w.requests.all()[0]?.steps.searchAddedByName).toMatchObject({ status: 'pending', action: 'unfinished', count: 1 })
  })

  it('when a run rewrote documents, then it asks for one refresh of the index, not one per document; a run with nothing to rewrite asks for none', async () => {
    const w = worldWithAdded(['u-1', 'u-2', 'u-3'])

    await deleteAccount(w.deps, ask())
    expect(w.requests.all()[0]?.steps.searchAddedByName).toMatchObject({ status: 'done', count: 3 })
    expect(w.search.refreshes).toBe(1)

    const nothingLeft = await searchAddedByName.run({ deps: w.deps, request: { id: 'req-again', userId: ADDER, steps: {} }, plan: 'sunbird' } as unknown as StepContext)
    expect(nothingLeft).toMatchObject({ status: 'done', count: 0 })
    expect(w.search.refreshes).toBe(1)
  })

  it('when the refresh after the rewrites fails, then the step is done all the same (the documents are written) and the failure is told with the request id only', async () => {
    const w = worldWithAdded(['u-1', 'u-2'])
    w.search.refreshUsers = async () => {
      throw new DependencyUnavailableError('search')
    }
    const told: unknown[][] = []
    w.deps.onSearchNotRefreshed = (...args) => told.push(args)

    await deleteAccount(w.deps, ask())

    const request = w.requests.all()[0]
    expect(request?.state).toBe('completed')
    expect(request?.steps.searchAddedByName).toMatchObject({ status: 'done', action: 'blanked', count: 2 })
    expect(told).toEqual([[request?.id, expect.any(DependencyUnavailableError)]])
    expect(JSON.stringify(told)).not.toContain(ADDER_NAME)
  })

  it("when the search engine is not configured, then the dry run lists the one line a run's receipt has", async () => {
    const w = worldWithAdded(['u-1'], { withoutSearch: true })

    const lines = await searchAddedByName.preview({ deps: w.deps, userId: ADDER, plan: 'sunbird' } as unknown as Parameters<typeof searchAddedByName.preview>[0])
    await deleteAccount(w.deps, ask())

    expect(lines).toEqual([{ store: 'search.user_alias (addedByName)', action: 'not configured', count: 0 }])
    expect((w.requests.all()[0]?.receipt?.stores ?? []).filter((entry) => entry.store.includes('addedby') || entry.store.includes('addedByName')).map((entry) => entry.store)).toEqual([
      'search.user_alias (addedByName)',
    ])
  })
})
