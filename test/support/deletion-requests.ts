import type { Client, types } from 'cassandra-driver'
import { TEST_KEYSPACE } from './test-env.js'

export interface StoredRequest {
  id: string
  state: string
  requestedBy: string
  steps: Record<string, { status: string; action: string; count?: number }>
  receipt: Record<string, unknown> | null
}

/** The recorded outcomes; the relay's confirmation (its own column) reads as the event's, as the adapter reads it. */
function stepsOf(row: types.Row): StoredRequest['steps'] {
  const steps = Object.fromEntries(Object.entries((row.get('steps') as Record<string, string> | null) ?? {}).map(([k, v]) => [k, JSON.parse(v)]))
  const publishedAt = row.get('eventpublishedat') as Date | null
  if (publishedAt) steps.event = { status: 'done', action: 'published', at: publishedAt.toISOString() }
  return steps
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
      steps: stepsOf(row),
      receipt: row.get('receipt') ? (JSON.parse(row.get('receipt') as string) as Record<string, unknown>) : null,
    }))
}
