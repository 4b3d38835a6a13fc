import type { DeletionReceipt } from '../deletion/deletion-request.js'

const isText = (value: unknown): value is string => typeof value === 'string'

/** An object with the fields a receipt cannot be without (schemas/deletion-receipt.json), its store lines included: what the service reads of it. */
function isShapedAsReceipt(value: unknown): value is DeletionReceipt {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const receipt = value as Partial<Record<keyof DeletionReceipt, unknown>>
  return (
    isText(receipt.requestId) &&
    isText(receipt.subject) &&
    isText(receipt.state) &&
    isText(receipt.completedAt) &&
    Array.isArray(receipt.stores) &&
    receipt.stores.every((entry: unknown) => typeof entry === 'object' && entry !== null && isText((entry as { store?: unknown }).store) && isText((entry as { action?: unknown }).action))
  )
}

/**
 * A request's receipt column as the service reads it: undefined when it holds none; `unreadable`
 * when it holds text that is not a receipt (not JSON, or JSON of another shape). The service never
 * stores such text: the row was changed or damaged outside it. Read as unreadable rather than
 * thrown, so the request is still answered and resumed without it.
 */
export function readStoredReceipt(text: string | null): DeletionReceipt | 'unreadable' | undefined {
  if (!text) return undefined
  try {
    const parsed: unknown = JSON.parse(text)
    return isShapedAsReceipt(parsed) ? parsed : 'unreadable'
  } catch {
    return 'unreadable'
  }
}
