import type { Caller } from './caller.js'

export type OrgAdminScope = 'organisation' | 'any'

/** Why a caller may delete a user, before the user's own data is read. */
export type DeletionBasis = 'self' | 'managed-user' | 'org-admin' | 'any-user' | 'none'

export const ORG_ADMIN = 'ORG_ADMIN'

/**
 * Sunbird's OPA rule for deleteUser, enforced in the service rather than a sidecar: the user
 * themselves, the managing parent acting through the managed user's token (X-Authenticated-For,
 * whose parentId must be the requester and whose subject must be the target), or an ORG_ADMIN.
 * Beside them, a gateway consumer trusted with `deleteAnyUser` (a service, no person).
 */
export function deletionBasis(caller: Caller, targetUserId: string): DeletionBasis {
  if (caller.deleteAnyUser === true) return 'any-user'
  if (caller.userId === targetUserId) return 'self'
  const managed = caller.managedUser
  if (managed && managed.userId === targetUserId && managed.parentId === caller.userId) return 'managed-user'
  if (caller.roles.some((role) => role.role === ORG_ADMIN)) return 'org-admin'
  return 'none'
}

/**
 * An ORG_ADMIN acts inside the organisations their role is scoped to. Sunbird lets any ORG_ADMIN
 * delete anyone; that stays available as scope `any` for deployments that rely on it.
 */
export function orgAdminCovers(caller: Caller, targetOrganisationIds: readonly string[], scope: OrgAdminScope): boolean {
  if (scope === 'any') return true
  const adminOrgs = new Set(caller.roles.filter((role) => role.role === ORG_ADMIN).flatMap((role) => role.organisationIds))
  return targetOrganisationIds.some((id) => adminOrgs.has(id))
}

/** Sunbird's role restriction: every role of the target must be in `user-deletion-roles` (case-insensitive). */
export function rolesAllowDeletion(targetRoles: readonly string[], allowedRoles: readonly string[]): boolean {
  const allowed = new Set(allowedRoles.map((role) => role.trim().toLowerCase()))
  return targetRoles.every((role) => allowed.has(role.trim().toLowerCase()))
}
