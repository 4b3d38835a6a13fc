import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import type { AuditRecord, AuditTrail } from '../../../src/deletion/ports.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'

/** The verdict of walking the hash chain: `brokenAt` is the first record that does not follow. */
export interface ChainVerdict {
  ok: boolean
  records: number
  brokenAt?: number
}

/** An alteration of the stored chain, with the sequence number it touched and the way back. */
export interface Tampering {
  seq: number
  undo(): Promise<void>
}

/** An AuditTrail with its chain verification, and the means of someone who can write to its storage. */
export interface AuditTrailSubject extends ContractSubject {
  trail: AuditTrail & { anchor(): Promise<void> }
  /** Verifies the chain this trail writes to (not other writers' chains in a shared store: their tampering cases are their own). */
  verify(): Promise<ChainVerdict>
  /** The records of one request as stored, in chain order. */
  recordsOf(requestId: string): Promise<AuditRecord[]>
  /** Changes the stored text of the `index`-th record of a request, leaving its hashes as they are. */
  rewrite(requestId: string, index: number, change: (text: string) => string): Promise<Tampering>
  /** Takes the `index`-th record of a request out of the chain (deletes it from storage). */
  remove(requestId: string, index: number): Promise<Tampering>
}

const record = (requestId: string, event: AuditRecord['event'], detail?: AuditRecord['detail']): AuditRecord => ({
  event,
  requestId,
  userId: '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41',
  requestedBy: '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e52',
  at: '2024-05-20T10:08:56.812Z',
  ...(detail && { detail }),
})

/**
 * What the deletion workflow and `npm run audit:verify` rely on from the AuditTrail, run against
 * the in-memory fake (unit tier) and the Cassandra adapter (integration tier) alike.
 */
export function describeAuditTrailContract(implementation: string, factory: SubjectFactory<AuditTrailSubject>): void {
  const test = contractCase(factory)

  /** Appends a request's usual records: accepted, partial, completed. */
  async function lifecycle(s: AuditTrailSubject): Promise<{ requestId: string; records: AuditRecord[] }> {
    const requestId = `contract-${randomUUID()}`
    const records = [record(requestId, 'deletion.accepted'), record(requestId, 'deletion.partial', { pending: 'keycloak' }), record(requestId, 'deletion.completed')]
    for (const one of records) await s.trail.append(one)
    return { requestId, records }
  }

  describe(`AuditTrail contract: ${implementation}`, () => {
    test('when records are appended, then they are stored exactly, in order, and the chain verifies', async (s) => {
      const before = await s.verify()

      const { requestId, records } = await lifecycle(s)

      expect(await s.recordsOf(requestId)).toEqual(records)
      const after = await s.verify()
      expect(after.ok).toBe(true)
      expect(after.records).toBeGreaterThanOrEqual(before.records + 3)
    })

    test('when appends race, then every record is kept once and the chain does not fork', async (s) => {
      const requestId = `contract-${randomUUID()}`
      const records = Array.from({ length: 6 }, (_, i) => record(requestId, 'deletion.failed', { reason: `race-${i}` }))

      await Promise.all(records.map((one) => s.trail.append(one)))

      const stored = await s.recordsOf(requestId)
      expect(stored).toHaveLength(records.length)
      expect(stored).toEqual(expect.arrayContaining(records))
      expect(await s.verify()).toMatchObject({ ok: true })
    })

    test('when a stored record is altered, then verification fails at that record, and passes again once it is restored', async (s) => {
      const { requestId } = await lifecycle(s)

      const tampering = await s.rewrite(requestId, 1, (text) => text.replace('deletion.partial', 'deletion.completed'))
      try {
        expect(await s.verify()).toMatchObject({ ok: false, brokenAt: tampering.seq })
      } finally {
        await tampering.undo()
      }

      expect(await s.verify()).toMatchObject({ ok: true })
    })

    test('when a record is taken out of the chain, then verification fails at the record after the gap', async (s) => {
      const { requestId } = await lifecycle(s)

      const tampering = await s.remove(requestId, 0)
      try {
        expect(await s.verify()).toMatchObject({ ok: false, brokenAt: tampering.seq + 1 })
      } finally {
        await tampering.undo()
      }

      expect(await s.verify()).toMatchObject({ ok: true })
    })

    test("when the chain's newest records are removed below a recorded anchor, then verification fails at the first missing one", async (s) => {
      const { requestId } = await lifecycle(s)
      await s.trail.anchor()

      const last = await s.remove(requestId, 2)
      const middle = await s.remove(requestId, 1)
      try {
        expect(await s.verify()).toMatchObject({ ok: false, brokenAt: middle.seq })
      } finally {
        await middle.undo()
        await last.undo()
      }

      expect(await s.verify()).toMatchObject({ ok: true })
    })

    test('when the chain was anchored after every record, then removing its newest records still fails verification at the first missing one, however many anchors it has', async (s) => {
      const requestId = `contract-${randomUUID()}`
      for (let i = 0; i < 7; i++) {
        await s.trail.append(record(requestId, 'deletion.failed', { reason: `anchored-${i}` }))
        await s.trail.anchor()
      }
      expect(await s.verify()).toMatchObject({ ok: true })

      const last = await s.remove(requestId, 6)
      const before = await s.remove(requestId, 5)
      try {
        expect(await s.verify()).toMatchObject({ ok: false, brokenAt: before.seq })
      } finally {
        await before.undo()
        await last.undo()
      }

      expect(await s.verify()).toMatchObject({ ok: true })
    })

    test('when the newest records are not anchored yet, then removing them goes unnoticed until the next anchor: the anchor interval bounds the exposure', async (s) => {
      const { requestId } = await lifecycle(s)

      const last = await s.remove(requestId, 2)
      try {
        expect(await s.verify()).toMatchObject({ ok: true })
      } finally {
        await last.undo()
      }
      await s.trail.anchor()

      const again = await s.remove(requestId, 2)
      try {
        expect(await s.verify()).toMatchObject({ ok: false, brokenAt: again.seq })
      } finally {
        await again.undo()
      }
    })
  })
}
