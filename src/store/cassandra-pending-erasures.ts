import type { Client, types } from 'cassandra-driver'
import type { PendingErasure, PendingIdentityErasures } from '../deletion/ports.js'
import { runCassandra } from './driver-errors.js'

const idempotent = { prepare: true, isIdempotent: true } as const

function toPending(row: types.Row): PendingErasure {
  return { userId: row.get('userid') as string, since: row.get('since') as Date, attempts: (row.get('attempts') as number | null) ?? 0 }
}

/** identity_erasure_pending: one row per user whose Keycloak account is still owed an erasure. Ids only. */
export class CassandraPendingErasures implements PendingIdentityErasures {
  private readonly cql: Record<'record' | 'find' | 'list' | 'attempt' | 'clear', string>

  constructor(
    private readonly client: Client,
    keyspace: string,
  ) {
    const table = `${keyspace}.identity_erasure_pending`
    this.cql = {
      // IF NOT EXISTS keeps the first `since` when a retried request records again.
      record: `INSERT INTO ${table} (userid, since, attempts) VALUES (?, ?, 0) IF NOT EXISTS`,
      find: `SELECT userid, since, attempts FROM ${table} WHERE userid = ?`,
      list: `SELECT userid, since, attempts FROM ${table} LIMIT ?`,
      attempt: `UPDATE ${table} SET attempts = ?, lastattempt = ? WHERE userid = ?`,
      clear: `DELETE FROM ${table} WHERE userid = ?`,
    }
  }

  async record(userId: string, at: Date): Promise<void> {
    await runCassandra(() => this.client.execute(this.cql.record, [userId, at], { prepare: true }))
  }

  async find(userId: string): Promise<PendingErasure | undefined> {
    const row = (await runCassandra(() => this.client.execute(this.cql.find, [userId], idempotent))).first()
    return row ? toPending(row) : undefined
  }

  async list(limit: number): Promise<PendingErasure[]> {
    return (await runCassandra(() => this.client.execute(this.cql.list, [limit], idempotent))).rows.map(toPending)
  }

  async attemptFailed(userId: string): Promise<void> {
    const current = await this.find(userId)
    if (!current) return
    await runCassandra(() => this.client.execute(this.cql.attempt, [current.attempts + 1, new Date(), userId], idempotent))
  }

  async clear(userId: string): Promise<void> {
    await runCassandra(() => this.client.execute(this.cql.clear, [userId], idempotent))
  }
}
