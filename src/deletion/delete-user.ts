import { randomUUID } from 'node:crypto'
import type { CommitGate } from './commit-gate.js'
import type { DeletionInput } from './delete-account.js'
import { deletionBasis, type OrgAdminScope, orgAdminCovers, rolesAllowDeletion } from './deletion-policy.js'
import { acceptedRequest, type DeletionRequest, isFinished, type RequestIdChosenBy, type RequestState } from './deletion-request.js'
import { DeletionWithdrawnError, DependencyUnavailableError, NotPermittedError, RequestAlreadyOpenedError, RoleRestrictedError, UserAlreadyDeletedError, UserNotFoundError } from './errors.js'
import { isDeleted } from './is-deleted.js'
import { FencePassedError, fencedLease, giveBack, LeaseLostError, leaseHoldsAt, leaseUntil } from './lease.js'
import type { UserRecord } from './ports.js'
import { type RunDeps, resumeDeletion, runRemainingSteps } from './run-deletion.js'
import { auditRecord, failRequest } from './settle-request.js'
import { isBatchRequestId } from './batch-job.js'
import { recordLock } from './steps/lock.js'
import { readCondition, type UserCondition } from './user-condition.js'

export interface DeleteUserDeps extends RunDeps {
  policy: { orgAdminScope: OrgAdminScope; allowedRoles: readonly string[] }
}

/** What Sunbird's deletion reads of a deletion (each field as DeletionInput tells it), and the caller's deadline. */
export interface DeleteUserInput extends Pick<DeletionInput, 'requestId' | 'requestIdChosenBy' | 'fencedBy' | 'sentWithin' | 'mayBegin' | 'userId' | 'caller'> {
  /** The caller's deadline, when it has one (see answerByDeadline). */
  commit?: CommitGate
}

export interface DeleteUserResult {
  response: 'SUCCESS'
  /**
   * The state this call's run settled the request in: completed, or partial (a step owed to a
   * dependency in trouble, retried until done). Absent when the run did not settle it (handed over
   * to the sweeper, or its create not known to have landed). Never part of an answer on the wire.
   */
  state?: RequestState
}

// A row changing under us twice in a row is already unusual; a third time is a fight we should not win by looping.
const MAX_LOCK_ATTEMPTS = 3

/**
 * Who may delete (or cancel, or export) whom: the user themselves, the managing parent, or an
 * ORG_ADMIN of the user's organisation. `user` is the row when the caller already read it. A
 * hard-deleted user's tombstone names no organisation any more, so an ORG_ADMIN is not held to one
 * for it: the existence rules answer instead.
 */
export async function authorize(
  deps: Pick<DeleteUserDeps, 'users' | 'states' | 'policy'>,
  input: Pick<DeleteUserInput, 'userId' | 'caller'>,
  preloaded?: { user: UserRecord | undefined },
): Promise<{ user?: UserRecord; organisationIds?: string[] }> {
  const basis = deletionBasis(input.caller, input.userId)
  if (basis === 'none') throw new NotPermittedError('not self, managing parent or org admin')
  if (basis === 'self') return preloaded?.user ? { user: preloaded.user } : {}
  const user = preloaded ? preloaded.user : await deps.users.findUser(input.userId)
  // A consumer trusted with any user: no organisation to match.
  if (basis === 'any-user') return user ? { user } : {}
  if (basis === 'managed-user') {
    // The token pair says "parent acting for child"; the row must agree when it names a manager.
    if (user?.managedBy && user.managedBy !== input.caller.userId) throw new NotPermittedError('managed by someone else')
    return user ? { user } : {}
  }
  if (deps.policy.orgAdminScope === 'organisation' && user) {
    if (isDeleted(user) && (await deps.states.get(input.userId))?.mode === 'hard') return { user }
    const organisationIds = await deps.users.findOrganisationIds(input.userId)
    if (!orgAdminCovers(input.caller, [...organisationIds, ...(user.rootOrgId ? [user.rootOrgId] : [])], deps.policy.orgAdminScope)) {
      throw new NotPermittedError('outside the admin organisations')
    }
    return { user, organisationIds }
  }
  return user ? { user } : {}
}

/**
 * The person a cancel or an export acts on, and the caller's right to act on them. A caller who
 * could be allowed for nobody is refused before the user is read, so they hear the same for every
 * id (a hard deletion's 404 would tell them the id was a user deleted for good); then a
 * hard-deleted user is one that does not exist; then who may act on whom, on the row just read.
 */
export async function authorizedCondition(
  deps: Pick<DeleteUserDeps, 'users' | 'states' | 'policy'>,
  input: Pick<DeleteUserInput, 'userId' | 'caller'>,
): Promise<Exclude<UserCondition, { kind: 'hard' }>> {
  if (deletionBasis(input.caller, input.userId) === 'none') throw new NotPermittedError('not self, managing parent or org admin')
  const condition = await readCondition(deps, input.userId)
  if (condition.kind === 'hard') throw new UserNotFoundError()
  await authorize(deps, input, { user: condition.kind === 'missing' ? undefined : condition.user })
  return condition
}

/**
 * Records the request (accepted) and audits it, before anything changes. Its id is the call's
 * msgid, which a client may reuse: on a clash the request gets an id of its own (a fresh UUID, so
 * created with a plain write, as is a msgid the service generated). A derived id that clashes is
 * refused instead (RequestAlreadyOpenedError): its deletion is open already; one no earlier try can
 * have created comes `fencedBy` the caller's own lease instead (see createFenced), which also bounds
 * the request's lease; one that an earlier try may have created, `sentWithin` it (not sent once it
 * has ended). A caller's `mayBegin` is asked first, and may withdraw it. Creating it is the
 * point of no return (see CommitGate): 'unknown' when the store could not tell whether it did (it
 * settles that itself, and the request is then left to the sweeper). The acceptance is audited
 * without waiting: one that could not be audited does not stop the request: it exists, so it is
 * carried out, and its runner goes on to the lock, whose outcome is the caller's answer (the
 * acceptance record is the one thing missing).
 */
export async function openRequest(
  deps: RunDeps,
  request: DeletionRequest,
  idChosenBy: RequestIdChosenBy,
  commit: CommitGate | undefined,
  { fencedBy, sentWithin, mayBegin }: Pick<DeleteUserInput, 'fencedBy' | 'sentWithin' | 'mayBegin'>,
): Promise<'open' | 'unknown'> {
  if (mayBegin && !(await mayBegin())) throw new DeletionWithdrawnError(request.id)
  // Checked last before the create: the reads before it are where a stalled caller spends its lease.
  if (sentWithin && !leaseHoldsAt(sentWithin, deps.clock.now())) throw new FencePassedError(request.id)
  const heldUntil = fencedLease(leaseUntil(deps, request.createdAt), fencedBy)
  commit?.enter()
  const created = fencedBy ? await createFenced(deps, request, idChosenBy, heldUntil, fencedBy) : await create(deps, request, idChosenBy, heldUntil)
  if (created === 'unknown') return 'unknown'
  request.heldUntil = heldUntil
  // Not awaited: an audit write in trouble is written again on a fresh chain, which may take
  // longer than the request's deadline, the lock's decision wait or its lease, and the lock, not
  // the record, decides the answer. The trail's queue keeps this record ahead of the request's next.
  deps.audit.append(auditRecord(request, 'deletion.accepted', request.createdAt)).catch((err: unknown) => deps.onStepError?.('lock', err, request.id))
  deps.afterStep?.('accept')
  return 'open'
}

/**
 * The create under a compare-and-set (or a plain write, for an id of the service's); a caller's id
 * that clashes gives way to one of the service's. So does a caller's id of a batch item's shape,
 * before any write: the batch runner creates such ids without a compare-and-set (createFenced), so
 * a request a caller opened under one would be written over.
 */
async function create(deps: RunDeps, request: DeletionRequest, idChosenBy: RequestIdChosenBy, heldUntil: Date): Promise<true | 'unknown'> {
  if (idChosenBy === 'caller' && isBatchRequestId(request.id)) {
    request.id = randomUUID()
    return create(deps, request, 'service', heldUntil)
  }
  const created = await deps.requests.create(request, heldUntil, idChosenBy)
  if (created === false && idChosenBy === 'derived') throw new RequestAlreadyOpenedError(request.id)
  if (created !== false) return created
  request.id = randomUUID()
  return (await deps.requests.create(request, heldUntil, 'service')) === 'unknown' ? 'unknown' : true
}

/**
 * The create fenced by the caller's own lease (see DeletionInput.fencedBy). Not known in place while
 * that lease held (its answer came after it or was lost, or the lease had ended before), it is not
 * the caller's to go on with: the lease's next holder settles the request from what it finds,
 * landed or not (FencePassedError).
 */
async function createFenced(deps: RunDeps, request: DeletionRequest, idChosenBy: RequestIdChosenBy, heldUntil: Date, fence: Date): Promise<true> {
  // Only an id named by one deletion, which no earlier try can have created, may skip the compare-and-set.
  if (idChosenBy !== 'derived') throw new Error(`a fenced create is for a derived id, not a ${idChosenBy} one`)
  const created = await deps.requests.createFenced(request, heldUntil, fence)
  if (created === 'fence passed' || !leaseHoldsAt(fence, deps.clock.now())) throw new FencePassedError(request.id)
  return true
}

/**
 * Past the point of no return a dependency failing does not undo the request: it stays open, its
 * lease is given back so the sweeper (or a retry) takes it over at once (after the lease runs out
 * when its finish may have landed: see giveBack), and the caller is told it is accepted. So is the caller whose run stalled past its lease: the runner that took the request
 * over carries it on. Any other error is passed on.
 */
export async function handOver(deps: RunDeps, request: DeletionRequest, err: unknown): Promise<void> {
  if (err instanceof LeaseLostError) return void deps.onLeaseLost?.(request.id)
  await giveBack(deps, request).catch(() => undefined)
  if (!(err instanceof DependencyUnavailableError)) throw err
  deps.onStepError?.('lock', err, request.id)
}

/** A request that lost (or found no user): ended as failed if the store lets us now, else by the sweeper, which reads the same. The answer is the refusal either way. */
async function endLost(deps: RunDeps, request: DeletionRequest, reason: 'superseded' | 'not-found'): Promise<never> {
  await failRequest(deps, request, reason, deps.clock.now()).catch((err: unknown) => {
    if (!(err instanceof DependencyUnavailableError || err instanceof LeaseLostError)) throw err
  })
  throw reason === 'not-found' ? new UserNotFoundError() : new UserAlreadyDeletedError()
}

/** A retry meets a deleted user: finish whatever an earlier request left open (crash, Keycloak outage). */
async function finishOpenRequests(deps: DeleteUserDeps, userId: string): Promise<void> {
  for (const earlier of await deps.requests.findByUser(userId, 5)) {
    if (!isFinished(earlier.state)) await resumeDeletion(deps, earlier.id)
  }
}

/**
 * Deletes a user the Sunbird way, in Sunbird's order of checks (authorization, role restriction,
 * existence, already deleted), as a durable request:
 * 1. the request is recorded (accepted) and audited before anything changes;
 * 2. the lock: one lightweight transaction sets status 2 + isdeleted. Of concurrent requests
 *    exactly one wins; the others answer UOS_USRDLT0008. From here the user is locked out;
 * 3. the remaining steps run in order (Keycloak, lookups, external identities, organisations,
 *    profile scrub, managed users, event), each recorded. Keycloak being down leaves the request
 *    partial, not failed; a crash leaves it open for the sweeper; a retry of the same deletion
 *    finishes it before answering "already deleted".
 */
export async function deleteUser(deps: DeleteUserDeps, input: DeleteUserInput): Promise<DeleteUserResult> {
  const authorized = await authorize(deps, input)
  const roles = await deps.users.findRoles(input.userId)
  if (!rolesAllowDeletion(roles, deps.policy.allowedRoles)) throw new RoleRestrictedError()
  const user = authorized.user ?? (await deps.users.findUser(input.userId))
  if (!user) throw new UserNotFoundError()
  if (isDeleted(user)) {
    await finishOpenRequests(deps, input.userId)
    throw new UserAlreadyDeletedError()
  }

  const now = deps.clock.now()
  const request = acceptedRequest({
    id: input.requestId,
    userId: input.userId,
    requestedBy: input.caller.userId,
    plan: 'sunbird',
    target: {
      rootOrgId: user.rootOrgId,
      managedBy: user.managedBy,
      organisationIds: authorized.organisationIds ?? (await deps.users.findOrganisationIds(input.userId)),
    },
    now,
  })
  if ((await openRequest(deps, request, input.requestIdChosenBy ?? 'caller', input.commit, input)) === 'unknown') return { response: 'SUCCESS' }
  try {
    return await lockAndRun(deps, request, user, input.caller.userId, input.commit)
  } catch (err) {
    await handOver(deps, request, err)
    return { response: 'SUCCESS' }
  }
}

/**
 * The lock and the steps after it, for a request that exists. Of concurrent requests exactly one
 * locks the user; the others end as refused (UOS_USRDLT0008), whatever else fails meanwhile.
 */
async function lockAndRun(deps: DeleteUserDeps, request: DeletionRequest, read: UserRecord, requestedBy: string, commit: CommitGate | undefined): Promise<DeleteUserResult> {
  let user = read
  const userName = deps.eventIncludesUserName ? await deps.users.findUserName(request.userId) : null
  for (let attempt = 1; attempt <= MAX_LOCK_ATTEMPTS; attempt++) {
    const lock = await deps.users.markDeleted(user, { requestedBy, at: deps.clock.now() })
    // Maybe locked: the sweeper reads the row again and finishes (or ends) the request.
    if (lock.kind === 'unknown') throw new DependencyUnavailableError('cassandra')
    if (lock.kind === 'deleted') {
      commit?.decided()
      await recordLock(deps, request, deps.clock.now())
      return { response: 'SUCCESS', state: await runRemainingSteps(deps, request, userName) }
    }
    const current = lock.kind === 'changed' ? lock.current : undefined
    if (lock.kind === 'already-deleted' || (current && isDeleted(current)) || !current) {
      return endLost(deps, request, lock.kind === 'already-deleted' || current ? 'superseded' : 'not-found')
    }
    user = current
  }
  throw new Error('user row kept changing during deletion')
}
