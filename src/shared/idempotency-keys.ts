/** An answer as it went out: status, the headers worth replaying, the body bytes. */
export interface StoredAnswer {
  status: number
  headers: [string, string][]
  body: Uint8Array
  /** The error code of an error answer (UOS_…), for the access log and metrics of its replays. */
  errCode?: string
}

/** What a key holds: the request it was first used for (fingerprint) and, once answered, the answer. */
export type IdempotencyRecord = { fingerprint: string; state: 'in-flight' } | { fingerprint: string; state: 'done'; answer: StoredAnswer }

/** A key of one caller (owner) for one operation; the key itself is kept only as a hash. */
export interface IdempotencyKeyId {
  owner: string
  keyHash: string
}

/**
 * Idempotency-Key answers, shared by every instance (and kept across restarts): a key is claimed by
 * the first request that uses it, compare-and-set, then holds its answer until its TTL runs out.
 */
export interface IdempotencyKeys {
  /** Claims the key for this request for `inFlightSeconds`; when it is taken already, answers what it holds. */
  claim(id: IdempotencyKeyId, fingerprint: string, inFlightSeconds: number): Promise<{ claimed: true } | { claimed: false; record: IdempotencyRecord }>
  /**
   * Keeps the answer of the request that claimed the key, for `ttlSeconds`; false, and nothing kept,
   * when the key no longer holds this request's claim (it ran out, or another request claimed it since).
   */
  complete(id: IdempotencyKeyId, fingerprint: string, answer: StoredAnswer, ttlSeconds: number): Promise<boolean>
  /** Gives the key up without an answer (the answer is not one to replay: a 5xx, a refused credential), so a retry runs anew. */
  release(id: IdempotencyKeyId, fingerprint: string): Promise<void>
}
