import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import type { RequesterDeletionCounts } from '../../../src/deletion/ports.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'

export interface RequesterDeletionCountsSubject extends ContractSubject {
  counts: RequesterDeletionCounts
}

const newRequester = () => `user:${randomUUID()}`
const thisHour = () => Math.floor(Date.now() / 3_600_000)

/**
 * What the mass-deletion guard relies on from its counters (reserve: add 1, then count; give back:
 * add -1), run against the in-memory fake (unit tier) and the Cassandra adapter (integration tier) alike.
 */
export function describeRequesterDeletionCountsContract(implementation: string, factory: SubjectFactory<RequesterDeletionCountsSubject>): void {
  const test = contractCase(factory)

  describe(`RequesterDeletionCounts contract: ${implementation}`, () => {
    test('when nothing was added, then the count is 0; a count asked after an add answered sees it, for that requester and hour only', async (s) => {
      const requester = newRequester()
      const hour = thisHour()
      expect(await s.counts.count(requester, hour)).toBe(0)

      await s.counts.add(requester, hour, 1)
      expect(await s.counts.count(requester, hour)).toBe(1)
      await s.counts.add(requester, hour, 1)

      expect(await s.counts.count(requester, hour)).toBe(2)
      expect(await s.counts.count(requester, hour + 1)).toBe(0)
      expect(await s.counts.count(newRequester(), hour)).toBe(0)
    })

    test('when a reservation is given back, then the count is one lower and the next reservation takes that place', async (s) => {
      const requester = newRequester()
      const hour = thisHour()
      await s.counts.add(requester, hour, 1)
      await s.counts.add(requester, hour, 1)

      await s.counts.add(requester, hour, -1)

      expect(await s.counts.count(requester, hour)).toBe(1)
      await s.counts.add(requester, hour, 1)
      expect(await s.counts.count(requester, hour)).toBe(2)
      await s.counts.add(requester, hour, -1)
      await s.counts.add(requester, hour, -1)
      expect(await s.counts.count(requester, hour)).toBe(0)
    })

    test('when reservations and give-backs of one requester and hour run at once, then none is lost and none counted twice', async (s) => {
      const requester = newRequester()
      const hour = thisHour()

      await Promise.all(Array.from({ length: 10 }, () => s.counts.add(requester, hour, 1)))
      expect(await s.counts.count(requester, hour)).toBe(10)
      await Promise.all(Array.from({ length: 7 }, () => s.counts.add(requester, hour, -1)))

      expect(await s.counts.count(requester, hour)).toBe(3)
    })
  })
}
