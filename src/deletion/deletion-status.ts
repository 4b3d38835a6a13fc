import type { Caller } from './caller.js'
import { ORG_ADMIN, orgAdminCovers, type OrgAdminScope } from './deletion-policy.js'
import type { DeletionRequest } from './deletion-request.js'
import { DeletionRequestNotFoundError, NotPermittedError } from './errors.js'
import type { DeletionRequestStore } from './ports.js'

export interface DeletionStatusDeps {
  requests: Pick<DeletionRequestStore, 'get' | 'findByUser'>
  orgAdminScope: OrgAdminScope
}

/**
 * Who may follow a deletion: whoever asked for it, the deleted user's managing parent, or an
 * ORG_ADMIN of the user's organisation (the facts were kept on the request, ids only, because the
 * profile is gone by then).
 */
function mayRead(caller: Caller, request: DeletionRequest, scope: OrgAdminScope): boolean {
  if (request.requestedBy === caller.userId) return true
  if (request.target.managedBy && request.target.managedBy === caller.userId) return true
  if (!caller.roles.some((role) => role.role === ORG_ADMIN)) return false
  const organisations = [...request.target.organisationIds, ...(request.target.rootOrgId ? [request.target.rootOrgId] : [])]
  return orgAdminCovers(caller, organisations, scope)
}

/** The deletion request by id, or the newest one for a user, if the caller may see it. */
export async function readDeletionStatus(deps: DeletionStatusDeps, input: { caller: Caller } & ({ requestId: string } | { userId: string })): Promise<DeletionRequest> {
  const request = 'requestId' in input ? await deps.requests.get(input.requestId) : (await deps.requests.findByUser(input.userId, 1))[0]
  if (!request) throw new DeletionRequestNotFoundError()
  if (!mayRead(input.caller, request, deps.orgAdminScope)) throw new NotPermittedError('may not read this deletion request')
  return request
}
