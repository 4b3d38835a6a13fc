import { createHash } from 'node:crypto'
import type { DeletionReceipt } from './deletion-request.js'

/**
 * A JSON value in canonical form, RFC 8785 (JSON Canonicalization Scheme) for the values a receipt
 * holds: no whitespace, every object's members sorted by key in UTF-16 code unit order, arrays in
 * their order, strings and numbers as JSON.stringify writes them. The same receipt gives the same
 * text whatever order its keys were stored or served in, so anyone with an RFC 8785 library (or
 * this function) gets the same bytes from the status route's receipt as from the stored one.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value)
      .filter(([, member]) => member !== undefined)
      // Default sort: UTF-16 code units, as RFC 8785 asks (not locale order).
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, member]) => `${JSON.stringify(key)}:${canonicalJson(member)}`)
    return `{${members.join(',')}}`
  }
  return JSON.stringify(value)
}

/**
 * The digest an audit record commits to a receipt with (`detail.receiptSha256`): SHA-256, lower-case
 * hex, of the receipt's canonical JSON (canonicalJson) in UTF-8. The receipt holds no personal data
 * (the subject only as a keyed hash), so neither does its digest.
 */
export function receiptSha256(receipt: DeletionReceipt): string {
  return createHash('sha256').update(canonicalJson(receipt), 'utf8').digest('hex')
}
