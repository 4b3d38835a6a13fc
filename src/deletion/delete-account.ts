import type { Caller } from './caller.js'
import { answerByDeadline, type CommitGate } from './commit-gate.js'
import { type DeleteUserDeps, authorize, deleteUser, handOver, openRequest } from './delete-user.js'
import { deletionBasis, rolesAllowDeletion } from './deletion-policy.js'
import { acceptedRequest, type ErasureSchedule, type PlanName, type RequestIdChosenBy, type RequestState } from './deletion-request.js'
import { NotPermittedError, RoleRestrictedError, UserAlreadyDeletedError, UserNotFoundError } from './errors.js'
import { isDeleted } from './is-deleted.js'
import { lockForPlan } from './lock-for-plan.js'
import { lockedOutBy, tokenHoldersOf } from './caller-lock-out.js'
import { type DeletionIntent, hardDeletedIsMissing, refusalFor } from './repeat-rules.js'
import { runRemainingSteps } from './run-deletion.js'
import { deletionSteps } from './steps/index.js'
import { contactsOnce, type PlanEntry, undecryptedContacts } from './steps/step.js'
import { readCondition, type UserCondition } from './user-condition.js'
import type { UserRecord } from './ports.js'

/** How a deletion is answered on the wire: `default` is Sunbird's deletion. */
export type ModeName = 'default' | 'soft' | 'hard'

/** One deletion, as every route asks for it: the Sunbird body's optional fields, or a REST route's own (e.g. `?hard=1`). */
export interface DeletionInput {
  /** The id the request is recorded under (the call's msgid, or X-Request-Id). */
  requestId: string
  /**
   * Whose the id is: 'service' only for one this service generated and no other call can name (see
   * RequestIdChosenBy). Absent: the caller's, which is always safe (the create is then the compare-and-set).
   */
  requestIdChosenBy?: RequestIdChosenBy
  /**
   * The end of the lease the caller holds on this deletion's work (a batch slice's), for a derived id
   * no earlier try can have created: the create is then a plain write fenced by it instead of the
   * compare-and-set (DeletionRequestStore.createFenced), and the request's lease ends by it. A create
   * not known in place before it ends throws FencePassedError, nothing audited or locked.
   */
  fencedBy?: Date
  /**
   * The end of the lease the caller holds, for a create by compare-and-set (a derived id an earlier
   * try may have created): a create not begun before it ends is not sent (FencePassedError). A
   * caller that stalled past its lease (in its reads) thus does not open a deletion its lease's next
   * holder may have settled the user without (a cancelled batch job's user, recorded cancelled);
   * only a create already in flight as the lease ends may still land after that.
   */
  sentWithin?: Date
  /**
   * Asked right before the request is created (the point of no return), once every read and check
   * of the deletion is done: false withdraws it, nothing written (DeletionWithdrawnError); what it
   * throws (a batch runner's DeletionWithdrawnError with its cause) is thrown as is. A batch
   * runner's look at its job's cancel, so a cancel recorded while the deletion was still reading is
   * seen before anything begins, however long those reads took.
   */
  mayBegin?: () => Promise<boolean>
  /** The target, already reduced from f:<provider>:<id> to <id>. */
  userId: string
  caller: Caller
  /** Absent: Sunbird's deletion, exactly as without this engine. */
  mode?: 'soft' | 'hard'
  /** 1–30: soft-delete now, erase (Sunbird's way, or hard with mode 'hard') when the period ends. Not with mode 'soft'. */
  gracePeriodDays?: number
  /** Run every check and answer what would happen, writing nothing. */
  dryRun?: boolean
  /**
   * When the caller stops waiting (its request deadline). Past it the answer is "retry" if nothing
   * was written, else the accepted answer while the deletion goes on (see answerByDeadline).
   */
  answerBy?: Date
  /** Told when the deletion passes its point of no return (the HTTP deadline then never answers "retry"). */
  onCommit?: () => void
}

export type DeletionOutcome =
  /**
   * `state`: what this call's run settled the request in, completed or partial (a step owed to a
   * dependency in trouble); absent when it did not settle it (handed over to the sweeper). Read by
   * the batch runner, never answered on the wire.
   */
  | { kind: 'deleted'; mode: ModeName; requestId: string; state?: RequestState }
  | { kind: 'scheduled'; mode: ModeName; requestId: string; eraseAt: Date }
  | { kind: 'dry-run'; mode: ModeName; plan: PlanEntry[] }

export interface DeleteAccountDeps extends DeleteUserDeps {
  /** The length of a grace day (DELETION_GRACE_DAY_SECONDS), in milliseconds. */
  graceDayMs: number
}

/** Raised for a combination of options the schema lets through only by mistake (the HTTP schemas refuse it first). */
export class InvalidDeletionOptionsError extends Error {
  override name = 'InvalidDeletionOptionsError'
}

interface Asked {
  intent: DeletionIntent
  mode: ModeName
  /** The plan that runs now. */
  plan: PlanName
  schedule?: Omit<ErasureSchedule, 'eraseAt'> & { days: number }
}

function asked(input: DeletionInput): Asked {
  const mode: ModeName = input.mode ?? 'default'
  const days = input.gracePeriodDays
  if (days !== undefined) {
    if (input.mode === 'soft') throw new InvalidDeletionOptionsError('a soft deletion has no grace period')
    if (!Number.isInteger(days) || days < 1 || days > 30) throw new InvalidDeletionOptionsError('gracePeriodDays is 1 to 30')
    const plan = input.mode === 'hard' ? 'hard' : 'sunbird'
    return { intent: plan === 'hard' ? 'grace-hard' : 'grace', mode, plan: 'soft', schedule: { plan, days } }
  }
  if (input.mode === undefined) return { intent: 'default', mode, plan: 'sunbird' }
  return { intent: input.mode, mode, plan: input.mode }
}

/**
 * Every check a real call makes, in the contract's order, reading only. Sunbird's deletion keeps
 * Sunbird's order (authorization, role restriction, existence, already deleted). A request with a
 * mode refuses a caller who could be allowed for nobody (403 for every id), then meets a
 * hard-deleted user as one that does not exist before the organisation check (the tombstone names
 * none), then the same checks, then the repeat rules.
 */
async function check(deps: DeleteAccountDeps, input: DeletionInput, intent: DeletionIntent): Promise<{ user: UserRecord; condition: UserCondition; organisationIds?: string[] }> {
  if (intent === 'default') {
    const authorized = await authorize(deps, input)
    if (!rolesAllowDeletion(await deps.users.findRoles(input.userId), deps.policy.allowedRoles)) throw new RoleRestrictedError()
    const user = authorized.user ?? (await deps.users.findUser(input.userId))
    if (!user) throw new UserNotFoundError()
    if (isDeleted(user)) throw new UserAlreadyDeletedError()
    return { user, condition: { kind: 'active', user }, ...(authorized.organisationIds && { organisationIds: authorized.organisationIds }) }
  }
  const condition = await readCondition(deps, input.userId)
  // The lock-out first, as in the order of checks: judged again, for a deletion of the caller's own account that landed since it ran.
  const lockedOut = lockedOutBy(tokenHoldersOf(input.caller), input.userId, condition)
  if (lockedOut) throw lockedOut
  // Before a hard deletion's 404: a caller who could be allowed for nobody hears 403 for every id,
  // or that 404 would tell them the id was a user deleted for good.
  if (deletionBasis(input.caller, input.userId) === 'none') throw new NotPermittedError('not self, managing parent or org admin')
  if (condition.kind === 'hard' && hardDeletedIsMissing(intent)) throw new UserNotFoundError()
  const user = condition.kind === 'missing' ? undefined : condition.user
  const authorized = await authorize(deps, input, { user })
  if (!rolesAllowDeletion(await deps.users.findRoles(input.userId), deps.policy.allowedRoles)) throw new RoleRestrictedError()
  const refusal = refusalFor(intent, condition)
  if (refusal) throw refusal
  if (!user) throw new UserNotFoundError()
  return { user, condition, ...(authorized.organisationIds && { organisationIds: authorized.organisationIds }) }
}

/**
 * What a real call would do, store by store, from each step's own preview. The contacts the key
 * does not decrypt (the managed users' included) are told once, for the call, as a run tells them.
 */
async function preview(deps: DeleteAccountDeps, input: DeletionInput, plan: PlanName, user: UserRecord): Promise<PlanEntry[]> {
  const undecrypted = undecryptedContacts()
  const previewDeps: DeleteAccountDeps = { ...deps, onContactsNotDecrypted: undecrypted.add }
  const context = { deps: previewDeps, userId: input.userId, plan, user, requestId: input.requestId, contacts: contactsOnce(previewDeps, input.userId, input.requestId) }
  const entries: PlanEntry[] = []
  try {
    for (const step of deletionSteps) if ('preview' in step) entries.push(...(await step.preview(context)))
  } finally {
    undecrypted.tell(deps, input.requestId)
  }
  return entries
}

/**
 * The deletion engine: one function behind every route that deletes an account. Without mode,
 * grace period or dry run it is Sunbird's deletion, unchanged (deleteUser). Otherwise:
 * - `dryRun`: every check a real call makes, then each step's preview; nothing is written;
 * - `mode: 'soft'`: the user is locked out, the Keycloak account disabled, everything kept (undone by cancelDeletion);
 * - `mode: 'hard'`: everything Sunbird's deletion does, plus what Sunbird keeps, down to a tombstone;
 * - `gracePeriodDays`: a soft deletion now, and the erasure (Sunbird's, or hard) scheduled for the sweeper.
 * The repeat rules decide what a request on an already deleted user does (repeat-rules.ts).
 *
 * Throws the domain errors of errors.ts: UserNotFoundError, UserAlreadyDeletedError,
 * RoleRestrictedError, NotPermittedError, DependencyUnavailableError.
 */
export async function deleteAccount(deps: DeleteAccountDeps, input: DeletionInput): Promise<DeletionOutcome> {
  const ask = asked(input)
  if (input.dryRun) {
    const { user } = await check(deps, input, ask.intent)
    return { kind: 'dry-run', mode: ask.mode, plan: await preview(deps, input, ask.schedule?.plan ?? ask.plan, user) }
  }
  // What the caller is told if its deadline passes after the point of no return: the request as it is being created.
  let accepted = (): DeletionOutcome => ({ kind: 'deleted', mode: ask.mode, requestId: input.requestId })
  const run = (commit?: CommitGate) => carryOut(deps, input, ask, commit, (outcome) => (accepted = outcome))
  return input.answerBy ? answerByDeadline(input.answerBy, () => accepted(), run, { onCommit: input.onCommit }) : run()
}

async function carryOut(deps: DeleteAccountDeps, input: DeletionInput, ask: Asked, commit: CommitGate | undefined, accepting: (outcome: () => DeletionOutcome) => void): Promise<DeletionOutcome> {
  if (ask.intent === 'default') {
    const { state } = await deleteUser(deps, { ...input, ...(commit && { commit }) })
    return { kind: 'deleted', mode: 'default', requestId: input.requestId, ...(state && { state }) }
  }

  const { user, organisationIds } = await check(deps, input, ask.intent)
  const now = deps.clock.now()
  const request = acceptedRequest({
    id: input.requestId,
    userId: input.userId,
    requestedBy: input.caller.userId,
    plan: ask.plan,
    schedule: ask.schedule && { plan: ask.schedule.plan, eraseAt: new Date(now.getTime() + ask.schedule.days * deps.graceDayMs) },
    target: { rootOrgId: user.rootOrgId, managedBy: user.managedBy, organisationIds: organisationIds ?? (await deps.users.findOrganisationIds(input.userId)) },
    now,
  })
  // Scheduled whatever the soft phase still owes (Keycloak, the search engine or Redis down): the sweeper retries that during the grace period, and the erasure runs at eraseAt regardless.
  const outcome = (): DeletionOutcome =>
    request.schedule ? { kind: 'scheduled', mode: ask.mode, requestId: request.id, eraseAt: request.schedule.eraseAt } : { kind: 'deleted', mode: ask.mode, requestId: request.id }
  // Read when the answer is given: a caller's id that names another request gives way to one of the service's as the request is created.
  accepting(outcome)
  if ((await openRequest(deps, request, input.requestIdChosenBy ?? 'caller', commit, input)) === 'unknown') return outcome()
  try {
    const userName = deps.eventIncludesUserName ? await deps.users.findUserName(input.userId) : null
    const locked = await lockForPlan(deps, request, tokenHoldersOf(input.caller))
    if (locked.kind === 'refused') throw locked.error
    commit?.decided()
    const state = await runRemainingSteps(deps, request, userName)
    const settled = outcome()
    return settled.kind === 'deleted' ? { ...settled, state } : settled
  } catch (err) {
    // Past the point of no return: a dependency failing leaves the request to the sweeper, and the answer is the accepted one.
    await handOver(deps, request, err)
  }
  return outcome()
}
