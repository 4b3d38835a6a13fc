import { createHmac } from 'node:crypto'

/** A keyed hash (HMAC-SHA256, hex) of an id or value: lets an operator match it to a value they already know, and nobody else. */
export function keyedHash(key: string, value: string): string {
  return createHmac('sha256', key).update(value).digest('hex')
}
