import { createHash } from 'node:crypto'
import type { DeletionReceipt, RequestState } from '../deletion/deletion-request.js'
import { receiptSha256 } from '../deletion/receipt-digest.js'

/** A record of a request that commits to a receipt: its digest, its event and where it is in the trail. */
export interface AuditedReceipt {
  sha256: string
  event: string
  at: string
  chain: string
  seq: number
}

/**
 * Collects, while the chains are walked, every distinct receipt digest each named request's records
 * commit to (`detail.receiptSha256`), with the event that carried it and the latest such record (the
 * latest `at`; on a tie, the one walked last). A record stored twice (a retried append) commits to
 * the same receipt both times, so it adds nothing. Holds, per named request, one entry per receipt
 * it was settled with, whatever the trail's length: a record is parsed only when its text names one.
 */
export class ReceiptDigestsInTrail {
  private readonly seen = new Map<string, Map<string, AuditedReceipt>>()
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
    const event = String(record.event)
    const ofRequest = this.seen.get(record.requestId) ?? new Map<string, AuditedReceipt>()
    this.seen.set(record.requestId, ofRequest)
    const key = `${event} ${sha256}`
    const before = ofRequest.get(key)
    if (before && Date.parse(before.at) > Date.parse(record.at)) return
    ofRequest.set(key, { sha256, event, at: record.at, chain, seq })
  }

  /** The receipts the trail walked committed to for this request, each with its latest record. */
  recordsOf(requestId: string): readonly AuditedReceipt[] {
    return [...(this.seen.get(requestId)?.values() ?? [])]
  }
}

/** A named request's stored receipt held against the records of it that commit to a receipt. */
export interface ReceiptCheck {
  requestId: string
  /** A record of the event that settles a receipt of this state commits to the stored receipt. */
  matches: boolean
  /** receiptSha256 of the receipt on the request row now (of its text as stored, when that is not JSON). */
  storedSha256: string
  /**
   * The digest in that record (when it does not match: in the latest record the stored receipt
   * contradicts), its event and where it is (chain, seq). Absent only for a stored receipt no settle
   * of this request stored (not JSON, another request's) when no record of its request carries a
   * digest: it matches nothing all the same.
   */
  auditedSha256?: string
  event?: string
  chain?: string
  seq?: number
}

/**
 * Why a named request's receipt gets no verdict: one side has nothing to compare, or the receipt
 * changed while the chains were walked and the records walked cannot judge the new one.
 */
export type NoReceiptVerdict = 'no such request' | 'no receipt' | 'no record with its digest' | 'settled during the walk'

/**
 * Stored receipt text that no settle stored and that has no fields to hold against the trail: not
 * JSON, or JSON but no object (null, a number, a string, an array, true). The service stores JSON.stringify of a receipt, so the row was changed (or
 * damaged), as the service says of it too (readSchemaCheckedReceipt: unreadable). It is kept by its
 * digest alone (SHA-256 of the text as stored, UTF-8), never its text, which may be anything.
 */
export class UnreadableReceipt {
  constructor(readonly sha256: string) {}
}

/** What checkReceipt holds against the trail: the stored receipt, parsed, or UnreadableReceipt. */
export type StoredReceipt = DeletionReceipt | UnreadableReceipt

/**
 * A request's receipt text as stored (user_deletion_request.receipt) as audit:verify holds it against
 * the trail (checkReceipt), any JSON kept as parsed, unlike the service's schema check (readSchemaCheckedReceipt):
 * undefined, no such request; null, it has none (not completed or partial; empty, as the status
 * route reads it); UnreadableReceipt when it is not JSON, or is JSON but no object (null, a number,
 * a string, an array, true), which the service never stores and reads as unreadable, not as none.
 */
export function readReceiptToAudit(text: string | null | undefined): StoredReceipt | null | undefined {
  if (text === undefined) return undefined
  if (!text) return null
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = null
  }
  const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
  return !isObject ? new UnreadableReceipt(createHash('sha256').update(text, 'utf8').digest('hex')) : (parsed as DeletionReceipt)
}

/** The record that settles a receipt of each state a stored receipt can have (buildReceipt makes only these two). */
const SETTLED_BY: Partial<Record<RequestState, string>> = { completed: 'deletion.completed', partial: 'deletion.partial' }

/**
 * The event of the record that settled the stored receipt; undefined for one no settle of this
 * request stored: not JSON, naming another request (a receipt names the request it settled), or of
 * a state no record settles.
 */
const settlingEvent = (requestId: string, stored: StoredReceipt): string | undefined => (stored instanceof UnreadableReceipt || stored.requestId !== requestId ? undefined : SETTLED_BY[stored.state])

/**
 * Records that show a receipt of this state was replaced since: a request's receipt is its completed
 * one once its `deletion.completed` is stored (the receipt is stored before it, and nothing settles
 * the request after), so a partial receipt read after one was stored is an earlier receipt put back,
 * though its own `deletion.partial` carries its digest. One read before (audit:verify reads the
 * receipts before its walk) may have been replaced by the completed one since: checkReceiptAgain.
 */
const REPLACED_BY: Readonly<Record<string, string>> = { 'deletion.partial': 'deletion.completed' }

/**
 * Whether a record the stored receipt does not match shows it was changed: the record of the event
 * that settles the receipt's state commits to what that settle stored (a partial one is appended
 * before its receipt is stored, a completed one after it is), and a receipt no settle of this
 * request stored (settlingEvent) was not made by a settle. A `deletion.partial` alone says nothing of
 * a completed receipt: its `deletion.completed` may be in flight, or owed until the sweeper stores it.
 */
const contradicts = (settledBy: string | undefined, record: AuditedReceipt): boolean => settledBy === undefined || record.event === settledBy

/** The latest of some records (by `at`; on a tie, the one listed last). */
const latest = (records: readonly AuditedReceipt[]): AuditedReceipt | undefined =>
  records.reduce<AuditedReceipt | undefined>((last, record) => (last && Date.parse(last.at) > Date.parse(record.at) ? last : record), undefined)

/**
 * The stored receipt (undefined: no such request; null: the request has none) against every record
 * of it the walk found that commits to a receipt. It matches when any record of the event that
 * settles its state carries its digest: a later record of another receipt (a partial one whose
 * finish failed, so the request kept the receipt it had) does not make it a mismatch; a record that
 * replaced a receipt of its state (REPLACED_BY) does, naming that record (if the receipt was read
 * before that record was stored, hold the mismatch again with checkReceiptAgain). Without one, it is a
 * mismatch only when a record contradicts it (see contradicts); otherwise there is no verdict: its
 * record may still be owed, or on a chain not walked. A receipt no settle of this request stored
 * (settlingEvent) never matches, and any record with a digest contradicts it (none there, the
 * mismatch names no record).
 */
export function checkReceipt(requestId: string, stored: StoredReceipt | null | undefined, audited: readonly AuditedReceipt[]): ReceiptCheck | NoReceiptVerdict {
  if (stored === undefined) return 'no such request'
  if (stored === null) return 'no receipt'
  const storedSha256 = stored instanceof UnreadableReceipt ? stored.sha256 : receiptSha256(stored)
  const settledBy = settlingEvent(requestId, stored)
  const replacedBy = settledBy && REPLACED_BY[settledBy]
  const replaced = replacedBy ? latest(audited.filter((record) => record.event === replacedBy)) : undefined
  const matching = replaced ? undefined : latest(audited.filter((record) => record.event === settledBy && record.sha256 === storedSha256))
  const verdict = replaced ?? matching ?? latest(audited.filter((record) => contradicts(settledBy, record)))
  if (!verdict) return settledBy === undefined ? { requestId, matches: false, storedSha256 } : 'no record with its digest'
  return { requestId, matches: verdict === matching, storedSha256, auditedSha256: verdict.sha256, event: verdict.event, chain: verdict.chain, seq: verdict.seq }
}

/**
 * A mismatch held again once the walk is done, against the receipt stored then (`readNow`, the
 * text as stored, as `readBefore` was read before the walk). A request may settle during the walk:
 * a partial one the sweeper completes stores its completed receipt, then appends its
 * `deletion.completed`, which the walk may still read; beside it the partial receipt read before
 * the walk is a mismatch (REPLACED_BY), though nothing was put back. Unchanged, the mismatch
 * stands. Changed, the receipt stored now is judged against the records walked: it matches, or is
 * a mismatch no record still to come can undo (a receipt no settle of this request stored, a
 * completed one its walked `deletion.completed` contradicts, or a partial one beside a
 * `deletion.completed` appended before it was read); else the record that settled it may be on a
 * chain the walk had passed, and there is no verdict: run it again.
 */
export function checkReceiptAgain(
  requestId: string,
  first: ReceiptCheck,
  readBefore: string | null | undefined,
  readNow: string | null | undefined,
  audited: readonly AuditedReceipt[],
): ReceiptCheck | NoReceiptVerdict {
  if (first.matches || readNow === readBefore) return first
  const stored = readReceiptToAudit(readNow)
  const now = checkReceipt(requestId, stored, audited)
  if (typeof now === 'string') return now === 'no record with its digest' ? 'settled during the walk' : now
  const settledBy = stored ? settlingEvent(requestId, stored) : undefined
  // Only a settle that a later one may follow (a partial one) can have a newer record on a chain
  // the walk had passed: nothing settles a request after its deletion.completed, so a completed
  // receipt one contradicts was changed, whenever it was read.
  const settlesAgain = settledBy !== undefined && Object.hasOwn(REPLACED_BY, settledBy)
  return now.matches || !settlesAgain || now.event !== settledBy ? now : 'settled during the walk'
}

const REASONS: Readonly<Record<NoReceiptVerdict, [one: string, many: string]>> = {
  'no such request': ['has no deletion request (check the id)', 'have no deletion request (check the ids)'],
  'no receipt': ['has no receipt (only a completed or partial deletion has one)', 'have no receipt (only a completed or partial deletion has one)'],
  'no record with its digest': [
    "has no record with its receipt's digest in the chains walked (its deletion.completed may still be owed: it is stored after the receipt, by the sweeper when its append failed; or the receipt was made before receipts were digested, or its record is on a chain --chain left out)",
    "have no record with their receipt's digest in the chains walked (a deletion.completed may still be owed: it is stored after the receipt, by the sweeper when its append failed; or the receipt was made before receipts were digested, or its record is on a chain --chain left out)",
  ],
  'settled during the walk': [
    "settled during the walk (its stored receipt changed while the chains were walked, and no record walked carries the new one's digest): run it again",
    "settled during the walk (their stored receipts changed while the chains were walked, and no record walked carries the new ones' digests): run it again",
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
 * one its request's trail committed to, so a scheduled run that reads `ok` (and the exit code, 1)
 * notices a receipt edited after it was audited.
 */
export function verdictWithReceipts<V extends { ok: boolean }>(verdict: V, checks: readonly ReceiptCheck[]): V & { receipts: readonly ReceiptCheck[] } {
  return { ...verdict, ok: verdict.ok && checks.every((check) => check.matches), receipts: checks }
}
