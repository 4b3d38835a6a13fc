import type { Client } from 'cassandra-driver'
import type { EventOutbox } from '../deletion/ports.js'
import { IDEMPOTENT, runCassandra } from './cassandra-call.js'

export interface OutboxEntry {
  requestId: string
  mid: string
  userId: string
  payload: string
  attempts: number
}

/** Every statement of this adapter, for one keyspace. */
function outboxStatements(keyspace: string) {
  const t = `${keyspace}.user_deletion_event_outbox`
  const pending = `${keyspace}.user_deletion_event_outbox_pending`
  return {
    append: `INSERT INTO ${t} (requestid, mid, userid, payload, createdat, attempts) VALUES (?, ?, ?, ?, ?, 0) IF NOT EXISTS`,
    get: `SELECT requestid, mid, userid, payload, publishedat, attempts FROM ${t} WHERE requestid = ?`,
    markPending: `INSERT INTO ${pending} (requestid, createdat) VALUES (?, ?)`,
    listPending: `SELECT requestid FROM ${pending} LIMIT ?`,
    published: `UPDATE ${t} SET publishedat = ? WHERE requestid = ?`,
    unlist: `DELETE FROM ${pending} WHERE requestid = ?`,
    attempt: `UPDATE ${t} SET attempts = ? WHERE requestid = ?`,
  }
}

/**
 * user_deletion_event_outbox keeps each request's event (one per request, first write wins, so its
 * mid never changes); user_deletion_event_outbox_pending lists what the relay still has to publish.
 */
export class CassandraEventOutbox implements EventOutbox {
  private readonly cql: ReturnType<typeof outboxStatements>

  constructor(
    private readonly client: Client,
    keyspace: string,
  ) {
    this.cql = outboxStatements(keyspace)
  }

  async append(requestId: string, event: Record<string, unknown>): Promise<void> {
    const object = event.object as { id?: string } | undefined
    const result = await runCassandra(() => this.client.execute(this.cql.append, [requestId, String(event.mid), object?.id ?? null, JSON.stringify(event), new Date()], { prepare: true }))
    const published = !result.wasApplied() && result.first()?.get('publishedat')
    if (!published) await runCassandra(() => this.client.execute(this.cql.markPending, [requestId, new Date()], IDEMPOTENT))
  }

  async state(requestId: string): Promise<'queued' | 'published' | undefined> {
    const row = (await runCassandra(() => this.client.execute(this.cql.get, [requestId], IDEMPOTENT))).first()
    if (!row) return undefined
    return row.get('publishedat') ? 'published' : 'queued'
  }

  async pending(limit: number): Promise<OutboxEntry[]> {
    const ids = (await runCassandra(() => this.client.execute(this.cql.listPending, [limit], IDEMPOTENT))).rows.map((r) => r.get('requestid') as string)
    const entries: OutboxEntry[] = []
    for (const requestId of ids) {
      const row = (await runCassandra(() => this.client.execute(this.cql.get, [requestId], IDEMPOTENT))).first()
      if (!row) continue
      if (row.get('publishedat')) {
        await this.unlist(requestId)
        continue
      }
      entries.push({ requestId, mid: row.get('mid') as string, userId: row.get('userid') as string, payload: row.get('payload') as string, attempts: (row.get('attempts') as number | null) ?? 0 })
    }
    return entries
  }

  async markPublished(requestId: string, at: Date): Promise<void> {
    await runCassandra(() => this.client.execute(this.cql.published, [at, requestId], IDEMPOTENT))
    await this.unlist(requestId)
  }

  async attemptFailed(entry: OutboxEntry): Promise<void> {
    await runCassandra(() => this.client.execute(this.cql.attempt, [entry.attempts + 1, entry.requestId], IDEMPOTENT))
  }

  private async unlist(requestId: string): Promise<void> {
    await runCassandra(() => this.client.execute(this.cql.unlist, [requestId], IDEMPOTENT))
  }
}
