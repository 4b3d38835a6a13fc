import { types } from 'cassandra-driver'
import type { JsonRow, JsonValue } from '../deletion/ports.js'

/** A driver value as JSON: timestamps as ISO 8601, uuids, big numbers and dates as text, blobs as base64, collections element by element. */
export function toJsonValue(value: unknown): JsonValue {
  if (value === null || value === undefined) return null
  if (typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value)
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Date) return value.toISOString()
  if (Buffer.isBuffer(value)) return value.toString('base64')
  if (value instanceof types.Long) return value.toString()
  if (value instanceof types.BigDecimal || value instanceof types.Uuid || value instanceof types.LocalDate || value instanceof types.LocalTime || value instanceof types.InetAddress) {
    return value.toString()
  }
  if (Array.isArray(value) || value instanceof Set) return [...value].map(toJsonValue)
  if (value instanceof Map) return Object.fromEntries([...value].map(([key, inner]) => [String(key), toJsonValue(inner)]))
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, toJsonValue(inner)]))
  return String(value)
}

/** Every column of a row, by name, as JSON. */
export function toJsonRow(row: types.Row): JsonRow {
  return Object.fromEntries(row.keys().map((column) => [column, toJsonValue(row.get(column))]))
}
