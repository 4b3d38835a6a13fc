import type { DeletionRequest, StepOutcome } from '../deletion-request.js'
import type { DecryptUserField } from '../sunbird-decryption.js'
import { DependencyUnavailableError, WordedCause } from '../errors.js'
import type {
  Clock,
  DeletionListener,
  EventOutbox,
  ExtraTarget,
  IdentityProvider,
  JsonValue,
  PersonalDataTables,
  UserCache,
  UserDeletionStates,
  UserRecord,
  UserSearchIndex,
  UserStore,
} from '../ports.js'

/**
 * A plan is the list of steps one kind of deletion runs: `sunbird` is Sunbird's deletion (a request
 * that names no mode), `soft` locks the user out and keeps what may be restored, `hard` erases
 * everything Sunbird keeps as well. A step lists the plans that include it and may act differently
 * per plan (its context says which).
 */
export type PlanName = 'sunbird' | 'soft' | 'hard'

/** What a step may use: the ports, the clock, and the settings that change what a step does. */
export interface StepDeps {
  users: UserStore
  identity: IdentityProvider
  outbox: EventOutbox
  listener: DeletionListener
  /** Which deletion holds each user (a hard deletion marks the managed users it erases). */
  states: UserDeletionStates
  clock: Clock
  /** How long a run holds its request between checkpoints (DELETION_LEASE_MS); a step whose work is unbounded in time stops well within it. Absent: the default, 30 s. */
  leaseMs?: number
  /** The user-keyed tables beyond Sunbird's five (declarations, consent, notes, codes, legacy tables, extra targets). */
  tables: PersonalDataTables
  /** Sunbird's search engine; undefined when not configured (sunbird_es_host empty). */
  search?: UserSearchIndex | undefined
  /** Sunbird's user cache; undefined when not configured (sunbird_redis_host empty). */
  cache?: UserCache | undefined
  /** Tables of other keyspaces keyed by user id (ERASURE_EXTRA_TARGETS). */
  extraTargets: readonly ExtraTarget[]
  /** Key of the keyed hashes kept with a request (the receipt's key). */
  receiptKey: string
  /**
   * Sunbird's decryption of the user fields it stores encrypted (sunbird_encryption_key): the plain
   * contacts its otp and rate_limit rows are keyed by, the username its event carries, the values
   * of the person's export. Absent (no key): every value as stored.
   */
  decryptUserField?: DecryptUserField | undefined
  /** Whether the event may carry the username (default no: the consumer does not need it). */
  eventIncludesUserName: boolean
  /** Told when a step could not be done now (for the log), with the deletion request it was done for when there is one; ids only, never the error's payload. */
  onStepError?(step: string, err: unknown, requestId?: string): void
  /** Told when the search engine did not refresh after other users' documents were rewritten (a search may see them unchanged until its next scheduled refresh; for the log): the request's id; ids only. */
  onSearchNotRefreshed?(requestId: string, err: unknown): void
  /** Told when a cancel leaves accounts disabled that its deletion did not disable (for the log): the request's id and how many; ids only. */
  onAccountsLeftDisabled?(requestId: string, count: number): void
  /**
   * Told when a deletion read contacts that sunbird_encryption_key did not decrypt (a wrong key, or
   * contacts stored plain), for the log: the request's id, how many did not decrypt, and of how many
   * read; counts only. A run tells it once, its managed users' contacts included.
   */
  onContactsNotDecrypted?(requestId: string, notDecrypted: number, contacts: number): void
}

export interface StepContext {
  deps: StepDeps
  request: DeletionRequest
  /** The plan this run follows. */
  plan: PlanName
  /** The username, read before the profile was scrubbed, when the event may carry it; else null. */
  userName: string | null
  /**
   * The profile's contact values (email, phone), as stored and decrypted, read once per run: both code
   * steps find their rows by them, before the profile scrub. A run after a crash reads them again.
   */
  contacts(): Promise<Contact[]>
  /**
   * The outcomes recorded for this deletion, which tell the optional stores it was run with (see
   * withoutStore): absent, the request's own; for a managed user, whose own start empty, those of
   * the deleted user's request.
   */
  recorded?: RecordedOutcomes
  /**
   * Writes this step's outcome now, with the outcomes not written yet (the run's checkpoint, under its
   * lease), for a step that records before it acts. Absent for a managed user's steps.
   */
  recordNow?(outcome: StepOutcome): Promise<void>
  /**
   * This run resumes a request an earlier run had locked (its lock was recorded before this run
   * began): a step it runs has no outcome that holds, so that run may have erased what this one
   * finds missing, and says so (see absent-on-resume.ts). For a managed user, the deleted user's run's.
   */
  resumed?: boolean
  /**
   * The names of the steps that changed something in this deletion run, shared by the person's
   * steps and the managed users': a step bounded in time lets the first of its runs to find work do
   * some past its bound, so that no deletion run ends without progress, and the later ones stop at
   * it. Absent (a step run on its own): the step's run is the first. The run sees what each step
   * adds, so that a step which changed something counts as having made progress (owed-retry.ts).
   */
  progressed?: StepsProgressed
  /**
   * Tells the run that part of this step's work is owed past a per-run bound only (more of it left,
   * nothing in its way), whatever dependency another part told of: the owed outcome is then due at
   * once (owed-retry.ts). For a step owed part by part (the managed users'). Absent: nobody is told.
   */
  owesPastABound?(): void
}

/** The names of the steps that changed something in a deletion run (StepContext.progressed): a Set, or a view of one that notes what a step adds. */
export interface StepsProgressed {
  has(step: string): boolean
  add(step: string): void
}

/** A deletion's recorded outcomes by step name (DeletionRequest.steps, typed loosely: the step names follow from the steps). */
export type RecordedOutcomes = Readonly<Partial<Record<string, StepOutcome>>>

/** One line of a dry run's plan: a store, what a real call would do there, and to how many rows or accounts. */
export interface PlanEntry {
  store: string
  action: string
  count: number
}

/** What a dry run shows a step: the plan asked for and the user as it stands. Reads only. */
export interface PreviewContext {
  deps: StepDeps
  userId: string
  plan: PlanName
  user: UserRecord
  /** The dry run's call id: what the dry run tells the log is told for it. */
  requestId: string
  /** The user's contacts, read and decrypted once for every step that asks, as in a run (contactsOnce). */
  contacts: () => Promise<Contact[]>
}

/** Undoing a soft deletion: the request that made it and this step's recorded outcome (with its restore facts). */
export interface RestoreContext {
  deps: StepDeps
  request: DeletionRequest
  outcome: StepOutcome
  /** Who asked for the cancel. */
  cancelledBy: string
  /** Whether the cancel still holds the user: the `stillHolds` of UserStore.restoreStatus. */
  stillHolds?: () => Promise<boolean>
}

/**
 * One step of a deletion, declared once: its name (recorded on the request and shown by the status
 * endpoint), what it does for the receipt, the plans that include it, and the function that runs it.
 * `run` must be idempotent: after a crash the step may run again, and that must be harmless. Outcomes
 * are recorded at checkpoints, not one write per step (see checkpointBefore / checkpointAfter): after a
 * crash every step since the last checkpoint runs again, and reports what it finds then.
 *
 * Beside the run, a step may tell the rest of the lifecycle about its store:
 * - `preview`: what a real call of a plan would do there (dry run), reading only;
 * - `restore`: undo what its run under the soft plan did (cancel), idempotent too, from the facts
 *   its run kept in `StepOutcome.restore`;
 * - `exportData`: what its store holds about the person (export), keyed by section name;
 * - `kept`: the receipt's line when the request's plan keeps its store (a soft deletion).
 */
export interface DeletionStep<Name extends string = string> {
  readonly name: Name
  /** The store the step acts on, as the receipt names it (e.g. cassandra.user_lookup). */
  readonly store: string
  /** Why, in a sentence a data-protection officer can read. */
  readonly why: string
  /** Why, for a soft deletion, when the step does something else then (disables what it would remove): the receipt must not say more was erased than was. */
  readonly softWhy?: string
  /** Why, for a hard deletion, when the step does something else then (removes what it would keep). */
  readonly hardWhy?: string
  readonly plans: readonly PlanName[]
  /**
   * The dependency that holds its store, when it is not Cassandra: what a step still owed there (a
   * restore a cancel cannot make now) names as unavailable, in the log and in the answer's reason.
   */
  readonly dependency?: 'keycloak' | 'search' | 'redis'
  /**
   * The outcomes of the steps before it are recorded before it runs: it destroys what they read
   * (the profile, whose contacts find the lookups and codes), so they could not be found again
   * after a crash. Other outcomes are recorded together at the next checkpoint or with the finish.
   */
  readonly checkpointBefore?: true
  /** Its outcome is recorded as soon as it ran, when this says so: a run again could not find what it found (ids a later step needs). */
  readonly checkpointAfter?: (outcome: StepOutcome) => boolean
  /** Absent only for the lock, which the workflow takes itself because it decides who wins (see lock.ts). */
  readonly run?: (context: StepContext) => Promise<StepOutcome>
  readonly preview?: (context: PreviewContext) => Promise<PlanEntry[]>
  readonly restore?: (context: RestoreContext) => Promise<StepOutcome>
  readonly exportData?: (context: { deps: StepDeps; userId: string }) => Promise<Record<string, JsonValue>>
  /** `stores`: the lines a kept step lists when it has one per store (absent: its own store). */
  readonly kept?: { action: string; why: string; stores?: readonly string[] }
}

/** A step's outcome, stamped with the time it was recorded; `plan` is kept when it is not Sunbird's (see StepOutcome.plan). */
export function stepOutcome(
  status: StepOutcome['status'],
  action: string,
  at: Date,
  count?: number,
  extra: Pick<StepOutcome, 'plan' | 'restore' | 'ids' | 'hashes' | 'hashKeyId' | 'hashPairs' | 'entries'> = {},
): StepOutcome {
  return {
    status,
    action,
    at: at.toISOString(),
    ...(count !== undefined && { count }),
    ...(extra.plan !== undefined && extra.plan !== 'sunbird' && { plan: extra.plan }),
    ...(extra.restore !== undefined && { restore: extra.restore }),
    ...(extra.ids !== undefined && { ids: extra.ids }),
    ...(extra.hashes !== undefined && { hashes: extra.hashes }),
    ...(extra.hashKeyId !== undefined && { hashKeyId: extra.hashKeyId }),
    ...(extra.hashPairs !== undefined && { hashPairs: extra.hashPairs }),
    ...(extra.entries !== undefined && { entries: extra.entries }),
  }
}

/** Adds hash pairs (StepOutcome.hashPairs) to `into`, each distinct pair once, where it first came; `into` returned. */
export function addHashPairs(into: Map<string, [string, string]>, pairs: Iterable<[string, string]>): Map<string, [string, string]> {
  for (const pair of pairs) into.set(pair.join(' '), pair)
  return into
}

/** What a cancel records for a step of the soft deletion with nothing of its own to put back (nothing disabled or flagged, nothing owed any more). */
export const LEFT_AS_IT_WAS = 'left-as-it-was'

/** The action for a store this deployment has not configured (search, cache): said, never silently skipped. */
export const NOT_CONFIGURED = 'not configured'

/** The action of a step still owed to a store that this process has not configured, though the deletion was run with it (see withoutStore). */
export const NOT_CONFIGURED_HERE = 'not configured here'

/** A store a deployment may leave unconfigured: its dependency, the setting that configures it, and its steps with the store each names in the receipt. */
export interface OptionalStore {
  readonly dependency: 'search' | 'redis'
  readonly setting: string
  readonly steps: Readonly<Record<string, string>>
}

/** Sunbird's search engine: the user document, the notes, and other users' documents that name the person as who added them. */
export const SEARCH = {
  dependency: 'search',
  setting: 'sunbird_es_host',
  steps: { searchUser: 'search.user_alias', searchNotes: 'search.usernotes', searchAddedByName: 'search.user_alias (addedByName)' },
} as const satisfies OptionalStore

/** Sunbird's user cache. */
export const CACHE = { dependency: 'redis', setting: 'sunbird_redis_host', steps: { cacheUser: 'redis.user' } } as const satisfies OptionalStore

/** How the receipt and a dry run name the managed users' part of a store: the deleted user's name for it, marked. */
export const managedStore = (store: string) => `${store} (managed users)`

/**
 * Whether this deletion was run with the store configured: one of its steps recorded an outcome
 * other than 'not configured' (done, owed after an outage, a grace period's soft phase), for the
 * person or, in the managed users' outcome, for the users they manage.
 */
export function ranWith(recorded: RecordedOutcomes, store: OptionalStore): boolean {
  const managed = recorded.managedUsers?.entries ?? []
  return Object.entries(store.steps).some(([step, receiptStore]) => {
    const outcome = recorded[step]
    return (outcome !== undefined && outcome.action !== NOT_CONFIGURED) || managed.some((entry) => entry.store === managedStore(receiptStore) && entry.action !== NOT_CONFIGURED)
  })
}

/**
 * A step still owed to a store this process is not configured with: pending (the request stays
 * partial) for an instance, or an `npm run deletion:resume`, that has it; logged, ids only.
 */
export function owedNotConfiguredHere(deps: StepDeps, step: string, why: string, dependency: DependencyUnavailableError['dependency'], plan: PlanName, requestId: string): StepOutcome {
  deps.onStepError?.(step, new DependencyUnavailableError(dependency, { cause: new WordedCause(why) }), requestId)
  return stepOutcome('pending', NOT_CONFIGURED_HERE, deps.clock.now(), undefined, { plan })
}

/**
 * The outcome of a step whose store this process has not configured. When the deletion never
 * reached the store on an instance that had it, 'not configured' (skipped): the plan of a
 * deployment without the store. When it did (a step on the store recorded anything else: owed
 * after an outage, done by a grace period's soft phase, done by the other step on the same store),
 * the store still holds what the step erases: the step stays owed (see owedNotConfiguredHere),
 * never completed as 'not configured' by a process started without the setting.
 */
export function withoutStore(context: Pick<StepContext, 'deps' | 'request' | 'plan' | 'recorded'>, step: string, store: OptionalStore): StepOutcome {
  const { deps, request, plan } = context
  if (!ranWith(context.recorded ?? request.steps, store)) return stepOutcome('skipped', NOT_CONFIGURED, deps.clock.now(), undefined, { plan })
  return owedNotConfiguredHere(
    deps,
    step,
    `${store.setting} is not set in this process and the deletion still owes the store: left pending for an instance that has it`,
    store.dependency,
    plan,
    request.id,
  )
}

/**
 * A search engine or cache that did not answer: the step is owed, the request partial, and the
 * sweeper comes back for it (as for Keycloak). Any other error is a bug and propagates.
 */
export function owedWhenUnavailable(deps: StepDeps, step: string, err: unknown, plan: PlanName, requestId?: string): StepOutcome {
  if (!(err instanceof DependencyUnavailableError)) throw err
  deps.onStepError?.(step, err, requestId)
  return stepOutcome('pending', 'unreachable', deps.clock.now(), undefined, { plan })
}

/** The action a plan takes on a store: by plan, `keep` where the plan leaves the store alone. */
export function actionFor(plan: PlanName, actions: Partial<Record<PlanName, string>>): string {
  return actions[plan] ?? 'keep'
}

/** The ids an earlier run of a step kept on its outcome (see StepOutcome.ids), for steps that run after it. */
export function recordedIds(request: DeletionRequest, step: string): string[] {
  return (request.steps as Partial<Record<string, StepOutcome>>)[step]?.ids ?? []
}

/** A contact as the user row stores it, and the value Sunbird was given (decrypted, or as stored when it does not decrypt). */
export interface Contact {
  stored: string
  plain: string
}

/**
 * What the steps of a run (or a dry run) tell of contacts the key did not decrypt, the managed users'
 * included, added up (`add`, in place of StepDeps.onContactsNotDecrypted) to be told once (`tell`).
 */
export function undecryptedContacts() {
  const counts = { notDecrypted: 0, contacts: 0 }
  return {
    add(_requestId: string, notDecrypted: number, contacts: number): void {
      counts.notDecrypted += notDecrypted
      counts.contacts += contacts
    },
    tell(deps: Pick<StepDeps, 'onContactsNotDecrypted'>, requestId: string): void {
      if (counts.notDecrypted > 0) deps.onContactsNotDecrypted?.(requestId, counts.notDecrypted, counts.contacts)
    },
  }
}

/**
 * The user's contacts, read and decrypted at most once however many steps ask (StepContext.contacts).
 * With a key set, how many of them do not decrypt is told for the deletion request `requestId` (counts only).
 */
export function contactsOnce(deps: Pick<StepDeps, 'tables' | 'decryptUserField' | 'onContactsNotDecrypted'>, userId: string, requestId: string): () => Promise<Contact[]> {
  let contacts: Promise<Contact[]> | undefined
  const decrypted = (values: string[]): Contact[] => {
    const decrypt = deps.decryptUserField
    let notDecrypted = 0
    const read = values.map((stored) => {
      const plain = decrypt?.(stored)
      if (decrypt && plain === undefined) notDecrypted++
      return { stored, plain: plain ?? stored }
    })
    if (notDecrypted > 0) deps.onContactsNotDecrypted?.(requestId, notDecrypted, values.length)
    return read
  }
  return () => {
    contacts ??= deps.tables.readContacts(userId).then(decrypted)
    return contacts
  }
}
