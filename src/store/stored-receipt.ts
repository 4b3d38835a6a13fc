import type { DeletionReceipt } from '../deletion/deletion-request.js'
import { sharedSchemaRegistry } from '../schemas/schema-registry.js'

/** schemas/deletion-receipt.json, looked up on the first receipt read: the one rule of what a receipt is. */
const receiptSchema = () => sharedSchemaRegistry().validator<DeletionReceipt>('deletion-receipt')

/**
 * A request's receipt column as the service reads it: undefined when it holds none; `unreadable`
 * when it holds text that is not a receipt (not JSON, or JSON that schemas/deletion-receipt.json
 * rejects). The service never stores such text: the row was changed or damaged outside it. Read as
 * unreadable rather than thrown, so the request is still answered (in the published response
 * schema) and resumed without it. audit:verify reads the same column its own way (readReceiptToAudit).
 */
export function readSchemaCheckedReceipt(text: string | null): DeletionReceipt | 'unreadable' | undefined {
  if (!text) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return 'unreadable'
  }
  return receiptSchema()(parsed) ? parsed : 'unreadable'
}
