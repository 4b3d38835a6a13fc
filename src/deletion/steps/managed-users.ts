import type { StepOutcome } from '../deletion-request.js'
import { keptChanging } from '../errors.js'
import { keyId } from '../keyed-hash.js'
import { runStep } from './absent-on-resume.js'
import { addHashPairs, type DeletionStep, type PlanEntry, type PlanName, type StepContext, type StepDeps, actionFor, contactsOnce, managedStore, recordedIds, stepOutcome } from './step.js'
import { userRow } from './user-row.js'

const STORE = 'cassandra.user (managed users)'

/**
 * The steps a managed user is erased by: the deleted user's own steps of the plan, with the row
 * last. A hard deletion's tombstone cuts the managed user loose (managedby null), and the row holds
 * the contacts the code steps look up by: until the row goes, a run again (after a crash) still
 * finds the managed user and every store of theirs.
 */
function stepsForManaged(personalStoreSteps: readonly DeletionStep[], plan: PlanName): DeletionStep[] {
  const steps = personalStoreSteps.filter((step) => step.plans.includes(plan))
  return [...steps.filter((step) => step !== userRow), ...steps.filter((step) => step === userRow)]
}

/** The managed users' outcomes (or previews) of one store, added up over the managed users: one receipt line per store, never per user. */
class StoreTally {
  private readonly stores = new Map<string, { actions: string[]; count?: number; pending: boolean }>()

  add(store: string, action: string, count: number | undefined, pending = false): void {
    const line = this.stores.get(store) ?? { actions: [], pending: false }
    if (!line.actions.includes(action)) line.actions.push(action)
    if (count !== undefined) line.count = (line.count ?? 0) + count
    line.pending ||= pending
    this.stores.set(store, line)
  }

  get pending(): boolean {
    return [...this.stores.values()].some((line) => line.pending)
  }

  /** Whether some managed user's step is owed past a per-run bound only (it told of no dependency): that part can go on at once. */
  owesPastABound = false

  /** 'pending' where a store still owes something for some managed user; else what was done, each verb once (e.g. "deleted, absent"). */
  entries(): { store: string; action: string; count?: number }[] {
    return [...this.stores].map(([store, line]) => ({ store, action: line.pending ? 'pending' : line.actions.join(', '), ...(line.count !== undefined && { count: line.count }) }))
  }
}

// A hold changing under us twice in a row is already unusual; a third time is a fight we should not win by looping.
const MAX_HOLD_ATTEMPTS = 3

/**
 * The managed user is held by this deletion, as the deleted user is, before any store of theirs is
 * erased: a hard one marks them hard-deleted; Sunbird's (or a grace period's end) takes over a soft
 * deletion of their own, and a cancel of it under way (`restoring`), which could otherwise undo
 * it on a row this deletion has erased. A cancel that finds its hold taken restores nothing more
 * and ends superseded (finishCancel), and its restore of the row is conditioned on the soft
 * deletion's own lock, so this erasure is never undone. An active managed user has no hold, as
 * after Sunbird's deletion of any user (the row alone says).
 *
 * The hold is a compare-and-set: lost to a cancel taking a soft hold (or dropping a `restoring`
 * one) at the same moment, it is read and tried again, so the erasure never goes on while a
 * cancel still holds the user. Lost every time, the step is not done now
 * (DependencyUnavailableError, as for a store out of reach): the sweeper runs it again.
 */
async function hold(deps: StepDeps, childId: string, requestId: string, plan: PlanName): Promise<void> {
  for (let attempt = 1; attempt <= MAX_HOLD_ATTEMPTS; attempt++) {
    const held = await deps.states.get(childId)
    const takes = plan === 'hard' ? held?.mode !== 'hard' : held?.mode === 'soft' || held?.mode === 'restoring'
    if (!takes) return
    if (await deps.states.swap(childId, held, { mode: plan === 'hard' ? 'hard' : 'sunbird', requestId })) return
  }
  throw keptChanging('the deletion state of a managed user kept changing')
}

/**
 * One managed user erased by the deleted user's own steps, as if it were their deletion: the same
 * stores, the same plan. Each step is idempotent, so a run again (after a crash, or for a store that
 * was out of reach) does all of it again harmlessly, and, resumed, says where it found nothing that
 * the run it resumes may have erased (see absent-on-resume.ts). A failure is logged as this step's.
 */
async function eraseManaged(
  { deps, request, plan, resumed, progressed }: Pick<StepContext, 'deps' | 'request' | 'plan' | 'resumed' | 'progressed'>,
  childId: string,
  steps: readonly DeletionStep[],
  tally: StoreTally,
  hashes: Set<string>,
  hashPairs: Map<string, [string, string]>,
): Promise<void> {
  await hold(deps, childId, request.id, plan)
  deps.listener.userDeleted(childId)
  // Whether the managed user's step in hand told of a dependency: owed without that, it is owed past a per-run bound.
  let toldOfADependency = false
  const context: StepContext = {
    deps: {
      ...deps,
      onStepError: (_step, err, requestId) => {
        toldOfADependency = true
        deps.onStepError?.('managedUsers', err, requestId)
      },
    },
    // The deleted user's request, for the managed user: its id for the log, its requester on the row,
    // its lease as it stands now (a step bounded by the lease reads it; nothing renews it while the managed users run).
    request: { ...request, userId: childId, steps: {} },
    // Whose outcomes say which optional stores the deletion was run with (a store still owed is owed for them too).
    recorded: request.steps,
    plan,
    userName: null,
    contacts: contactsOnce(deps, childId, request.id),
    ...(resumed && { resumed }),
    // What the deleted user's run changed so far: once a run of a step bounded in time (the person's, an earlier managed user's) changed something, this one stops at the bound.
    ...(progressed && { progressed }),
  }
  for (const step of steps) {
    if (!step.run) continue
    toldOfADependency = false
    const outcome = await runStep(step.run, context)
    if (outcome.status === 'pending' && !toldOfADependency) tally.owesPastABound = true
    for (const hash of outcome.hashes ?? []) hashes.add(hash)
    addHashPairs(hashPairs, outcome.hashPairs ?? [])
    // The row is this step's own line (scrubbed / hard-deleted, one per managed user).
    if (step === userRow) continue
    // A step with a line per store (extra targets) says which of them is owed; another owes its one store when pending.
    const parts = outcome.entries ?? [{ store: step.store, action: outcome.action, count: outcome.count }]
    for (const part of parts) tally.add(managedStore(part.store), part.action, part.count, outcome.entries ? part.action === 'pending' : outcome.status === 'pending')
  }
}

/**
 * What a run again reports: a store done by an earlier run keeps that run's line (a run again finds
 * it erased already); a store still owed then reports what this run did.
 */
function mergeWithEarlier(earlier: StepOutcome | undefined, plan: PlanName, now: { store: string; action: string; count?: number }[]) {
  if (!earlier?.entries || (earlier.plan ?? 'sunbird') !== plan) return now
  const done = new Map(earlier.entries.filter((entry) => entry.action !== 'pending').map((entry) => [entry.store, entry]))
  return now.map((entry) => (entry.action === 'pending' ? entry : (done.get(entry.store) ?? entry)))
}

/**
 * The contact hashes the outcome keeps (and their plain/stored pairs), with the id of the key that made them: one key per
 * outcome, so deletion:verify never compares a hash under a key that did not make it. A run again
 * adds its hashes to the earlier run's when the key is the same. When the key changed in between
 * (or the earlier run did not record it), the earlier run's are kept, with their key: they cover
 * the managed users erased since, whose contacts no run can read again; this run's are of the same
 * contacts for the others, under a key deletion:verify would not match with the earlier ones.
 */
function keptHashes(
  earlier: StepOutcome | undefined,
  now: ReadonlySet<string>,
  nowPairs: ReadonlyMap<string, [string, string]>,
  nowKeyId: string,
): Pick<StepOutcome, 'hashes' | 'hashKeyId' | 'hashPairs'> {
  const before = earlier?.hashes ?? []
  if (before.length > 0 && earlier?.hashKeyId !== nowKeyId) return earlierHashes(earlier)
  const all = new Set([...before, ...now])
  const pairs = addHashPairs(addHashPairs(new Map(), earlier?.hashPairs ?? []), nowPairs.values())
  return all.size > 0 ? { hashes: [...all], hashKeyId: nowKeyId, ...(pairs.size > 0 && { hashPairs: [...pairs.values()] }) } : {}
}

/** An earlier outcome's hashes as it kept them: with their key and their plain/stored pairs. */
function earlierHashes(earlier: StepOutcome | undefined): Pick<StepOutcome, 'hashes' | 'hashKeyId' | 'hashPairs'> {
  if (!earlier?.hashes) return {}
  return {
    hashes: earlier.hashes,
    ...(earlier.hashKeyId !== undefined && { hashKeyId: earlier.hashKeyId }),
    ...(earlier.hashPairs !== undefined && { hashPairs: earlier.hashPairs }),
  }
}

/**
 * The outcome written before the managed users are erased: pending, naming them all, and keeping
 * what an earlier run of the same plan reported (its lines and contact hashes), which a run again merges with.
 */
function namedBeforeErasure(earlier: StepOutcome | undefined, plan: PlanName, verb: string, managed: string[], now: Date): StepOutcome {
  const samePlan = earlier !== undefined && (earlier.plan ?? 'sunbird') === plan
  return stepOutcome('pending', verb, now, undefined, {
    plan,
    ids: managed,
    ...(samePlan && earlier.entries && { entries: earlier.entries }),
    ...earlierHashes(earlier),
  })
}

/** Declared, not inferred: the request's step outcomes are typed by the step names, this one's among them. */
type ManagedUsersStep = DeletionStep<'managedUsers'> & Required<Pick<DeletionStep, 'checkpointAfter' | 'kept' | 'run' | 'preview' | 'exportData'>>

/**
 * Users managed by the deleted user (children) go with them, erased by the same steps in the same
 * plan: every store the deleted user is erased in (Keycloak, codes, lookups, external identities,
 * organisations, side and legacy tables, extra targets, the search document and notes, the cache),
 * and the row as Sunbird's own cleanup leaves a managed user's (Sunbird's deletion: scrubbed,
 * status 2; hard: a tombstone). A soft deletion leaves them alone. The outcome keeps their ids
 * (for the event), one receipt line per store (counts over all of them, no ids) and the keyed
 * hashes of the contacts their codes were looked up by, with the id of the key that made them.
 */
export function managedUsersStep(personalStoreSteps: readonly DeletionStep[]): ManagedUsersStep {
  return {
    name: 'managedUsers',
    store: STORE,
    why: 'users managed by this user locked out and erased the same way, in every store the deletion erases for this user',
    plans: ['sunbird', 'hard'],
    // A hard deletion cuts the children loose from this user: only this outcome still names them, for the event.
    checkpointAfter: (outcome: StepOutcome) => (outcome.ids?.length ?? 0) > 0,
    kept: { action: 'kept', why: 'managed users untouched while the deletion can be cancelled' },
    async run({ deps, request, plan, recordNow, resumed, progressed, owesPastABound }: StepContext): Promise<StepOutcome> {
      const { users, clock } = deps
      const verb = plan === 'hard' ? 'hard-deleted' : 'scrubbed'
      // A rerun (a store was out of reach) finds the children it already cut loose in its own earlier outcome.
      const recorded = recordedIds(request, 'managedUsers')
      const managed = [...new Set([...(await users.findManagedUserIds(request.userId)), ...recorded])]
      if (managed.length === 0) return stepOutcome('skipped', verb, clock.now(), 0, { plan, ids: managed })
      const earlier: StepOutcome | undefined = request.steps.managedUsers
      // A hard deletion writes their ids before it erases any of them: its tombstone cuts a child loose,
      // so after a crash part way only this record still finds the ones already erased (for the event,
      // the receipt, verify). Sunbird's scrub keeps managedby: a run again finds them by it, no write needed.
      if (plan === 'hard' && recordNow && managed.some((id) => !recorded.includes(id))) await recordNow(namedBeforeErasure(earlier, plan, verb, managed, clock.now()))
      const steps = stepsForManaged(personalStoreSteps, plan)
      const tally = new StoreTally()
      const hashes = new Set<string>()
      const hashPairs = new Map<string, [string, string]>()
      for (const childId of managed) await eraseManaged({ deps, request, plan, resumed, progressed }, childId, steps, tally, hashes, hashPairs)
      // One outcome owes for every managed user: a part owed past a bound makes it due at once, whatever another part waits on (owed-retry.ts).
      if (tally.owesPastABound) owesPastABound?.()
      const entries = [{ store: STORE, action: verb, count: managed.length }, ...mergeWithEarlier(earlier, plan, tally.entries())]
      return stepOutcome(tally.pending ? 'pending' : 'done', verb, clock.now(), managed.length, { plan, ids: managed, entries, ...keptHashes(earlier, hashes, hashPairs, keyId(deps.receiptKey)) })
    },
    async preview({ deps, userId, plan, requestId }): Promise<PlanEntry[]> {
      const managed = await deps.users.findManagedUserIds(userId)
      const own: PlanEntry = { store: STORE, action: actionFor(plan, { sunbird: 'scrub', hard: 'hard-delete' }), count: managed.length }
      if (plan === 'soft') return [own]
      const tally = new StoreTally()
      const steps = stepsForManaged(personalStoreSteps, plan)
      for (const childId of managed) {
        const user = await deps.users.findUser(childId)
        if (!user) continue
        const contacts = contactsOnce(deps, childId, requestId)
        for (const step of steps) {
          if (step === userRow || !step.preview) continue
          for (const entry of await step.preview({ deps, userId: childId, plan, user, requestId, contacts })) tally.add(managedStore(entry.store), entry.action, entry.count)
        }
      }
      return [own, ...tally.entries().map((entry): PlanEntry => ({ ...entry, count: entry.count ?? 0 }))]
    },
    async exportData({ deps, userId }: { deps: StepDeps; userId: string }) {
      return { managedUserIds: await deps.users.findManagedUserIds(userId) }
    },
  } as const satisfies DeletionStep
}
