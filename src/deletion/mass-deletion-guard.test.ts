import { describe, expect, it } from 'vitest'
import { requesterOf } from './mass-deletion-guard.js'

describe('requesterOf', () => {
  it('when a person deletes, then the count is theirs, whichever consumer carried the call', () => {
    expect(requesterOf({ consumer: 'portal', userId: 'u-1', roles: [] })).toBe('user:u-1')
    expect(requesterOf({ consumer: 'mobile', userId: 'u-1', roles: [] })).toBe('user:u-1')
  })

  it('when a trusted consumer deletes with no person behind it, then the count is the consumer’s', () => {
    expect(requesterOf({ consumer: 'notifier', userId: 'consumer:notifier', roles: [], deleteAnyUser: true })).toBe('consumer:notifier')
  })
})
