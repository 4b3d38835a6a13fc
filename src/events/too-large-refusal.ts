/** Kafka's codes for a send larger than the broker or topic takes: MESSAGE_TOO_LARGE (a record batch over `max.message.bytes`) and RECORD_LIST_TOO_LARGE (over the segment size). */
const TOO_LARGE_TYPES = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE'])
const TOO_LARGE_CODES = new Set([10, 18])

/**
 * Whether Kafka refused a send as too large (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE): kafkajs
 * rejects the send with the broker's KafkaJSProtocolError (`type`, `code`), not retried; its
 * causes are looked through too, should a wrapper (KafkaJSNonRetriableError) carry it.
 */
export function isTooLarge(err: unknown): boolean {
  let current: unknown = err
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { name, type, code, cause } = current as { name?: unknown; type?: unknown; code?: unknown; cause?: unknown }
    if (typeof type === 'string' && TOO_LARGE_TYPES.has(type)) return true
    if (name === 'KafkaJSProtocolError' && typeof code === 'number' && TOO_LARGE_CODES.has(code)) return true
    current = cause
  }
  return false
}
