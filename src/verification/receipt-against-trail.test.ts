import { describe, expect, it } from 'vitest'
import { deletionWorld } from '../../test/support/fakes/deletion-world.js'
import { deleteUser } from '../deletion/delete-user.js'
import type { DeletionReceipt } from '../deletion/deletion-request.js'
import type { AuditRecord } from '../deletion/ports.js'
import { receiptSha256 } from '../deletion/receipt-digest.js'
import { checkReceipt, type ReceiptCheck, ReceiptDigestsInTrail, storedReceiptOf, verdictWithReceipts, whyNoReceiptVerdict } from './receipt-against-trail.js'

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

describe('ReceiptDigestsInTrail, the last record of a request that commits to a receipt', () => {
  it('when a request has a partial then a completed record (on other chains, walked in any order), then the latest by its time is kept', () => {
    const digests = new ReceiptDigestsInTrail(['req-1'])

    walk(digests, 'chain-b', [record('req-1', 'deletion.completed', '2024-05-20T10:10:00.000Z', { receiptSha256: DIGEST_B })])
    walk(digests, 'chain-a', [
      record('req-1', 'deletion.accepted', '2024-05-20T10:00:00.000Z'),
      record('req-1', 'deletion.partial', '2024-05-20T10:05:00.000Z', { pending: 'keycloak', receiptSha256: DIGEST_A }),
    ])

    expect(digests.lastOf('req-1')).toEqual({ sha256: DIGEST_B, event: 'deletion.completed', at: '2024-05-20T10:10:00.000Z', chain: 'chain-b', seq: 1 })
  })

  it('when records are of other requests (one whose id contains the named one), carry no digest, or are no JSON, then nothing is kept of them', () => {
    const digests = new ReceiptDigestsInTrail(['req-1'])

    walk(digests, 'chain-a', [
      record('req-10', 'deletion.completed', '2024-05-20T10:10:00.000Z', { receiptSha256: DIGEST_A }),
      record('req-1', 'deletion.completed', '2024-05-20T10:10:00.000Z'),
      'not json "req-1"',
    ])

    expect(digests.lastOf('req-1')).toBeUndefined()
    expect(digests.lastOf('req-10')).toBeUndefined()
  })

  it('when a record that committed to a receipt is followed by a record without a digest (a cancel), then the committing one is still the last', () => {
    const digests = new ReceiptDigestsInTrail(['req-1'])

    walk(digests, 'chain-a', [record('req-1', 'deletion.completed', '2024-05-20T10:10:00.000Z', { receiptSha256: DIGEST_A }), record('req-1', 'deletion.cancelled', '2024-05-20T11:00:00.000Z')])

    expect(digests.lastOf('req-1')).toMatchObject({ sha256: DIGEST_A, seq: 1 })
  })
})

describe('checkReceipt and the verdict it adds to', () => {
  const audited = { sha256: receiptSha256(receipt()), event: 'deletion.completed', at: '2024-05-20T10:09:00.000Z', chain: 'chain-a', seq: 7 }

  it('when the stored receipt is the one the trail committed to, then it matches and the verdict stays ok', () => {
    const check = checkReceipt('req-1', receipt(), audited)

    expect(check).toEqual({ requestId: 'req-1', matches: true, storedSha256: audited.sha256, auditedSha256: audited.sha256, event: 'deletion.completed', chain: 'chain-a', seq: 7 })
    expect(verdictWithReceipts({ ok: true, records: 9 }, [reached(check)])).toMatchObject({ ok: true, records: 9, receipts: [{ matches: true }] })
  })

  it('when one entry of the stored receipt was edited afterwards, then it does not match, both digests are reported, and the verdict is not ok', () => {
    const edited = receipt({ stores: [{ store: 'keycloak', action: 'kept', why: 'account' }] })

    const check = checkReceipt('req-1', edited, audited)

    expect(check).toMatchObject({ requestId: 'req-1', matches: false, storedSha256: receiptSha256(edited), auditedSha256: audited.sha256, chain: 'chain-a', seq: 7 })
    expect(verdictWithReceipts({ ok: true, records: 9 }, [reached(check)]).ok).toBe(false)
  })

  it('when there is no request, no receipt, or no committing record, then there is no verdict, said by count without the ids', () => {
    expect(checkReceipt('req-1', storedReceiptOf(undefined), audited)).toBe('no such request')
    expect(checkReceipt('req-1', null, audited)).toBe('no receipt')
    expect(checkReceipt('req-1', receipt(), undefined)).toBe('no digest in the trail')

    const line = whyNoReceiptVerdict(['no such request', 'no digest in the trail', 'no such request'])

    expect(line).toMatch(/^of the requests named with --receipt, 2 have no deletion request \(check the ids\); 1 has no audit record committing to a receipt/)
    expect(line).not.toContain('req-')
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
    const stored = storedReceiptOf(w.requests.peek('req-1'))

    // Act
    const intact = checkReceipt('req-1', stored, digests.lastOf('req-1'))
    const stores = stored?.stores.map((entry) => (entry.store === 'keycloak' ? { ...entry, action: 'kept' } : entry)) ?? []
    const edited = checkReceipt('req-1', stored && { ...stored, stores }, digests.lastOf('req-1'))

    // Assert
    expect(intact).toMatchObject({ matches: true, event: 'deletion.completed' })
    expect(edited).toMatchObject({ matches: false })
  })
})
