import { type DeletionRequest, isFinished, outcomeHolds, type PlanName } from '../deletion/deletion-request.js'
import { keyId } from '../deletion/keyed-hash.js'
import type { DeletionRequestStore, UserStore } from '../deletion/ports.js'
import { CACHE, type OptionalStore, ranWith, SEARCH } from '../deletion/steps/step.js'
import { stepsOf } from '../deletion/steps/index.js'
import { managedUsersToVerify } from './managed-users-to-verify.js'
import { type ByValueDeps, keptHashesOf, verifyByValue } from './verify-by-value.js'
import { type ExtraTargetsDeps, verifyExtraTargets } from './verify-extra-targets.js'
import { type StoresReached, type UserStoresDeps, type VerificationRow, erasing, verifyUserStores } from './verify-user-stores.js'

export type { VerificationRow }

export interface VerifyDeps extends UserStoresDeps, ExtraTargetsDeps, ByValueDeps {
  requests: Pick<DeletionRequestStore, 'get'>
  users: UserStoresDeps['users'] & Pick<UserStore, 'findManagedUserIds'>
}

/** One managed user's stores, by id. */
export interface ManagedUserVerification {
  userId: string
  rows: VerificationRow[]
}

/** The person's managed users, erased by the same deletion: each checked by id, and their contacts by value together. */
export interface ManagedUsersVerification {
  /** How many ids the deletion's managed-users step recorded; undefined when the request holds no outcome of that step. */
  recorded: number | undefined
  /** How many more the managedby index still links to the person. */
  linkedOnly: number
  users: ManagedUserVerification[]
  /** The step keeps the hashes of all their contacts in one set, so these lines are for all of them together. */
  byValue: VerificationRow[]
}

export interface DeletionVerification {
  request: DeletionRequest
  /** keyId() of the configured DELETION_RECEIPT_HASH_KEY, the only key the by-value checks can use. */
  receiptKeyId: string
  /** The person's stores. */
  rows: VerificationRow[]
  /** Undefined for a soft deletion, which leaves the managed users alone. */
  managedUsers: ManagedUsersVerification | undefined
}

/** Every line of the proof: the person's, each managed user's, and the managed users' by value. */
export function allRows(verification: DeletionVerification): VerificationRow[] {
  const managed = verification.managedUsers
  return [...verification.rows, ...(managed?.users.flatMap((user) => user.rows) ?? []), ...(managed?.byValue ?? [])]
}

/** Anything left that the request's plan erases, for the person or any of their managed users. */
export function hasResidue(verification: DeletionVerification): boolean {
  return allRows(verification).some((row) => row.residue)
}

/** Some store could not be checked (row.unchecked says why). */
export function hasUnchecked(verification: DeletionVerification): boolean {
  return allRows(verification).some((row) => row.unchecked)
}

/**
 * deletion:verify's exit code for a verification it could run: residue (1) whatever else, then a
 * store it could not check (3), else 0. 2 (could not verify at all) is the command's own.
 */
export function verificationExitCode(verification: DeletionVerification): 0 | 1 | 3 {
  if (hasResidue(verification)) return 1
  return hasUnchecked(verification) ? 3 : 0
}

/**
 * Why a request has no erasure of its own to verify, or undefined when it has one. A cancelled
 * request restored the person (what its plan flagged reads as it did before it, rightly); one being
 * cancelled is restoring them; a failed one was taken over by another deletion of the user (whose
 * proof it is to give) or found no such user. Judging the stores by its plan would call a restore
 * residue.
 */
export function nothingToVerify(request: Pick<DeletionRequest, 'state' | 'reason'>): string | undefined {
  if (request.state === 'cancelled') return 'it was cancelled and the person restored: there is no erasure to verify'
  if (request.state === 'cancelling') return 'it is being cancelled (the person restored): there is no erasure to verify'
  if (request.state !== 'failed') return undefined
  if (request.reason === 'not-found') return 'it failed: the user was not found, so it erased nothing'
  return "it failed: a later deletion of the user took them over (it may have done part of its work first); verify that deletion (`/delete/status` by the user's id names it)"
}

/** One user's stores by id: the service's own, then the ERASURE_EXTRA_TARGETS tables. */
async function byId(deps: VerifyDeps, userId: string, plan: PlanName, reached: StoresReached, adderNamesJudged: boolean): Promise<VerificationRow[]> {
  return [...(await verifyUserStores(deps, userId, plan, reached, adderNamesJudged)), ...(await verifyExtraTargets(deps, userId, plan))]
}

/**
 * Re-checks every configured store for the person of a deletion request and for each user they
 * managed (erased by the same deletion, the same way): by id, and by value for the stores keyed by
 * a plain value (otp, rate_limit, user_lookup), through the keyed hashes the request kept, under
 * the key that made them only (see verifyByValue).
 */
export async function verifyDeletion(deps: VerifyDeps, requestId: string): Promise<DeletionVerification | undefined> {
  const request = await deps.requests.get(requestId)
  return request && verifyRequest(deps, request)
}

/**
 * Whether the deletion ran with the store configured, or, not finished, may still reach it: a
 * later run goes back to a step that recorded no outcome (or one owed), for the person or, through
 * the managed users' step, for the users they manage; not to one settled without the store.
 */
function mayHaveReached(request: DeletionRequest, store: OptionalStore): boolean {
  if (ranWith(request.steps, store)) return true
  if (isFinished(request.state)) return false
  // A grace period's erasure is still to run, with steps of its own plan.
  if (request.state === 'scheduled') return true
  const stepsAhead = stepsOf(request.plan).filter((step) => step.name in store.steps || step.name === 'managedUsers')
  return stepsAhead.some((step) => !outcomeHolds(request.steps[step.name], request.plan))
}

/** verifyDeletion of a request already read. */
export async function verifyRequest(deps: VerifyDeps, request: DeletionRequest): Promise<DeletionVerification> {
  const plan = request.plan
  const receiptKeyId = keyId(deps.receiptKey)
  const personHashes = [keptHashesOf(request, request.steps.otp, deps.receiptKey), keptHashesOf(request, request.steps.rateLimit, deps.receiptKey)]
  const reached = { search: mayHaveReached(request, SEARCH), cache: mayHaveReached(request, CACHE) }
  // A deletion finished before searchAddedByName existed never rewrote other users' memberships: shown, not judged. One not finished runs it still.
  const adderNamesJudged = request.steps.searchAddedByName !== undefined || !isFinished(request.state)
  // A soft deletion leaves the managed users alone: only the person is erased.
  const managed = erasing(plan) ? await managedUsersToVerify(request, deps.users) : undefined
  // A value one of them holds again is still this deletion's to answer for; one anybody else holds now is theirs.
  const erasedIds = new Set([request.userId, ...(managed?.ids ?? [])])
  const rows = [...(await byId(deps, request.userId, plan, reached, adderNamesJudged)), ...(await verifyByValue(deps, plan, personHashes, erasedIds))]
  if (!managed) return { request, receiptKeyId, rows, managedUsers: undefined }

  const users: ManagedUserVerification[] = []
  for (const userId of managed.ids) users.push({ userId, rows: await byId(deps, userId, plan, reached, adderNamesJudged) })
  const managedHashes = [keptHashesOf(request, request.steps.managedUsers, deps.receiptKey)]
  const byValue = managed.ids.length > 0 ? await verifyByValue(deps, plan, managedHashes, erasedIds) : []
  return { request, receiptKeyId, rows, managedUsers: { recorded: managed.recorded, linkedOnly: managed.linkedOnly, users, byValue } }
}
