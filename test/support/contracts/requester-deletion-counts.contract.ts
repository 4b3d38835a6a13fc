import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import type { RequesterDeletionCounts } from '../../../src/deletion/ports.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'

export interface RequesterDeletionCountsSubject extends ContractSubject {
  counts: RequesterDeletionCounts
}

const newRequester = () => `user:${randomUUID()}`
const thisMinute = () => Math.floor(Date.now() / 60_000)
/** The requester's total over the minutes asked. */
const totalOf = async (counts: RequesterDeletionCounts, requester: string, from: number, to: number) => (await counts.countsBetween(requester, from, to)).reduce((sum, entry) => sum + entry.count, 0)

/**
 * What the mass-deletion guard relies on from its counters (reserve: add 1, then read the window's
 * minutes; give back: add -1), run against the in-memory fake (unit tier) and the Cassandra adapter
 * (integration tier) alike.
 */
export function describeRequesterDeletionCountsContract(implementation: string, factory: SubjectFactory<RequesterDeletionCountsSubject>): void {
  const test = contractCase(factory)

  describe(`RequesterDeletionCounts contract: ${implementation}`, () => {
    test('when nothing was added, then no minute counts; a read asked after an add answered sees it, for that requester and minute only', async (s) => {
      const requester = newRequester()
      const minute = thisMinute()
      expect(await s.counts.countsBetween(requester, minute - 59, minute)).toEqual([])

      await s.counts.add(requester, minute, 1)
      expect(await s.counts.countsBetween(requester, minute - 59, minute)).toEqual([{ minute, count: 1 }])
      await s.counts.add(requester, minute, 1)

      expect(await s.counts.countsBetween(requester, minute - 59, minute)).toEqual([{ minute, count: 2 }])
      expect(await totalOf(s.counts, requester, minute + 1, minute + 60)).toBe(0)
      expect(await totalOf(s.counts, requester, minute - 60, minute - 1)).toBe(0)
      expect(await totalOf(s.counts, newRequester(), minute - 59, minute)).toBe(0)
    })

    test('when minutes on both sides of a clock hour were counted, then a window across it reads each of them, oldest first, its ends included', async (s) => {
      const requester = newRequester()
      const lastOfHour = (Math.floor(thisMinute() / 60) - 1) * 60 + 59
      for (const [minute, times] of [
        [lastOfHour - 30, 1],
        [lastOfHour, 2],
        [lastOfHour + 1, 1],
        [lastOfHour + 29, 3],
      ] as const)
        for (let i = 0; i < times; i++) await s.counts.add(requester, minute, 1)

      expect(await s.counts.countsBetween(requester, lastOfHour - 30, lastOfHour + 29)).toEqual([
        { minute: lastOfHour - 30, count: 1 },
        { minute: lastOfHour, count: 2 },
        { minute: lastOfHour + 1, count: 1 },
        { minute: lastOfHour + 29, count: 3 },
      ])
      expect(await s.counts.countsBetween(requester, lastOfHour - 29, lastOfHour + 28)).toEqual([
        { minute: lastOfHour, count: 2 },
        { minute: lastOfHour + 1, count: 1 },
      ])
    })

    test('when a reservation is given back, then the count is one lower and the next reservation takes that place', async (s) => {
      const requester = newRequester()
      const minute = thisMinute()
      await s.counts.add(requester, minute, 1)
      await s.counts.add(requester, minute, 1)

      await s.counts.add(requester, minute, -1)

      expect(await totalOf(s.counts, requester, minute, minute)).toBe(1)
      await s.counts.add(requester, minute, 1)
      expect(await totalOf(s.counts, requester, minute, minute)).toBe(2)
      await s.counts.add(requester, minute, -1)
      await s.counts.add(requester, minute, -1)
      expect(await totalOf(s.counts, requester, minute, minute)).toBe(0)
    })

    test('when reservations and give-backs of one requester and minute run at once, then none is lost and none counted twice', async (s) => {
      const requester = newRequester()
      const minute = thisMinute()

      await Promise.all(Array.from({ length: 10 }, () => s.counts.add(requester, minute, 1)))
      expect(await totalOf(s.counts, requester, minute - 59, minute)).toBe(10)
      await Promise.all(Array.from({ length: 7 }, () => s.counts.add(requester, minute, -1)))

      expect(await totalOf(s.counts, requester, minute - 59, minute)).toBe(3)
    })
  })
}
