import type { ChainLink, ChainVerdict } from '../store/cassandra-audit-trail.js'
import {
  checkReceipt,
  checkReceiptAgain,
  type NoReceiptVerdict,
  type ReceiptCheck,
  ReceiptDigestsInTrail,
  readReceiptToAudit,
  verdictWithReceipts,
  whyNoReceiptVerdict,
} from './receipt-against-trail.js'

/** What audit:verify reads: a request's receipt as stored (its text), and a walk of the chains that shows each link to `observe`. */
export interface TrailWithReceiptsDeps {
  receiptText(requestId: string): Promise<string | null | undefined>
  walk(observe?: (chain: string, link: ChainLink) => void): Promise<ChainVerdict>
}

/** audit:verify's answer: the verdict to print (exit 0 when `ok`, else 1), or why there is none (exit 2). */
export type TrailAnswer = { verdict: ChainVerdict & { receipts?: readonly ReceiptCheck[] } } | { noVerdict: string }

/**
 * Walks the chains and holds each named request's stored receipt against the records of it the
 * walk found. The receipts are read first, so a request without one ends the run before a walk of
 * every chain; a mismatch is held again once the walk is done (checkReceiptAgain), since the request
 * may have settled during it. Only a walk that verifies makes its digests evidence: a broken chain
 * is answered alone.
 */
export async function verifyTrailWithReceipts(requestIds: readonly string[], deps: TrailWithReceiptsDeps): Promise<TrailAnswer> {
  // Read as stored: one that is not JSON is held against the trail too (a mismatch), not a failure to run.
  const readBefore = await Promise.all(requestIds.map((id) => deps.receiptText(id)))
  const stored = readBefore.map(readReceiptToAudit)
  const absent = stored.flatMap((receipt): NoReceiptVerdict[] => (receipt === undefined ? ['no such request'] : receipt === null ? ['no receipt'] : []))
  if (absent.length > 0) return { noVerdict: whyNoReceiptVerdict(absent) }
  const digests = new ReceiptDigestsInTrail(requestIds)
  const verdict = await deps.walk(requestIds.length > 0 ? (chain, link) => digests.observe(chain, link) : undefined)
  if (verdict.unknown) {
    // A mistyped id would otherwise read as an intact (empty) chain. Not repeated back: it may be anything pasted.
    return { noVerdict: `${verdict.unknown} of the chains named ${verdict.unknown === 1 ? 'has' : 'have'} neither a record nor an anchor: check the ids (without --chain, every chain is walked)` }
  }
  if (!verdict.ok || requestIds.length === 0) return { verdict }
  const checks = await Promise.all(
    requestIds.map(async (id, i) => {
      const check = checkReceipt(id, stored[i], digests.recordsOf(id))
      if (typeof check === 'string' || check.matches) return check
      return checkReceiptAgain(id, check, readBefore[i], await deps.receiptText(id), digests.recordsOf(id))
    }),
  )
  const unchecked = checks.filter((check): check is NoReceiptVerdict => typeof check === 'string')
  if (unchecked.length > 0) return { noVerdict: whyNoReceiptVerdict(unchecked) }
  return {
    verdict: verdictWithReceipts(
      verdict,
      checks.filter((check): check is ReceiptCheck => typeof check !== 'string'),
    ),
  }
}
