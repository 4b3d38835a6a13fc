import { describe, expect, it } from 'vitest'
import { acceptedRequest } from '../deletion/deletion-request.js'
import { buildReceipt } from '../deletion/receipt.js'
import { readSchemaCheckedReceipt } from './stored-receipt.js'

describe('readSchemaCheckedReceipt, a request’s receipt column as the service reads it', () => {
  const at = new Date('2026-11-24T10:08:56.790Z')
  const request = acceptedRequest({ id: 'req-1', userId: 'user-1', requestedBy: 'user-1', plan: 'sunbird', target: { rootOrgId: null, managedBy: null, organisationIds: [] }, now: at })
  const receipt = buildReceipt(request, 'completed', 'a-receipt-key-of-sixteen', at)

  it('when the column holds a receipt the service stored, then it reads back equal', () => {
    expect(readSchemaCheckedReceipt(JSON.stringify(receipt))).toEqual(receipt)
  })

  it('when the column holds a receipt of any shape the service has stored (partial with a step owed, physical erasure dates, or made before the key id was recorded), then it reads back equal', () => {
    const owing = {
      ...request,
      steps: {
        lock: { status: 'done' as const, action: 'locked', at: at.toISOString() },
        keycloak: { status: 'pending' as const, action: 'unreachable', at: at.toISOString() },
        lookups: { status: 'done' as const, action: 'deleted', count: 3, at: at.toISOString() },
      },
    }
    const partial = buildReceipt(owing, 'partial', 'a-receipt-key-of-sixteen', at, {
      'cassandra.user_lookup': { by: '2026-12-04T10:08:56.790Z', how: 'after gc_grace_seconds 864000 at the next compaction' },
    })
    const { subjectKeyId: _recordedSince, ...older } = receipt
    const stored = [partial, older]

    expect(stored.map((one) => readSchemaCheckedReceipt(JSON.stringify(one)))).toEqual(stored)
    expect(partial.stores.some((line) => line.physicallyErasedBy !== undefined)).toBe(true)
  })

  it('when the column holds nothing, then there is no receipt', () => {
    expect([readSchemaCheckedReceipt(null), readSchemaCheckedReceipt('')]).toEqual([undefined, undefined])
  })

  it('when the column holds text that is not JSON, then it reads unreadable instead of throwing', () => {
    expect(readSchemaCheckedReceipt(JSON.stringify(receipt).slice(0, 40))).toBe('unreadable')
    expect(readSchemaCheckedReceipt('not a receipt')).toBe('unreadable')
  })

  it('when the column holds JSON that is not shaped as a receipt, then it reads unreadable, not as a receipt the settle or the status route would trip on', () => {
    const noStores = { ...receipt, stores: undefined }
    const nullLine = { ...receipt, stores: [null] }
    const texts = ['null', '42', '"completed"', '[]', '{}', JSON.stringify(noStores), JSON.stringify(nullLine), JSON.stringify({ ...receipt, state: 7 })]
    expect(texts.map(readSchemaCheckedReceipt)).toEqual(texts.map(() => 'unreadable'))
  })

  it('when the column holds JSON with a receipt’s field names that schemas/deletion-receipt.json rejects, then it reads unreadable, not as a receipt the status route would serve against its published schema', () => {
    const [first, ...rest] = receipt.stores
    const noWhy = { ...receipt, stores: [{ store: first?.store, action: first?.action }, ...rest] }
    const outOfSchema = { requestId: 'r', subject: 'not-a-hash', state: 'bogus', completedAt: 'yesterday', stores: [{ store: 'x', action: 'y' }], extra: 1 }
    const oneWrong = [{ subject: 'not-a-hash' }, { state: 'bogus' }, { completedAt: 'yesterday' }, { extra: 1 }].map((wrong) => ({ ...receipt, ...wrong }))
    const texts = [noWhy, outOfSchema, ...oneWrong].map((json) => JSON.stringify(json))

    expect(texts.map(readSchemaCheckedReceipt)).toEqual(texts.map(() => 'unreadable'))
  })
})
