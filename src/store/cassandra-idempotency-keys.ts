import type { Client, types } from 'cassandra-driver'
import type { IdempotencyKeyId, IdempotencyKeys, IdempotencyRecord, StoredAnswer } from '../shared/idempotency-keys.js'
import { runCassandra } from './cassandra-call.js'

/** Every statement of this adapter, for one keyspace. */
function statements(keyspace: string) {
  const t = `${keyspace}.api_idempotency_key`
  return {
    claim: `INSERT INTO ${t} (owner, keyhash, fingerprint, state, createdat) VALUES (?, ?, ?, 'in-flight', ?) IF NOT EXISTS USING TTL ?`,
    complete: `UPDATE ${t} USING TTL ? SET fingerprint = ?, state = 'done', status = ?, headers = ?, body = ?, errcode = ?, createdat = ? WHERE owner = ? AND keyhash = ? IF fingerprint = ?`,
    release: `DELETE FROM ${t} WHERE owner = ? AND keyhash = ? IF fingerprint = ?`,
  }
}

function toRecord(row: types.Row): IdempotencyRecord {
  const fingerprint = row.get('fingerprint') as string
  if (row.get('state') !== 'done') return { fingerprint, state: 'in-flight' }
  const body = row.get('body') as Buffer | null
  const answer: StoredAnswer = {
    status: row.get('status') as number,
    headers: JSON.parse((row.get('headers') as string | null) ?? '[]') as [string, string][],
    body: body ? new Uint8Array(body) : new Uint8Array(),
    ...(row.get('errcode') ? { errCode: row.get('errcode') as string } : {}),
  }
  return { fingerprint, state: 'done', answer }
}

/**
 * api_idempotency_key: one row per (caller, key hash), written by lightweight transactions so that
 * of two instances claiming a key exactly one does; rows expire by TTL (a short one while the first
 * request runs, 24 h once it has answered), so every instance, and a restarted one, sees them.
 */
export class CassandraIdempotencyKeys implements IdempotencyKeys {
  private readonly cql: ReturnType<typeof statements>

  constructor(
    private readonly client: Client,
    keyspace: string,
  ) {
    this.cql = statements(keyspace)
  }

  async claim(id: IdempotencyKeyId, fingerprint: string, inFlightSeconds: number): Promise<{ claimed: true } | { claimed: false; record: IdempotencyRecord }> {
    const result = await runCassandra(this.client, (client) => client.execute(this.cql.claim, [id.owner, id.keyHash, fingerprint, new Date(), inFlightSeconds], { prepare: true }))
    if (result.wasApplied()) return { claimed: true }
    const row = result.first()
    // Not applied always comes with the row that stood in the way; without one, behave as if the first request still runs.
    return { claimed: false, record: row ? toRecord(row) : { fingerprint, state: 'in-flight' } }
  }

  async complete(id: IdempotencyKeyId, fingerprint: string, answer: StoredAnswer, ttlSeconds: number): Promise<boolean> {
    const params = [ttlSeconds, fingerprint, answer.status, JSON.stringify(answer.headers), Buffer.from(answer.body), answer.errCode ?? null, new Date(), id.owner, id.keyHash, fingerprint]
    return (await runCassandra(this.client, (client) => client.execute(this.cql.complete, params, { prepare: true }))).wasApplied()
  }

  async release(id: IdempotencyKeyId, fingerprint: string): Promise<void> {
    await runCassandra(this.client, (client) => client.execute(this.cql.release, [id.owner, id.keyHash, fingerprint], { prepare: true }))
  }
}
