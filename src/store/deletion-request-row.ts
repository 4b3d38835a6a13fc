import type { types } from 'cassandra-driver'
import { type DeletionRequest, type PlanName, type RequestState, STEPS, type StepOutcome } from '../deletion/deletion-request.js'
import { readSchemaCheckedReceipt } from './stored-receipt.js'

// How a user_deletion_request row reads as the domain's DeletionRequest: one place for what each
// column, null or absent, becomes.

/**
 * The recorded outcomes of a user_deletion_request row (its steps and eventpublishedat columns), in
 * the order the steps run (Cassandra returns map keys sorted); the relay's confirmation that the
 * event is on the topic, kept in its own column, reads as the event's outcome.
 */
export function recordedSteps(row: types.Row): DeletionRequest['steps'] {
  const recorded = (row.get('steps') as Record<string, string> | null) ?? {}
  const steps: DeletionRequest['steps'] = Object.fromEntries(STEPS.filter((step) => recorded[step] !== undefined).map((step) => [step, JSON.parse(recorded[step] as string) as StepOutcome]))
  const publishedAt = row.get('eventpublishedat') as Date | null
  if (publishedAt) steps.event = { status: 'done', action: 'published', at: publishedAt.toISOString() }
  return steps
}

/** A request row as the domain reads it; a receipt that is not one (readSchemaCheckedReceipt) is left out, and `onUnreadableReceipt` told. */
export function requestOfRow(row: types.Row, onUnreadableReceipt: (requestId: string) => void): DeletionRequest {
  const id = row.get('id') as string
  const receipt = readSchemaCheckedReceipt(row.get('receipt') as string | null)
  if (receipt === 'unreadable') onUnreadableReceipt(id)
  const reason = row.get('reason') as string | null
  const cancelledBy = row.get('cancelledby') as string | null
  const erasePlan = row.get('eraseplan') as Exclude<PlanName, 'soft'> | null
  const eraseAt = row.get('eraseat') as Date | null
  return {
    id,
    userId: row.get('userid') as string,
    requestedBy: row.get('requestedby') as string,
    state: row.get('state') as RequestState,
    // Requests written before modes existed are Sunbird's deletion.
    plan: (row.get('plan') as PlanName | null) ?? 'sunbird',
    ...(erasePlan && eraseAt && { schedule: { plan: erasePlan, eraseAt } }),
    steps: recordedSteps(row),
    target: {
      rootOrgId: (row.get('rootorgid') as string | null) ?? null,
      managedBy: (row.get('managedby') as string | null) ?? null,
      organisationIds: (row.get('organisationids') as string[] | null) ?? [],
    },
    createdAt: row.get('createdat') as Date,
    updatedAt: row.get('updatedat') as Date,
    ...(reason ? { reason } : {}),
    ...(receipt && receipt !== 'unreadable' && { receipt }),
    ...(cancelledBy ? { cancelledBy } : {}),
  }
}
