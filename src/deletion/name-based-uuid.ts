import { createHash } from 'node:crypto'

/**
 * The name-based UUID (version 5, RFC 9562 §5.5) of `name` in `namespace` (16 bytes), with
 * node:crypto (the domain imports no library): the same name always gives the same UUID.
 */
export function nameBasedUuid(namespace: Buffer, name: string): string {
  const bytes = createHash('sha1').update(namespace).update(name, 'utf8').digest().subarray(0, 16)
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
