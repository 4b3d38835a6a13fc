import type { DeletionReceipt, DeletionRequest } from '../deletion/deletion-request.js'
import { receiptSha256 } from '../deletion/receipt-digest.js'

/** The record of a request that commits to its receipt last: its digest and where it is in the trail. */
export interface AuditedReceipt {
  sha256: string
  event: string
  at: string
  chain: string
  seq: number
}

/**
 * Collects, while the chains are walked, the last record (the latest `at`; on a tie, the one walked
 * last) of each named request whose detail carries `receiptSha256`. A record stored twice (a retried
 * append) commits to the same receipt both times. Holds one entry per named request, whatever the
 * trail's length: a record is parsed only when its text names one of them.
 */
export class ReceiptDigestsInTrail {
  private readonly last = new Map<string, AuditedReceipt>()
  /** Each id as it appears in a record's text (JSON.stringify of the record), quotes and escapes included. */
  private readonly needles: readonly string[]

  constructor(private readonly requestIds: readonly string[]) {
    this.needles = requestIds.map((id) => JSON.stringify(id))
  }

  /** One link of a chain as the walk reads it (its sequence number and the record's stored text). */
  observe(chain: string, { seq, text }: { seq: number; text: string }): void {
    if (!this.needles.some((needle) => text.includes(needle))) return
    let record: { requestId?: unknown; event?: unknown; at?: unknown; detail?: { receiptSha256?: unknown } }
    try {
      record = JSON.parse(text)
    } catch {
      // Not a record this service wrote: the chain's hashes say whether it was altered.
      return
    }
    const sha256 = record?.detail?.receiptSha256
    if (typeof record?.requestId !== 'string' || !this.requestIds.includes(record.requestId) || typeof sha256 !== 'string' || typeof record.at !== 'string') return
    const before = this.last.get(record.requestId)
    if (before && Date.parse(before.at) > Date.parse(record.at)) return
    this.last.set(record.requestId, { sha256, event: String(record.event), at: record.at, chain, seq })
  }

  lastOf(requestId: string): AuditedReceipt | undefined {
    return this.last.get(requestId)
  }
}

/** A named request's stored receipt held against the digest its last receipt record commits to. */
export interface ReceiptCheck {
  requestId: string
  /** The stored receipt is the one the trail committed to last. */
  matches: boolean
  /** receiptSha256 of the receipt on the request row now. */
  storedSha256: string
  /** The digest in that record, its event and where it is (chain, seq). */
  auditedSha256: string
  event: string
  chain: string
  seq: number
}

/** Why a named request's receipt gets no verdict: one side has nothing to compare. */
export type NoReceiptVerdict = 'no such request' | 'no receipt' | 'no digest in the trail'

/** A request's stored receipt as checkReceipt takes it: undefined, no such request; null, it has none (not completed or partial). */
export const storedReceiptOf = (request: DeletionRequest | undefined): DeletionReceipt | null | undefined => (request ? (request.receipt ?? null) : undefined)

/**
 * The stored receipt (undefined: no such request; null: the request has none) against the last
 * receipt record the walk found of it.
 */
export function checkReceipt(requestId: string, stored: DeletionReceipt | null | undefined, audited: AuditedReceipt | undefined): ReceiptCheck | NoReceiptVerdict {
  if (stored === undefined) return 'no such request'
  if (stored === null) return 'no receipt'
  if (!audited) return 'no digest in the trail'
  const storedSha256 = receiptSha256(stored)
  return { requestId, matches: storedSha256 === audited.sha256, storedSha256, auditedSha256: audited.sha256, event: audited.event, chain: audited.chain, seq: audited.seq }
}

const REASONS: Readonly<Record<NoReceiptVerdict, [one: string, many: string]>> = {
  'no such request': ['has no deletion request (check the id)', 'have no deletion request (check the ids)'],
  'no receipt': ['has no receipt (only a completed or partial deletion has one)', 'have no receipt (only a completed or partial deletion has one)'],
  'no digest in the trail': [
    'has no audit record committing to a receipt in the chains walked (made before receipts were digested, its record still owed, or on a chain --chain left out)',
    'have no audit record committing to a receipt in the chains walked (made before receipts were digested, their records still owed, or on a chain --chain left out)',
  ],
}

/** Why some named receipts get no verdict, in one line, counted by reason; the ids are not repeated back (one may be anything pasted). */
export function whyNoReceiptVerdict(reasons: readonly NoReceiptVerdict[]): string {
  const counted = (Object.keys(REASONS) as NoReceiptVerdict[])
    .map((reason) => [reason, reasons.filter((r) => r === reason).length] as const)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${n} ${REASONS[reason][n === 1 ? 0 : 1]}`)
  return `of the requests named with --receipt, ${counted.join('; ')}`
}

/**
 * An intact walk's verdict with the named receipts' checks: `ok` only when every stored receipt is
 * the one its request's trail committed to last, so a scheduled run that reads `ok` (and the exit
 * code, 1) notices a receipt edited after it was audited.
 */
export function verdictWithReceipts<V extends { ok: boolean }>(verdict: V, checks: readonly ReceiptCheck[]): V & { receipts: readonly ReceiptCheck[] } {
  return { ...verdict, ok: verdict.ok && checks.every((check) => check.matches), receipts: checks }
}
