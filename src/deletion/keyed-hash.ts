import { createHmac } from 'node:crypto'

/** A keyed hash (HMAC-SHA256, hex) of an id or value: lets an operator match it to a value they already know, and nobody else. */
export function keyedHash(key: string, value: string): string {
  return createHmac('sha256', key).update(value).digest('hex')
}

/**
 * Which key made a keyed hash, without telling the key: the first 16 hex characters of
 * HMAC-SHA256(key, "key-id"). Kept with the hashes a request keeps and in the receipt, so that
 * after DELETION_RECEIPT_HASH_KEY changes a hash is never compared under a key that did not make it.
 */
export function keyId(key: string): string {
  return keyedHash(key, 'key-id').slice(0, 16)
}
