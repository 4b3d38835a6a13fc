import type { DeletionRequest } from '../deletion/deletion-request.js'
import type { DeletionRequestStore, UserStore } from '../deletion/ports.js'
import { managedUsersToVerify } from './managed-users-to-verify.js'
import { type ByValueDeps, verifyByValue } from './verify-by-value.js'
import { type UserStoresDeps, type VerificationRow, erasing, verifyUserStores } from './verify-user-stores.js'

export type { VerificationRow }

export interface VerifyDeps extends UserStoresDeps, ByValueDeps {
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
  /** The person's stores. */
  rows: VerificationRow[]
  /** Undefined for a soft deletion, which leaves the managed users alone. */
  managedUsers: ManagedUsersVerification | undefined
}

/** Anything left that the request's plan erases, for the person or any of their managed users. */
export function hasResidue(verification: DeletionVerification): boolean {
  const managed = verification.managedUsers
  const all = [...verification.rows, ...(managed?.users.flatMap((user) => user.rows) ?? []), ...(managed?.byValue ?? [])]
  return all.some((row) => row.residue)
}

/**
 * Re-checks every configured store for the person of a deletion request and for each user they
 * managed (erased by the same deletion, the same way): by id, and by value for the stores keyed by
 * a plain value (otp, rate_limit, user_lookup), through the keyed hashes the request kept.
 */
export async function verifyDeletion(deps: VerifyDeps, requestId: string): Promise<DeletionVerification | undefined> {
  const request = await deps.requests.get(requestId)
  if (!request) return undefined
  const plan = request.plan
  const personHashes = new Set([...(request.steps.otp?.hashes ?? []), ...(request.steps.rateLimit?.hashes ?? [])])
  const rows = [...(await verifyUserStores(deps, request.userId, plan)), ...(await verifyByValue(deps, plan, personHashes))]
  if (!erasing(plan)) return { request, rows, managedUsers: undefined }

  const managed = await managedUsersToVerify(request, deps.users)
  const users: ManagedUserVerification[] = []
  for (const userId of managed.ids) users.push({ userId, rows: await verifyUserStores(deps, userId, plan) })
  const managedHashes = new Set(request.steps.managedUsers?.hashes ?? [])
  const byValue = managed.ids.length > 0 ? await verifyByValue(deps, plan, managedHashes) : []
  return { request, rows, managedUsers: { recorded: managed.recorded, linkedOnly: managed.linkedOnly, users, byValue } }
}
