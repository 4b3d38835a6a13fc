import { createHash } from 'node:crypto'
import { types, type Client } from 'cassandra-driver'
import type { AuditRecord, AuditTrail } from '../deletion/ports.js'
import { IDEMPOTENT, runCassandra } from './cassandra-call.js'

const CHAIN = 'user-deletion'
const GENESIS = '0'.repeat(64)
/** sha256 over the previous hash and the record's exact text: change either and every later hash breaks. */
export function chainHash(prevHash: string, seq: number, recordText: string): string {
  return createHash('sha256').update(`${prevHash}\n${seq}\n${recordText}`).digest('hex')
}

export interface ChainVerdict {
  ok: boolean
  records: number
  /** The first sequence number whose hash does not follow from its predecessor. */
  brokenAt?: number
}

/**
 * user_deletion_audit: append-only, each record chained to the previous one by hash. Appends
 * serialise on the next sequence number with a lightweight transaction (INSERT IF NOT EXISTS), so
 * concurrent writers never fork the chain.
 */
export class CassandraAuditTrail implements AuditTrail {
  private readonly cql: Record<'last' | 'insert' | 'all', string>

  constructor(
    private readonly client: Client,
    keyspace: string,
  ) {
    const t = `${keyspace}.user_deletion_audit`
    this.cql = {
      last: `SELECT seq, hash FROM ${t} WHERE chain = ? ORDER BY seq DESC LIMIT 1`,
      insert: `INSERT INTO ${t} (chain, seq, at, record, prevhash, hash) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
      all: `SELECT seq, record, prevhash, hash FROM ${t} WHERE chain = ?`,
    }
  }

  // Appends from this process queue behind each other; the transaction only arbitrates between processes.
  private tail: Promise<void> = Promise.resolve()

  append(record: AuditRecord): Promise<void> {
    const next = this.tail.then(() => this.appendNow(record))
    this.tail = next.catch(() => undefined)
    return next
  }

  private async appendNow(record: AuditRecord): Promise<void> {
    const text = JSON.stringify(record)
    for (let attempt = 0; attempt < 50; attempt++) {
      const last = (await runCassandra(() => this.client.execute(this.cql.last, [CHAIN], { prepare: true, consistency: types.consistencies.serial }))).first()
      const seq = last ? Number(last.get('seq')) + 1 : 1
      const prevHash = last ? (last.get('hash') as string) : GENESIS
      const hash = chainHash(prevHash, seq, text)
      const result = await runCassandra(() => this.client.execute(this.cql.insert, [CHAIN, seq, new Date(record.at), text, prevHash, hash], { prepare: true }))
      if (result.wasApplied()) return
      // Someone appended seq first: read the new head and try the next number.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * (attempt + 1)))
    }
    throw new Error('audit append kept losing the race for the next sequence number')
  }

  /** Walks the whole chain in order and recomputes every hash. */
  async verify(): Promise<ChainVerdict> {
    let prev = GENESIS
    let expectedSeq = 1
    let records = 0
    const result = await runCassandra(() => this.client.execute(this.cql.all, [CHAIN], { ...IDEMPOTENT, fetchSize: 1000 }))
    for await (const row of result) {
      const seq = Number(row.get('seq'))
      const ok = seq === expectedSeq && row.get('prevhash') === prev && row.get('hash') === chainHash(prev, seq, row.get('record') as string)
      if (!ok) return { ok: false, records, brokenAt: seq }
      prev = row.get('hash') as string
      expectedSeq++
      records++
    }
    return { ok: true, records }
  }
}
