import type { Caller } from '../auth/caller.js'
import { deletionBasis, orgAdminCovers, rolesAllowDeletion, type OrgAdminScope } from '../auth/deletion-policy.js'
import { NotPermittedError, RoleRestrictedError, UserAlreadyDeletedError, UserNotFoundError } from './errors.js'
import type { Clock, UserRecord, UserStore } from './ports.js'

export interface DeleteUserDeps {
  users: UserStore
  clock: Clock
  policy: { orgAdminScope: OrgAdminScope; allowedRoles: readonly string[] }
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
 * Deletes a user the Sunbird way, in Sunbird's order of checks (authorization, role restriction,
 * existence, already deleted), without Sunbird's half-deleted states: lookups and external
 * identities go first (idempotent), and one lightweight transaction on the user row then marks it
 * deleted and blanks its profile together. A failure before that commit leaves a user that is not
 * yet "deleted", so the same request again finishes the job; concurrent requests race on the
 * transaction and exactly one wins.
 */
export async function deleteUser(deps: DeleteUserDeps, input: DeleteUserInput): Promise<DeleteUserResult> {
  const readForAuthorization = await authorize(deps, input)
  const roles = await deps.users.findRoles(input.userId)
  if (!rolesAllowDeletion(roles, deps.policy.allowedRoles)) throw new RoleRestrictedError()
  let user = readForAuthorization ?? (await deps.users.findUser(input.userId))
  if (!user) throw new UserNotFoundError()
  if (isDeleted(user)) throw new UserAlreadyDeletedError()

  await deps.users.eraseLookups(input.userId)
  for (let attempt = 1; attempt <= MAX_COMMIT_ATTEMPTS; attempt++) {
    const outcome = await deps.users.markDeleted(user, { requestedBy: input.caller.userId, at: deps.clock.now() })
    if (outcome.kind === 'deleted') return { response: 'SUCCESS' }
    if (outcome.kind === 'already-deleted') throw new UserAlreadyDeletedError()
    if (!outcome.current) throw new UserNotFoundError()
    user = outcome.current
    if (isDeleted(user)) throw new UserAlreadyDeletedError()
  }
  throw new Error('user row kept changing during deletion')
}
