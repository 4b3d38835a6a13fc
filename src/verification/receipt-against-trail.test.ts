import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { deletionWorld } from '../../test/support/fakes/deletion-world.js'
import { deleteUser } from '../deletion/delete-user.js'
import type { DeletionReceipt } from '../deletion/deletion-request.js'
import type { AuditRecord } from '../deletion/ports.js'
import { receiptSha256 } from '../deletion/receipt-digest.js'
import { readSchemaCheckedReceipt } from '../store/stored-receipt.js'
import { checkReceipt, checkReceiptAgain, type ReceiptCheck, ReceiptDigestsInTrail, readReceiptToAudit, UnreadableReceipt, verdictWithReceipts, whyNoReceiptVerdict } from './receipt-against-trail.js'

const USER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const DIGEST_A = 'a'.repeat(64)
const DIGEST_B = 'b'.repeat(64)

const record = (requestId: string, event: AuditRecord['event'], at: string, detail?: AuditRecord['detail']): string =>
  JSON.stringify({ event, requestId, userId: USER, requestedBy: USER, at, ...(detail && { detail }) })

/** Feeds texts to the collector as one chain, numbered from 1. */
function walk(digests: ReceiptDigestsInTrail, chain: string, texts: readonly string[]): void {
  for (const [i, text] of texts.entries()) digests.observe(chain, { seq: i + 1, text })
}

/** A check that reached a verdict (the test fails here when it did not). */
function reached(check: ReturnType<typeof checkReceipt>): ReceiptCheck {
  if (typeof check === 'string') throw new Error(`no verdict: ${check}`)
  return check
}

const receipt = (overrides: Partial<DeletionReceipt> = {}): DeletionReceipt => ({
  requestId: 'req-1',
  subject: 'c'.repeat(64),
  state: 'completed',
  completedAt: '2024-05-20T10:09:00.000Z',
  stores: [{ store: 'keycloak', action: 'deleted', why: 'account' }],
  ...overrides,
})

const partialReceipt = receipt({ state: 'partial', stores: [{ store: 'keycloak', action: 'pending', why: 'account' }] })

/** What audit:verify decides for a stored receipt against the trail walked (one chain). */
function checkAgainst(stored: DeletionReceipt, texts: readonly string[]): ReturnType<typeof checkReceipt> {
  const digests = new ReceiptDigestsInTrail(['req-1'])
  walk(digests, 'chain-a', texts)
  return checkReceipt('req-1', stored, digests.recordsOf('req-1'))
}

describe('ReceiptDigestsInTrail, the receipts the records of a request commit to', () => {
  it('when a request has a partial then a completed record (on other chains), and one is stored twice (a retried append), then each digest is kept once, with its event and latest record', () => {
    const digests = new ReceiptDigestsInTrail(['req-1'])

    walk(digests, 'chain-b', [record('req-1', 'deletion.completed', '2024-05-20T10:10:00.000Z', { receiptSha256: DIGEST_B })])
    walk(digests, 'chain-a', [
      record('req-1', 'deletion.accepted', '2024-05-20T10:00:00.000Z'),
      record('req-1', 'deletion.partial', '2024-05-20T10:05:00.000Z', { pending: 'keycloak', receiptSha256: DIGEST_A }),
      record('req-1', 'deletion.completed', '2024-05-20T10:10:00.000Z', { receiptSha256: DIGEST_B }),
    ])

    expect(digests.recordsOf('req-1')).toEqual([
      { sha256: DIGEST_B, event: 'deletion.completed', at: '2024-05-20T10:10:00.000Z', chain: 'chain-a', seq: 3 },
      { sha256: DIGEST_A, event: 'deletion.partial', at: '2024-05-20T10:05:00.000Z', chain: 'chain-a', seq: 2 },
    ])
  })

  it('when records are of other requests (one whose id contains the named one), carry no digest, or are no JSON, then nothing is kept of them', () => {
    const digests = new ReceiptDigestsInTrail(['req-1'])

    walk(digests, 'chain-a', [
      record('req-10', 'deletion.completed', '2024-05-20T10:10:00.000Z', { receiptSha256: DIGEST_A }),
      record('req-1', 'deletion.completed', '2024-05-20T10:10:00.000Z'),
      record('req-1', 'deletion.cancelled', '2024-05-20T11:00:00.000Z'),
      'not json "req-1"',
    ])

    expect(digests.recordsOf('req-1')).toEqual([])
    expect(digests.recordsOf('req-10')).toEqual([])
  })
})

describe('checkReceipt and the verdict it adds to', () => {
  const completedRecord = record('req-1', 'deletion.completed', '2024-05-20T10:09:00.000Z', { receiptSha256: receiptSha256(receipt()) })

  it('when the stored receipt is the one the trail committed to, then it matches and the verdict stays ok', () => {
    const check = checkAgainst(receipt(), [completedRecord])

    expect(check).toEqual({ requestId: 'req-1', matches: true, storedSha256: receiptSha256(receipt()), auditedSha256: receiptSha256(receipt()), event: 'deletion.completed', chain: 'chain-a', seq: 1 })
    expect(verdictWithReceipts({ ok: true, records: 9 }, [reached(check)])).toMatchObject({ ok: true, records: 9, receipts: [{ matches: true }] })
  })

  it('when one entry of the stored receipt was edited afterwards, then it does not match, both digests are reported, and the verdict is not ok', () => {
    const edited = receipt({ stores: [{ store: 'keycloak', action: 'kept', why: 'account' }] })

    const check = checkAgainst(edited, [completedRecord])

    expect(check).toMatchObject({ requestId: 'req-1', matches: false, storedSha256: receiptSha256(edited), auditedSha256: receiptSha256(receipt()), event: 'deletion.completed', seq: 1 })
    expect(verdictWithReceipts({ ok: true, records: 9 }, [reached(check)]).ok).toBe(false)
  })

  it('when a partial request completed and its deletion.completed is still in flight or owed (only the partial record is in the trail), then there is no verdict, not a mismatch', () => {
    const partialRecord = record('req-1', 'deletion.partial', '2024-05-20T10:05:00.000Z', { pending: 'keycloak', receiptSha256: receiptSha256(partialReceipt) })

    expect(checkAgainst(receipt(), [partialRecord])).toBe('no record with its digest')
    // Once the sweeper stores the owed record, the same receipt matches it.
    expect(checkAgainst(receipt(), [partialRecord, completedRecord])).toMatchObject({ matches: true, event: 'deletion.completed', seq: 2 })
  })

  it('when a later partial record commits to a receipt whose finish failed, and the request kept its earlier partial receipt (owing the same stores), then the kept receipt matches its own record', () => {
    const failedFinish = { ...partialReceipt, completedAt: '2024-05-20T10:20:00.000Z', stores: [...partialReceipt.stores, { store: 'search', action: 'pending', why: 'document' }] }

    const check = checkAgainst(partialReceipt, [
      record('req-1', 'deletion.partial', '2024-05-20T10:05:00.000Z', { pending: 'keycloak', receiptSha256: receiptSha256(partialReceipt) }),
      record('req-1', 'deletion.partial', '2024-05-20T10:20:00.000Z', { pending: 'keycloak,search', receiptSha256: receiptSha256(failedFinish) }),
    ])

    expect(check).toMatchObject({ matches: true, storedSha256: receiptSha256(partialReceipt), auditedSha256: receiptSha256(partialReceipt), event: 'deletion.partial', seq: 1 })
  })

  it('when a partial receipt was edited, or a receipt edited to a state no record settles, then a record of that request with another digest makes it a mismatch', () => {
    const partialRecord = record('req-1', 'deletion.partial', '2024-05-20T10:05:00.000Z', { pending: 'keycloak', receiptSha256: receiptSha256(partialReceipt) })

    expect(checkAgainst({ ...partialReceipt, stores: [] }, [partialRecord])).toMatchObject({ matches: false, auditedSha256: receiptSha256(partialReceipt), event: 'deletion.partial' })
    expect(checkAgainst({ ...partialReceipt, state: 'failed' }, [partialRecord])).toMatchObject({ matches: false, event: 'deletion.partial' })
  })

  it('when a completed receipt matches only a record of another event (the partial one), then it does not match it', () => {
    const asPartial = record('req-1', 'deletion.partial', '2024-05-20T10:05:00.000Z', { receiptSha256: receiptSha256(receipt()) })

    expect(checkAgainst(receipt(), [asPartial])).toBe('no record with its digest')
  })

  it('when a completed request has its earlier partial receipt put back, then it does not match, though its partial record carries that digest: its deletion.completed is named', () => {
    const partialRecord = record('req-1', 'deletion.partial', '2024-05-20T10:05:00.000Z', { pending: 'keycloak', receiptSha256: receiptSha256(partialReceipt) })

    const check = checkAgainst(partialReceipt, [partialRecord, completedRecord])

    expect(check).toEqual({
      requestId: 'req-1',
      matches: false,
      storedSha256: receiptSha256(partialReceipt),
      auditedSha256: receiptSha256(receipt()),
      event: 'deletion.completed',
      chain: 'chain-a',
      seq: 2,
    })
  })

  it("when the stored receipt names another request, then it does not match: against that request's records, or, with none, naming no record", () => {
    const others = receipt({ requestId: 'req-2' })

    expect(checkAgainst(others, [completedRecord])).toMatchObject({ matches: false, storedSha256: receiptSha256(others), auditedSha256: receiptSha256(receipt()), event: 'deletion.completed' })
    expect(checkAgainst(others, [])).toEqual({ requestId: 'req-1', matches: false, storedSha256: receiptSha256(others) })
  })

  it('when the stored receipt is text that is not JSON, then it is a mismatch by the digest of that text: naming the latest record with a digest, or none when there is none', () => {
    const text = JSON.stringify(receipt()).slice(0, -1)
    const stored = readReceiptToAudit(text)
    const digests = new ReceiptDigestsInTrail(['req-1'])
    walk(digests, 'chain-a', [completedRecord])

    const contradicted = checkReceipt('req-1', stored, digests.recordsOf('req-1'))
    const alone = checkReceipt('req-1', stored, [])

    const textSha256 = createHash('sha256').update(text, 'utf8').digest('hex')
    expect(contradicted).toEqual({ requestId: 'req-1', matches: false, storedSha256: textSha256, auditedSha256: receiptSha256(receipt()), event: 'deletion.completed', chain: 'chain-a', seq: 1 })
    expect(alone).toEqual({ requestId: 'req-1', matches: false, storedSha256: textSha256 })
    expect(verdictWithReceipts({ ok: true, records: 9 }, [reached(alone)]).ok).toBe(false)
    // Stored as none (empty), it reads as no receipt, as the status route reads it.
    expect([readReceiptToAudit(''), readReceiptToAudit(null)]).toEqual([null, null])
    expect(readReceiptToAudit(JSON.stringify(receipt()))).toEqual(receipt())
  })

  it('when the stored receipt is JSON null, then it is a mismatch by the digest of that text, as the service reads it as unreadable: not "has no receipt"', () => {
    const stored = readReceiptToAudit('null')

    expect(readSchemaCheckedReceipt('null')).toBe('unreadable')
    expect(checkReceipt('req-1', stored, [])).toEqual({ requestId: 'req-1', matches: false, storedSha256: createHash('sha256').update('null', 'utf8').digest('hex') })
  })

  it.each(['0', '"x"', '[]', 'true', '[{"requestId":"req-1"}]'])(
    'when the stored receipt is JSON but no object (%s), then it is read as unreadable, as JSON null is: a mismatch by the digest of that text',
    (text) => {
      const stored = readReceiptToAudit(text)

      expect(stored).toBeInstanceOf(UnreadableReceipt)
      expect(readSchemaCheckedReceipt(text)).toBe('unreadable')
      expect(checkReceipt('req-1', stored, [])).toEqual({ requestId: 'req-1', matches: false, storedSha256: createHash('sha256').update(text, 'utf8').digest('hex') })
    },
  )

  it('when there is no request, no receipt, or no committing record, then there is no verdict, said by count without the ids', () => {
    expect(checkReceipt('req-1', readReceiptToAudit(undefined), [])).toBe('no such request')
    expect(checkReceipt('req-1', null, [])).toBe('no receipt')
    expect(checkAgainst(receipt(), [])).toBe('no record with its digest')

    const line = whyNoReceiptVerdict(['no such request', 'no record with its digest', 'no such request'])

    expect(line).toMatch(
      /^of the requests named with --receipt, 2 have no deletion request \(check the ids\); 1 has no record with its receipt's digest in the chains walked \(its deletion.completed may still be owed/,
    )
    expect(line).not.toContain('req-')
  })
})

describe('checkReceiptAgain, a mismatch held again against the receipt stored once the walk is done', () => {
  const partialRecord = record('req-1', 'deletion.partial', '2024-05-20T10:05:00.000Z', { pending: 'keycloak', receiptSha256: receiptSha256(partialReceipt) })
  const completedRecord = record('req-1', 'deletion.completed', '2024-05-20T10:09:00.000Z', { receiptSha256: receiptSha256(receipt()) })
  const partialText = JSON.stringify(partialReceipt)

  /** The first check of the receipt read before the walk, then the check once `readNow` is read after it. */
  function checkBeforeAndAfter(readBefore: string, readNow: string | null | undefined, texts: readonly string[]) {
    const digests = new ReceiptDigestsInTrail(['req-1'])
    walk(digests, 'chain-a', texts)
    const first = reached(checkReceipt('req-1', readReceiptToAudit(readBefore), digests.recordsOf('req-1')))
    return { first, again: checkReceiptAgain('req-1', first, readBefore, readNow, digests.recordsOf('req-1')) }
  }

  it('when a partial request completed during the walk (its completed receipt stored, then its deletion.completed walked), then the receipt stored now matches that record: not a mismatch', () => {
    const { first, again } = checkBeforeAndAfter(partialText, JSON.stringify(receipt()), [partialRecord, completedRecord])

    expect(first).toMatchObject({ matches: false, event: 'deletion.completed' })
    expect(again).toEqual({ requestId: 'req-1', matches: true, storedSha256: receiptSha256(receipt()), auditedSha256: receiptSha256(receipt()), event: 'deletion.completed', chain: 'chain-a', seq: 2 })
  })

  it('when the receipt is as it was read before the walk, then the mismatch stands (an earlier receipt put back)', () => {
    const { first, again } = checkBeforeAndAfter(partialText, partialText, [partialRecord, completedRecord])

    expect(again).toBe(first)
    expect(again).toMatchObject({ matches: false, event: 'deletion.completed' })
  })

  it('when the receipt changed during the walk and no record walked carries the new one’s digest (its record on a chain already walked), then there is no verdict: it settled during the walk', () => {
    const edited = JSON.stringify({ ...partialReceipt, stores: [] })
    const laterPartial = { ...partialReceipt, completedAt: '2024-05-20T10:20:00.000Z' }

    // A completed receipt whose deletion.completed was not walked; a later partial one whose deletion.partial was not.
    expect(checkBeforeAndAfter(edited, JSON.stringify(receipt()), [partialRecord]).again).toBe('settled during the walk')
    expect(checkBeforeAndAfter(edited, JSON.stringify(laterPartial), [partialRecord]).again).toBe('settled during the walk')
    expect(whyNoReceiptVerdict(['settled during the walk'])).toBe(
      "of the requests named with --receipt, 1 settled during the walk (its stored receipt changed while the chains were walked, and no record walked carries the new one's digest): run it again",
    )
  })

  it('when the receipt changed during the walk into one no record still to come can make right, then that is the mismatch: one no settle stored, or a partial one beside a deletion.completed walked', () => {
    const edited = JSON.stringify({ ...partialReceipt, stores: [] })
    const notJson = partialText.slice(0, -1)

    expect(checkBeforeAndAfter(edited, notJson, [partialRecord]).again).toMatchObject({ matches: false, storedSha256: createHash('sha256').update(notJson, 'utf8').digest('hex') })
    expect(checkBeforeAndAfter(edited, partialText, [partialRecord, completedRecord]).again).toMatchObject({ matches: false, storedSha256: receiptSha256(partialReceipt), event: 'deletion.completed' })
    // Gone from the row, it is said as ever: no receipt, no request.
    expect(checkBeforeAndAfter(edited, null, [partialRecord]).again).toBe('no receipt')
    expect(checkBeforeAndAfter(edited, undefined, [partialRecord]).again).toBe('no such request')
  })
  it('when a completed receipt its walked deletion.completed contradicts is rewritten during the walk into another its deletion.completed contradicts, then that is the mismatch: nothing settles a request after its deletion.completed', () => {
    const tampered = JSON.stringify({ ...receipt(), stores: [] })
    const tamperedAgain = JSON.stringify({ ...receipt(), stores: [], completedAt: '2024-05-20T10:30:00.000Z' })

    const { first, again } = checkBeforeAndAfter(tampered, tamperedAgain, [partialRecord, completedRecord])

    expect(first).toMatchObject({ matches: false, event: 'deletion.completed' })
    expect(again).toMatchObject({ matches: false, storedSha256: receiptSha256(JSON.parse(tamperedAgain)), auditedSha256: receiptSha256(receipt()), event: 'deletion.completed' })
  })
})

describe('a receipt held against the trail a deletion wrote (in-memory ports)', () => {
  it('when a deletion completes, then its stored receipt matches its record; once the stored receipt is edited, it does not', async () => {
    // Arrange: a deletion, and the trail as audit:verify walks it (the stored texts in chain order).
    const w = deletionWorld({ seed: [{ id: USER, organisationIds: ['org-1'], lookups: 1 }] })
    await deleteUser(w.deps, { requestId: 'req-1', userId: USER, caller: { consumer: 'portal', userId: USER, roles: [] } })
    const digests = new ReceiptDigestsInTrail(['req-1'])
    walk(
      digests,
      'chain-a',
      w.audit.records.map((r) => JSON.stringify(r)),
    )
    const stored = w.requests.peek('req-1')?.receipt

    // Act
    const intact = checkReceipt('req-1', stored, digests.recordsOf('req-1'))
    const stores = stored?.stores.map((entry) => (entry.store === 'keycloak' ? { ...entry, action: 'kept' } : entry)) ?? []
    const edited = checkReceipt('req-1', stored && { ...stored, stores }, digests.recordsOf('req-1'))

    // Assert
    expect(intact).toMatchObject({ matches: true, event: 'deletion.completed' })
    expect(edited).toMatchObject({ matches: false })
  })
})
