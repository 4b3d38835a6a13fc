import type { Caller } from './caller.js'
import { deletionBasis, ORG_ADMIN, orgAdminCovers, type OrgAdminScope } from './deletion-policy.js'
import { type DeletionRequest, tookTheUser } from './deletion-request.js'
import { DeletionRequestNotFoundError, DependencyUnavailableError, NotPermittedError } from './errors.js'
import type { DeletionRequestStore, UserDeletionStates } from './ports.js'

export interface DeletionStatusDeps {
  requests: Pick<DeletionRequestStore, 'get' | 'findByUser'>
  states: Pick<UserDeletionStates, 'get'>
  orgAdminScope: OrgAdminScope
}

/**
 * A deletion request as its status tells it: `erasedBy`, the deletion that erased the user after it
 * and holds them now (a managing parent's deletion, which erases its managed users under its own
 * id, or a later hard deletion of the user's own), when it is another: the request's own outcome (a
 * soft deletion kept, an erasure scheduled) no longer says what became of the user.
 */
export type DeletionStatus = DeletionRequest & { erasedBy?: string }

/**
 * The deletion that erased the user after this request and holds them now (a hard one, or Sunbird's
 * over a soft deletion), for a request that took the user once (its lock recorded). Only one made
 * after this request (an older hold outlived a restore of the user) and one the caller may follow
 * (its id tells that the other person was deleted). Advisory: a hold that cannot be read now (its
 * serial read timing out beside a compare-and-set in flight) leaves it out rather than fail the status.
 */
async function erasedByAnother(deps: DeletionStatusDeps, caller: Caller, request: DeletionRequest): Promise<string | undefined> {
  if (request.steps.lock === undefined) return undefined
  try {
    const held = await deps.states.get(request.userId)
    if (!held || held.requestId === request.id || (held.mode !== 'hard' && held.mode !== 'sunbird')) return undefined
    const holder = await deps.requests.get(held.requestId)
    if (!holder || holder.createdAt.getTime() <= request.createdAt.getTime() || !mayRead(caller, holder, deps.orgAdminScope)) return undefined
    return holder.id
  } catch (err) {
    if (err instanceof DependencyUnavailableError) return undefined
    throw err
  }
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

/** How many of a user's newest requests are looked through for the one that took the user. */
const RECENT_REQUESTS = 20

/**
 * A user's newest request; when it ended superseded (a delete that lost a race for the lock, a
 * cancel overtaken by a deletion), the request of theirs that took them instead, which tells what
 * became of them, if the caller may read it. A user taken by a request that is not theirs (a
 * managing parent's deletion holds its managed users under its own id) has none: the superseded
 * one is answered, never an older request that no longer holds.
 */
async function requestTellingDeletionOf(deps: DeletionStatusDeps, caller: Caller, userId: string): Promise<DeletionRequest | undefined> {
  const recent = await deps.requests.findByUser(userId, RECENT_REQUESTS)
  const newest = recent[0]
  if (newest?.reason !== 'superseded') return newest
  return recent.find((request) => tookTheUser(request) && mayRead(caller, request, deps.orgAdminScope)) ?? newest
}

/**
 * The deletion request by id, or for a user their newest one (requestTellingDeletionOf), if the
 * caller may see it, with the deletion that erased the user since when it is another (erasedBy).
 *
 * By user id, whether the caller may look at all is decided before anything is read, where it does
 * not depend on the request: a caller who is not the user, not acting for that managed user, not an
 * ORG_ADMIN and not a consumer trusted with any user is refused (NotPermittedError) whether or not
 * the user has a deletion, so 403 against 404 tells such a caller nothing. What is left: an
 * ORG_ADMIN (whose right depends on the user's organisations, kept on the request) may tell, for a
 * user outside their organisations, whether one exists (403) or not (404); so may a trusted
 * consumer. By request id the right depends on the request (who asked for it), so it is read first:
 * 403 against 404 tells whether a request of that id exists, and nothing of whom it concerns.
 */
export async function readDeletionStatus(deps: DeletionStatusDeps, input: { caller: Caller } & ({ requestId: string } | { userId: string })): Promise<DeletionStatus> {
  if ('userId' in input && deletionBasis(input.caller, input.userId) === 'none') throw new NotPermittedError('may not follow deletions of this user')
  const request = 'requestId' in input ? await deps.requests.get(input.requestId) : await requestTellingDeletionOf(deps, input.caller, input.userId)
  if (!request) throw new DeletionRequestNotFoundError()
  if (!mayRead(input.caller, request, deps.orgAdminScope)) throw new NotPermittedError('may not read this deletion request')
  const erasedBy = await erasedByAnother(deps, input.caller, request)
  return erasedBy ? { ...request, erasedBy } : request
}
