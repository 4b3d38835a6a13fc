import { describe, expect, it } from 'vitest'
import { acceptedRequest } from '../deletion/deletion-request.js'
import { buildReceipt } from '../deletion/receipt.js'
import { readStoredReceipt } from './stored-receipt.js'

describe('readStoredReceipt, a request’s receipt column as the service reads it', () => {
  const at = new Date('2026-11-24T10:08:56.790Z')
  const request = acceptedRequest({ id: 'req-1', userId: 'user-1', requestedBy: 'user-1', plan: 'sunbird', target: { rootOrgId: null, managedBy: null, organisationIds: [] }, now: at })
  const receipt = buildReceipt(request, 'completed', 'a-receipt-key-of-sixteen', at)

  it('when the column holds a receipt the service stored, then it reads back equal', () => {
    expect(readStoredReceipt(JSON.stringify(receipt))).toEqual(receipt)
  })

  it('when the column holds nothing, then there is no receipt', () => {
    expect([readStoredReceipt(null), readStoredReceipt('')]).toEqual([undefined, undefined])
  })

  it('when the column holds text that is not JSON, then it reads unreadable instead of throwing', () => {
    expect(readStoredReceipt(JSON.stringify(receipt).slice(0, 40))).toBe('unreadable')
    expect(readStoredReceipt('not a receipt')).toBe('unreadable')
  })

  it('when the column holds JSON that is not shaped as a receipt, then it reads unreadable, not as a receipt the settle or the status route would trip on', () => {
    const noStores = { ...receipt, stores: undefined }
    const nullLine = { ...receipt, stores: [null] }
    const texts = ['null', '42', '"completed"', '[]', '{}', JSON.stringify(noStores), JSON.stringify(nullLine), JSON.stringify({ ...receipt, state: 7 })]
    expect(texts.map(readStoredReceipt)).toEqual(texts.map(() => 'unreadable'))
  })
})
