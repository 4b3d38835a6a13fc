import type { types } from 'cassandra-driver'
import { acceptedRequest, type DeletionRequest, type PlanName } from '../deletion/deletion-request.js'

// What an open entry keeps of its request, written with the entry before the request's row, so that
// the sweeper can create a request whose create never applied (CassandraDeletionRequests.createFromEntry).

/** What an open entry keeps of its request (ids, plan, schedule and target: no personal data), as one JSON value. */
interface KeptRequest {
  userId: string
  createdAt: string
  requestedBy: string
  plan: PlanName
  schedule?: { plan: Exclude<PlanName, 'soft'>; eraseAt: string }
  target: DeletionRequest['target']
}

export const keptValue = (request: DeletionRequest): string =>
  JSON.stringify({
    userId: request.userId,
    createdAt: request.createdAt.toISOString(),
    requestedBy: request.requestedBy,
    plan: request.plan,
    ...(request.schedule && { schedule: { plan: request.schedule.plan, eraseAt: request.schedule.eraseAt.toISOString() } }),
    target: request.target,
  } satisfies KeptRequest)

/** A kept value of the shape keptValue writes; undefined for anything else (none, or written by hand), so one odd entry is dropped rather than failing every sweep. */
function parseKept(value: string | null): KeptRequest | undefined {
  if (!value) return undefined
  try {
    const kept = JSON.parse(value) as Partial<KeptRequest> | null
    const target = kept?.target
    const shaped =
      typeof kept?.userId === 'string' &&
      typeof kept.createdAt === 'string' &&
      typeof kept.requestedBy === 'string' &&
      typeof kept.plan === 'string' &&
      Array.isArray(target?.organisationIds) &&
      (kept.schedule === undefined || (typeof kept.schedule.plan === 'string' && typeof kept.schedule.eraseAt === 'string'))
    return shaped ? (kept as KeptRequest) : undefined
  } catch {
    return undefined
  }
}

/**
 * The request an entry kept, as it was created; undefined when it kept none, or kept one of another
 * create of its id (a create that only listed it since, without keeping: a fenced one), which the
 * entry's own user and creation time tell.
 */
export function keptRequest(id: string, row: types.Row): DeletionRequest | undefined {
  const kept = parseKept(row.get('request') as string | null)
  if (!kept) return undefined
  const createdAt = new Date(kept.createdAt)
  if (kept.userId !== row.get('userid') || createdAt.getTime() !== (row.get('createdat') as Date | null)?.getTime()) return undefined
  const target = { ...kept.target, organisationIds: [...new Set(kept.target.organisationIds)].sort() }
  const schedule = kept.schedule && { plan: kept.schedule.plan, eraseAt: new Date(kept.schedule.eraseAt) }
  return acceptedRequest({ id, userId: kept.userId, requestedBy: kept.requestedBy, plan: kept.plan, schedule, target, now: createdAt })
}
