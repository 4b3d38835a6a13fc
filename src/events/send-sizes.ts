import type { OutboxEntry } from '../store/cassandra-event-outbox.js'

/**
 * What Kafka counts of a record batch besides the records (offset, length, epoch, magic, CRC,
 * attributes, offsets, timestamps, producer id, epoch and sequence, count: record batch format v2).
 */
const BATCH_HEADER_BYTES = 61
/** The most a record adds to its key and value: its length, attributes, timestamp and offset deltas, key and value lengths, header count (varints at their longest). */
const RECORD_FRAMING_BYTES = 32

/** The least a send can be cut to: a batch of one record with neither key nor value. */
export const SMALLEST_SEND_BYTES = BATCH_HEADER_BYTES + RECORD_FRAMING_BYTES

/** The bytes of a record batch of these entries, as Kafka measures it against `max.message.bytes` (at most). */
export function recordBatchBytes(entries: readonly Pick<OutboxEntry, 'userId' | 'payload'>[]): number {
  let bytes = BATCH_HEADER_BYTES
  for (const entry of entries) bytes += messageBytes(entry)
  return bytes
}

function messageBytes(entry: Pick<OutboxEntry, 'userId' | 'payload'>): number {
  return (entry.userId ? Buffer.byteLength(entry.userId) : 0) + Buffer.byteLength(entry.payload) + RECORD_FRAMING_BYTES
}

/**
 * The entries cut into sends in their order, each of at most `maxBytes` (recordBatchBytes), but
 * never empty: an entry larger than that alone goes in a send of its own.
 */
export function sendsOf<T extends Pick<OutboxEntry, 'userId' | 'payload'>>(entries: readonly T[], maxBytes: number): T[][] {
  const sends: T[][] = []
  let current: T[] = []
  let bytes = BATCH_HEADER_BYTES
  for (const entry of entries) {
    const size = messageBytes(entry)
    if (current.length > 0 && bytes + size > maxBytes) {
      sends.push(current)
      current = []
      bytes = BATCH_HEADER_BYTES
    }
    current.push(entry)
    bytes += size
  }
  if (current.length > 0) sends.push(current)
  return sends
}
