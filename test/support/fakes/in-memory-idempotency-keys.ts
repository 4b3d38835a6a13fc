import type { IdempotencyKeyId, IdempotencyKeys, IdempotencyRecord, StoredAnswer } from '../../../src/shared/idempotency-keys.js'

interface Row {
  record: IdempotencyRecord
  expiresAt: number
}

/**
 * Idempotency-Key answers in memory, with the Cassandra adapter's semantics: claim is INSERT IF
 * NOT EXISTS with a TTL (a key whose row expired can be claimed anew), complete and release apply
 * only for the request that holds the key (same fingerprint). Time is the given clock's, in ms.
 */
export class InMemoryIdempotencyKeys implements IdempotencyKeys {
  private readonly rows = new Map<string, Row>()

  constructor(private readonly now: () => number = () => Date.now()) {}

  private live(id: IdempotencyKeyId): Row | undefined {
    const key = `${id.owner}\n${id.keyHash}`
    const row = this.rows.get(key)
    if (row && row.expiresAt <= this.now()) this.rows.delete(key)
    return this.rows.get(key)
  }

  async claim(id: IdempotencyKeyId, fingerprint: string, inFlightSeconds: number): Promise<{ claimed: true } | { claimed: false; record: IdempotencyRecord }> {
    const row = this.live(id)
    if (row) return { claimed: false, record: structuredClone(row.record) }
    this.rows.set(`${id.owner}\n${id.keyHash}`, { record: { fingerprint, state: 'in-flight' }, expiresAt: this.now() + inFlightSeconds * 1000 })
    return { claimed: true }
  }

  async complete(id: IdempotencyKeyId, fingerprint: string, answer: StoredAnswer, ttlSeconds: number): Promise<boolean> {
    const row = this.live(id)
    if (row?.record.fingerprint !== fingerprint) return false
    this.rows.set(`${id.owner}\n${id.keyHash}`, { record: { fingerprint, state: 'done', answer: structuredClone(answer) }, expiresAt: this.now() + ttlSeconds * 1000 })
    return true
  }

  async release(id: IdempotencyKeyId, fingerprint: string): Promise<void> {
    if (this.live(id)?.record.fingerprint === fingerprint) this.rows.delete(`${id.owner}\n${id.keyHash}`)
  }
}
