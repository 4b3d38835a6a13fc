import { describe, expect, it } from 'vitest'
import { leaseHoldsAt } from '../deletion/lease.js'
import { stampedWithin } from './write-stamps.js'

describe('stampedWithin, the store’s fence by the domain’s lease rule', () => {
  const heldUntil = new Date(Date.UTC(2024, 4, 20, 10, 9, 26, 812))
  const end = heldUntil.getTime() * 1000

  it('when a write is stamped up to the last microsecond before the lease’s end, then it is within; from the end on, it is not', () => {
    expect([end - 1000, end - 1, end, end + 1].map((stamp) => stampedWithin(stamp, heldUntil))).toEqual([true, true, false, false])
  })

  it('when the domain asks at the same instants, then it answers as the store does', () => {
    expect([-1, 0, 1].map((ms) => leaseHoldsAt(heldUntil, new Date(heldUntil.getTime() + ms)))).toEqual([true, false, false])
  })
})
