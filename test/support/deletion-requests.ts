import type { Client } from 'cassandra-driver'
import { recordedSteps } from '../../src/store/deletion-request-row.js'
import type { Harness } from './harness.js'
import { TEST_KEYSPACE } from './test-env.js'

export interface StoredRequest {
  id: string
  state: string
  requestedBy: string
  steps: Record<string, { status: string; action: string; count?: number }>
  receipt: Record<string, unknown> | null
}

/** The deletion requests recorded for a user, newest first, straight from Cassandra. */
export async function requestsOf(db: Client, userId: string, keyspace = TEST_KEYSPACE): Promise<StoredRequest[]> {
  const result = await db.execute(`SELECT id, state, requestedby, steps, eventpublishedat, receipt, createdat FROM ${keyspace}.user_deletion_request WHERE userid = ?`, [userId], {
    prepare: true,
  })
  return result.rows
    .sort((a, b) => (b.get('createdat') as Date).getTime() - (a.get('createdat') as Date).getTime())
    .map((row) => ({
      id: row.get('id') as string,
      state: row.get('state') as string,
      requestedBy: row.get('requestedby') as string,
      // Read as the service reads them: the relay's confirmation (its own column) is the event's outcome.
      steps: recordedSteps(row),
      receipt: row.get('receipt') ? (JSON.parse(row.get('receipt') as string) as Record<string, unknown>) : null,
    }))
}

/** The events this harness's instance audited for one request, in the order of its chain. */
export async function auditEventsOf(h: Harness, requestId: string): Promise<string[]> {
  const rows = (await h.db.execute(`SELECT record FROM ${TEST_KEYSPACE}.user_deletion_audit WHERE chain = ?`, [h.service.audit.currentChain], { prepare: true })).rows
  return rows
    .map((row) => JSON.parse(row.get('record') as string) as { event: string; requestId: string })
    .filter((record) => record.requestId === requestId)
    .map((record) => record.event)
}
