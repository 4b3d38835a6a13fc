import type { DeletionRequest, StepOutcome } from '../deletion-request.js'
import { DependencyUnavailableError } from '../errors.js'
import { ABSENT_ON_RESUME } from './absent-on-resume.js'
import type { UserSearchIndex, UserStore } from '../ports.js'
import { type DeletionStep, NOT_CONFIGURED, type PlanName, type RecordedOutcomes, SEARCH, type StepDeps, type StepsProgressed, owedWhenUnavailable, stepOutcome, withoutStore } from './step.js'

const STEP_NAME = 'searchAddedByName'
const STORE = SEARCH.steps.searchAddedByName
const ROWS_STORE = 'cassandra.user_organisation (addedbyname)'

/** Documents asked for per search. */
export const ADDED_BY_NAME_PAGE_SIZE = 100

/**
 * Documents rewritten per run: at most 1,000, a few seconds of updates. A person who added more
 * users than that leaves the step owed (the request partial) and the sweeper's next run continues:
 * the documents already rewritten no longer come back to be rewritten.
 */
export const ADDED_BY_NAME_MAX_DOCUMENTS = 1000

/**
 * Pages read per run (10,000 documents). A document rewritten already can still match the search
 * (the index does not keep a membership's adder and name together, so another adder's name in it
 * matches too); such pages cost a read and no write, and count only here, so a run reaches the
 * documents past them instead of stopping at them as the rewrite bound would.
 */
export const ADDED_BY_NAME_MAX_PAGES = 100

/** The lease a run holds when its deps do not say (DELETION_LEASE_MS's default). */
const DEFAULT_LEASE_MS = 30_000

/**
 * Time a run of the step rewrites for, counted from when the lease the deletion run holds was last
 * taken or renewed (a checkpoint: nothing inside the step renews it): a third of the lease, so that
 * rewriting stops once less than two thirds of it are left, for the steps after it to reach the
 * next checkpoint. Read from the lease itself, the bound counts whatever ran under it, and holds for
 * every run of the step under it (the person's and each managed user's) with nothing to share;
 * managed users erased after a checkpoint (a hard deletion records them first) have a fresh lease,
 * so a fresh third. The count bounds above hold when calls are quick; this one when they are slow
 * (timeouts, a loaded cluster). Past it the step stays owed and the sweeper's next run continues.
 */
export const addedByNameBudgetMs = (deps: Pick<StepDeps, 'leaseMs'>) => Math.floor((deps.leaseMs ?? DEFAULT_LEASE_MS) / 3)

/**
 * Whether the run is past the time bound (see addedByNameBudgetMs): the request's lease as it
 * stands now (request.heldUntil, which checkpoints move); a request held under no lease (a step run
 * on its own) as if its lease were taken when the step started.
 */
function pastTimeBound(deps: Pick<StepDeps, 'clock' | 'leaseMs'>, request: Pick<DeletionRequest, 'heldUntil'>, startedAt: number): () => boolean {
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS
  return () => {
    const leaseTaken = (request.heldUntil?.getTime() ?? startedAt + leaseMs) - leaseMs
    return deps.clock.now().getTime() >= leaseTaken + addedByNameBudgetMs(deps)
  }
}

interface Counts {
  documents: number
  rows: number
}

const entriesOf = (action: string, counts: Counts) => [
  { store: STORE, action, count: counts.documents },
  { store: ROWS_STORE, action, count: counts.rows },
]

/**
 * A finished run's lines. Resumed (StepContext.resumed: the run it follows may have acted without
 * recording it) with no earlier run of this step recorded, a line that found nothing says
 * ABSENT_ON_RESUME, not blanked 0: a rewritten document no longer matches the search, so that
 * run's rewrites are not found again. After a recorded run (left owed past a bound or an outage)
 * the lines are that run's counts plus this one's: a 0 there is a 0 (Sunbird 8.0 rows carry no
 * name), never a claim that something may have been erased.
 */
const finishedEntries = (counts: Counts, resumed: boolean, earlierRecorded: boolean) =>
  entriesOf('blanked', counts).map((line) => (resumed && !earlierRecorded && line.count === 0 ? { ...line, action: ABSENT_ON_RESUME } : line))

/** An earlier run of this step under the same plan recorded its outcome (owed): its counts carry over. */
const recordedEarlier = (recorded: RecordedOutcomes, plan: PlanName) => {
  const earlier = recorded.searchAddedByName
  return earlier?.status === 'pending' && (earlier.plan ?? 'sunbird') === plan
}

/**
 * What earlier runs recorded as changed before this step was left owed (past a per-run bound, or a
 * search outage): this run's counts add to them. A run cut short before its outcome was written
 * leaves no count, and its rewrites are not found again (see finishedEntries).
 */
function earlierCounts(recorded: RecordedOutcomes, plan: PlanName): Counts {
  const earlier = recorded.searchAddedByName
  if (!earlier || !recordedEarlier(recorded, plan)) return { documents: 0, rows: 0 }
  const count = (store: string) => earlier.entries?.find((entry) => entry.store === store)?.count ?? 0
  return { documents: count(STORE), rows: count(ROWS_STORE) }
}

/**
 * One document the search named: its user_organisation rows first (the search finds them; once the
 * document no longer carries the name, nothing would find them again), then the document. True
 * when anything changed: a search that still sees a document rewritten already (before the index's
 * refresh) names it again, and its update is a noop.
 */
async function eraseFrom(users: UserStore, search: UserSearchIndex, document: { userId: string; organisationIds: string[] }, adderId: string, counts: Counts): Promise<boolean> {
  const before = counts.documents + counts.rows
  for (const organisationId of document.organisationIds) if (await users.blankAdderName(document.userId, organisationId, adderId)) counts.rows++
  if (await search.eraseAdderName(document.userId, adderId)) counts.documents++
  return counts.documents + counts.rows > before
}

/**
 * Pages through the documents naming the person as adder, within the bounds (count per run of the
 * step, time per lease): true when none is left. `progressed`: the steps that changed something in
 * this deletion run (StepContext.progressed), this one's runs for the managed users among them.
 */
async function eraseAdderNames(deps: StepDeps, pastBound: () => boolean, progressed: StepsProgressed, search: UserSearchIndex, adderId: string, counts: Counts): Promise<boolean> {
  const hasProgressed = () => progressed.has(STEP_NAME)
  let after: string | undefined
  let rewritten = 0
  for (let page = 0; page < ADDED_BY_NAME_MAX_PAGES; page++) {
    // Once a run of the step in this deletion run changed something, a later one (a managed user's) past the bound does not even search.
    if ((page > 0 || hasProgressed()) && pastBound()) return false
    const found = await search.findAdderNamed(adderId, ADDED_BY_NAME_PAGE_SIZE, after)
    for (const document of found.documents) {
      // The time bound only once something changed: a deletion run whose first search outlasts it, or
      // finds documents rewritten already first, still makes progress.
      if (rewritten === ADDED_BY_NAME_MAX_DOCUMENTS || (hasProgressed() && pastBound())) return false
      if (await eraseFrom(deps.users, search, document, adderId, counts)) progressed.add(STEP_NAME)
      rewritten++
    }
    if (found.next === undefined) return true
    after = found.next
  }
  return false
}

/**
 * One refresh after a run's rewrites (never one per document: see eraseAdderName), so that a search
 * right after, deletion:verify's among them, no longer finds the name. Best effort: the rewrites are
 * written already and the engine shows them at its next scheduled refresh anyway (index.refresh_interval),
 * so a refresh that fails leaves the outcome as it is, and is only logged (the request's id, no name).
 */
async function refreshAfterRewrites(deps: StepDeps, search: UserSearchIndex, requestId: string): Promise<void> {
  try {
    await search.refreshUsers()
  } catch (err) {
    if (!(err instanceof DependencyUnavailableError)) throw err
    deps.onSearchNotRefreshed?.(requestId, err)
  }
}

/** How many documents still name `adderId` as adder in the memberships they added (a verification's count), paged as a run pages. */
export async function countAdderNamed(search: UserSearchIndex, adderId: string): Promise<number> {
  let count = 0
  let after: string | undefined
  do {
    const found = await search.findAdderNamed(adderId, ADDED_BY_NAME_PAGE_SIZE, after)
    count += found.documents.length
    after = found.next
  } while (after !== undefined)
  return count
}

/**
 * Other users' memberships that name the person as who added them: older Sunbird versions copied
 * the adder's name into `organisations[].addedByName` of the added user's search document and into
 * `user_organisation.addedbyname`. Found through the search engine (Cassandra has no index on
 * `addedby`, and a table scan per deletion is not acceptable): a row whose document the index does
 * not name is not found. Only the name goes; `addedBy` (the id) and every other field stay.
 */
export const searchAddedByName = {
  name: 'searchAddedByName',
  store: STORE,
  why: "other users' memberships that name the person as who added them (organisations[].addedByName in their search documents, addedbyname in the user_organisation rows those documents point to) have the name removed; the adder's id stays; rows the search index does not point to are not found",
  plans: ['sunbird', 'hard'],
  dependency: SEARCH.dependency,
  kept: { action: 'kept', why: "other users' memberships naming the person as who added them kept while the deletion can be cancelled", stores: [STORE, ROWS_STORE] },
  async run(context): Promise<StepOutcome> {
    const { deps, request, plan, resumed = false } = context
    const pastBound = pastTimeBound(deps, request, deps.clock.now().getTime())
    // No search engine, no statement: without its documents there are no rows to look at.
    const counts = earlierCounts(request.steps, plan)
    if (!deps.search) {
      const outcome = withoutStore(context, 'searchAddedByName', SEARCH)
      // Owed as before (both lines), so the request owes the same stores.
      return outcome.status === 'pending' ? { ...outcome, entries: entriesOf('pending', counts) } : outcome
    }
    const documentsBefore = counts.documents
    try {
      const finished = await eraseAdderNames(deps, pastBound, context.progressed ?? new Set(), deps.search, request.userId, counts)
      if (counts.documents > documentsBefore) await refreshAfterRewrites(deps, deps.search, request.id)
      if (finished) {
        const entries = finishedEntries(counts, resumed, recordedEarlier(request.steps, plan))
        return stepOutcome('done', entries[0]?.action ?? 'blanked', deps.clock.now(), counts.documents, { plan, entries })
      }
      // Past a per-run bound (count or time): owed, so the sweeper runs it again.
      return stepOutcome('pending', 'unfinished', deps.clock.now(), counts.documents, { plan, entries: entriesOf('pending', counts) })
    } catch (err) {
      // Cassandra unreachable (a user_organisation row) stops the run, as in every other step; only the search engine's absence leaves this step owed.
      if (err instanceof DependencyUnavailableError && err.dependency === 'cassandra') throw err
      return { ...owedWhenUnavailable(deps, 'searchAddedByName', err, plan, request.id), entries: entriesOf('pending', counts) }
    }
  },
  // Both lines where a run's receipt has both: the rows are those the documents found name (their memberships).
  async preview({ deps, userId, plan }) {
    const lines = (action: string, documents = 0, rows = 0) => [
      { store: STORE, action, count: documents },
      { store: ROWS_STORE, action, count: rows },
    ]
    // Not configured: one line, as a run's receipt says it (the step's own store, no count of rows).
    if (!deps.search) return [{ store: STORE, action: NOT_CONFIGURED, count: 0 }]
    if (plan === 'soft') return lines('keep')
    try {
      const found = await deps.search.findAdderNamed(userId, ADDED_BY_NAME_PAGE_SIZE)
      const rows = found.documents.reduce((sum, document) => sum + document.organisationIds.length, 0)
      return lines(found.next === undefined ? 'blank' : `blank (first ${ADDED_BY_NAME_PAGE_SIZE} counted)`, found.documents.length, rows)
    } catch (err) {
      return lines(owedWhenUnavailable(deps, 'searchAddedByName', err, plan).action)
    }
  },
} as const satisfies DeletionStep
