import type { DeletionRequest } from '../../deletion/deletion-request.js'
import type { DeletionStatus } from '../../deletion/deletion-status.js'
import type { DeletionRequest as DeletionRequestView } from '../../schemas/schema-types.js'

/** The mode a request was asked with, as clients name it (absent: Sunbird's deletion). */
function modeOf(request: DeletionRequest): 'soft' | 'hard' | undefined {
  if (request.schedule) return request.schedule.plan === 'hard' ? 'hard' : undefined
  return request.plan === 'sunbird' ? undefined : request.plan
}

/**
 * A deletion request as clients see it (schemas/deletion-request.json): dates as ISO strings, step
 * outcomes without what only the service uses (restore facts, ids, the plan of a phase). A request
 * without a mode or grace period looks exactly as before modes existed.
 */
export function deletionRequestView(request: DeletionRequest | DeletionStatus): DeletionRequestView {
  const mode = modeOf(request)
  return {
    requestId: request.id,
    userId: request.userId,
    state: request.state,
    ...(mode && { mode }),
    ...(request.schedule && { eraseAt: request.schedule.eraseAt.toISOString() }),
    ...(request.reason ? { reason: request.reason } : {}),
    steps: Object.fromEntries(
      Object.entries(request.steps).map(([name, outcome]) => [name, { status: outcome.status, action: outcome.action, ...(outcome.count !== undefined && { count: outcome.count }), at: outcome.at }]),
    ),
    createdAt: request.createdAt.toISOString(),
    updatedAt: request.updatedAt.toISOString(),
    ...(request.receipt ? { receipt: request.receipt as DeletionRequestView['receipt'] & object } : {}),
    ...('erasedBy' in request && request.erasedBy !== undefined && { erasedBy: request.erasedBy }),
  }
}
