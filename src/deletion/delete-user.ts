import type { Caller } from '../auth/caller.js'
import { deletionBasis, orgAdminCovers, rolesAllowDeletion, type OrgAdminScope } from '../auth/deletion-policy.js'
import { NotPermittedError, RoleRestrictedError, UserAlreadyDeletedError, UserNotFoundError } from './errors.js'
import { settleIdentityErasure, type ErasureOutcome } from './identity-erasure.js'
import type { Clock, DeletionListener, IdentityProvider, PendingIdentityErasures, UserRecord, UserStore } from './ports.js'

export interface DeleteUserDeps {
  users: UserStore
  identity: IdentityProvider
  pendingErasures: PendingIdentityErasures
  listener: DeletionListener
  clock: Clock
  policy: { orgAdminScope: OrgAdminScope; allowedRoles: readonly string[] }
  /** How long the request waits for the identity provider before answering; the erasure goes on. */
  identityWaitMs: number
  /** Told what happened to the identity step (for the log), never blocking the answer. */
  onIdentityOutcome?(userId: string, outcome: ErasureOutcome | 'failed', err?: unknown): void
}

export interface DeleteUserInput {
  /** The target, already reduced from f:<provider>:<id> to <id>. */
  userId: string
  caller: Caller
}

export interface DeleteUserResult {
  response: 'SUCCESS'
}

const isDeleted = (user: UserRecord) => user.status === 2 && user.isDeleted === true

// A row changing under us twice in a row is already unusual; a third time is a fight we should not win by looping.
const MAX_COMMIT_ATTEMPTS = 3

async function authorize(deps: DeleteUserDeps, input: DeleteUserInput): Promise<UserRecord | undefined> {
  const basis = deletionBasis(input.caller, input.userId)
  if (basis === 'none') throw new NotPermittedError('not self, managing parent or org admin')
  if (basis === 'self') return undefined
  const user = await deps.users.findUser(input.userId)
  if (basis === 'managed-user') {
    // The token pair says "parent acting for child"; the row must agree when it names a manager.
    if (user?.managedBy && user.managedBy !== input.caller.userId) throw new NotPermittedError('managed by someone else')
    return user
  }
  if (deps.policy.orgAdminScope === 'organisation' && user) {
    const organisations = await deps.users.findOrganisationIds(input.userId)
    if (user.rootOrgId) organisations.push(user.rootOrgId)
    if (!orgAdminCovers(input.caller, organisations, deps.policy.orgAdminScope)) throw new NotPermittedError('outside the admin organisations')
  }
  return user
}

/**
 * Settles an owed identity erasure, waiting at most `identityWaitMs`: a slow or absent Keycloak
 * never holds the answer, and the debt stays recorded for the retry or the sweep.
 */
async function settleIdentity(deps: DeleteUserDeps, userId: string): Promise<void> {
  const settling = settleIdentityErasure(deps, userId).then(
    (outcome) => deps.onIdentityOutcome?.(userId, outcome),
    (err: unknown) => deps.onIdentityOutcome?.(userId, 'failed', err),
  )
  let timer: NodeJS.Timeout | undefined
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, deps.identityWaitMs)
  })
  await Promise.race([settling, waited])
  clearTimeout(timer)
}

/**
 * Deletes a user the Sunbird way, in Sunbird's order of checks (authorization, role restriction,
 * existence, already deleted), without Sunbird's half-deleted states:
 * 1. the Keycloak erasure is recorded as owed (write-ahead), so no crash can lose it;
 * 2. lookups and external identities go (idempotent);
 * 3. one lightweight transaction on the user row marks it deleted and blanks its profile: the
 *    commit point. Before it, the user is not "deleted" and the same request again finishes the
 *    job; of concurrent requests exactly one wins;
 * 4. the user is locked out of this service at once, then Keycloak sessions end and the account
 *    goes. If Keycloak is down the answer is still 200 and the owed erasure is settled by the
 *    next identical request or the background sweep.
 */
export async function deleteUser(deps: DeleteUserDeps, input: DeleteUserInput): Promise<DeleteUserResult> {
  const readForAuthorization = await authorize(deps, input)
  const roles = await deps.users.findRoles(input.userId)
  if (!rolesAllowDeletion(roles, deps.policy.allowedRoles)) throw new RoleRestrictedError()
  let user = readForAuthorization ?? (await deps.users.findUser(input.userId))
  if (!user) throw new UserNotFoundError()
  if (isDeleted(user)) {
    await settleIdentity(deps, input.userId)
    throw new UserAlreadyDeletedError()
  }

  await deps.pendingErasures.record(input.userId, deps.clock.now())
  await deps.users.eraseLookups(input.userId)
  for (let attempt = 1; attempt <= MAX_COMMIT_ATTEMPTS; attempt++) {
    const outcome = await deps.users.markDeleted(user, { requestedBy: input.caller.userId, at: deps.clock.now() })
    if (outcome.kind === 'deleted') {
      deps.listener.userDeleted(input.userId)
      await settleIdentity(deps, input.userId)
      return { response: 'SUCCESS' }
    }
    if (outcome.kind === 'already-deleted') throw new UserAlreadyDeletedError()
    if (!outcome.current) throw new UserNotFoundError()
    user = outcome.current
    if (isDeleted(user)) throw new UserAlreadyDeletedError()
  }
  throw new Error('user row kept changing during deletion')
}
