import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { UnreadableDeletionStateError } from '../../../src/deletion/errors.js'
import type { UserDeletionStates } from '../../../src/deletion/ports.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'

export interface UserDeletionStatesSubject extends ContractSubject {
  states: UserDeletionStates
  /** Told which users a case uses, so a shared server can be tidied after it. */
  uses?(userId: string): void
  /** Writes a row this service cannot read (a mode it does not know, no mode, or no request id) behind the port's back, as a newer version or a hand-written row would. */
  seedUnreadable(userId: string, row: { mode: string | null; requestId: string | null }): Promise<void>
}

/**
 * What the deletion engine relies on from UserDeletionStates: a compare-and-set per user, run
 * against the in-memory fake (unit tier) and the Cassandra adapter (integration tier) alike.
 */
export function describeUserDeletionStatesContract(implementation: string, factory: SubjectFactory<UserDeletionStatesSubject>): void {
  const test = contractCase(factory)
  const newUser = (s: UserDeletionStatesSubject) => {
    const userId = randomUUID()
    s.uses?.(userId)
    return userId
  }

  describe(`UserDeletionStates contract: ${implementation}`, () => {
    test('when nothing holds a user, then get answers undefined and a swap from none takes it', async (s) => {
      const userId = newUser(s)

      expect(await s.states.get(userId)).toBeUndefined()
      expect(await s.states.swap(userId, undefined, { mode: 'soft', requestId: 'r1' })).toBe(true)
      expect(await s.states.get(userId)).toEqual({ mode: 'soft', requestId: 'r1' })
    })

    test('when the state is what the caller expects, then it moves; when not, nothing changes', async (s) => {
      const userId = newUser(s)
      await s.states.swap(userId, undefined, { mode: 'soft', requestId: 'r1' })

      expect(await s.states.swap(userId, undefined, { mode: 'hard', requestId: 'r2' })).toBe(false)
      expect(await s.states.swap(userId, { mode: 'soft', requestId: 'other' }, { mode: 'hard', requestId: 'r2' })).toBe(false)
      expect(await s.states.swap(userId, { mode: 'restoring', requestId: 'r1' }, { mode: 'hard', requestId: 'r2' })).toBe(false)
      expect(await s.states.get(userId)).toEqual({ mode: 'soft', requestId: 'r1' })

      expect(await s.states.swap(userId, { mode: 'soft', requestId: 'r1' }, { mode: 'hard', requestId: 'r2' })).toBe(true)
      expect(await s.states.get(userId)).toEqual({ mode: 'hard', requestId: 'r2' })
    })

    test('when the state is given up, then the user is held by nothing again, and can be taken anew', async (s) => {
      const userId = newUser(s)
      await s.states.swap(userId, undefined, { mode: 'restoring', requestId: 'r1' })

      expect(await s.states.swap(userId, { mode: 'restoring', requestId: 'r1' }, undefined)).toBe(true)
      expect(await s.states.get(userId)).toBeUndefined()
      expect(await s.states.swap(userId, { mode: 'restoring', requestId: 'r1' }, undefined)).toBe(false)
      expect(await s.states.swap(userId, undefined, { mode: 'sunbird', requestId: 'r3' })).toBe(true)
    })

    test('when several requests race to take a user, then exactly one does', async (s) => {
      const userId = newUser(s)

      const taken = await Promise.all(['a', 'b', 'c', 'd'].map((requestId) => s.states.swap(userId, undefined, { mode: 'hard', requestId })))

      expect(taken.filter(Boolean)).toHaveLength(1)
      const winner = ['a', 'b', 'c', 'd'][taken.indexOf(true)]
      expect(await s.states.get(userId)).toEqual({ mode: 'hard', requestId: winner })
    })

    test('when several requests race to move the same state, then exactly one does', async (s) => {
      const userId = newUser(s)
      await s.states.swap(userId, undefined, { mode: 'soft', requestId: 'r0' })

      const moved = await Promise.all((['hard', 'restoring', 'sunbird'] as const).map((mode, i) => s.states.swap(userId, { mode: 'soft', requestId: 'r0' }, { mode, requestId: `r${i + 1}` })))

      expect(moved.filter(Boolean)).toHaveLength(1)
    })

    describe('a row this service cannot read', () => {
      const HOLD = { mode: 'hard', requestId: 'r2' } as const

      test('when a swap from none meets a row with a mode this service does not know, then UnreadableDeletionStateError naming the mode (not false, which a caller would retry for ever), while get takes the row for no hold', async (s) => {
        const userId = newUser(s)
        await s.seedUnreadable(userId, { mode: 'erasing', requestId: 'r1' })

        const err = await s.states.swap(userId, undefined, HOLD).catch((e: unknown) => e)

        expect(err).toBeInstanceOf(UnreadableDeletionStateError)
        expect((err as Error).message).toContain("mode 'erasing'")
        expect(await s.states.get(userId)).toBeUndefined()
      })

      test('when a swap from none meets a row without a mode or without a request id, then UnreadableDeletionStateError too', async (s) => {
        for (const row of [
          { mode: null, requestId: 'r1' },
          { mode: 'soft', requestId: null },
        ]) {
          const userId = newUser(s)
          await s.seedUnreadable(userId, row)

          expect(await s.states.swap(userId, undefined, HOLD).catch((e: unknown) => e)).toBeInstanceOf(UnreadableDeletionStateError)
        }
      })

      test('when a move or a removal meets a row with a mode this service does not know, then UnreadableDeletionStateError, and a mode that is no word is not quoted', async (s) => {
        const userId = newUser(s)
        await s.seedUnreadable(userId, { mode: 'x y@z.org', requestId: 'r1' })

        const moved = await s.states.swap(userId, { mode: 'soft', requestId: 'r1' }, HOLD).catch((e: unknown) => e)
        const removed = await s.states.swap(userId, { mode: 'soft', requestId: 'r1' }, undefined).catch((e: unknown) => e)

        expect(moved).toBeInstanceOf(UnreadableDeletionStateError)
        expect(removed).toBeInstanceOf(UnreadableDeletionStateError)
        expect((moved as Error).message).not.toContain('z.org')
      })

      test('when a move or a removal meets a row of a known mode without a request id, or without a mode, then it is refused (false) as contention, and the row is left as it is', async (s) => {
        for (const row of [
          { mode: 'soft', requestId: null },
          { mode: null, requestId: 'r1' },
        ]) {
          const userId = newUser(s)
          await s.seedUnreadable(userId, row)

          expect(await s.states.swap(userId, { mode: 'soft', requestId: 'r1' }, HOLD)).toBe(false)
          expect(await s.states.swap(userId, { mode: 'soft', requestId: 'r1' }, undefined)).toBe(false)

          // Still there: a swap from none is refused by it.
          expect(await s.states.get(userId)).toBeUndefined()
          expect(await s.states.swap(userId, undefined, HOLD).catch((e: unknown) => e)).toBeInstanceOf(UnreadableDeletionStateError)
        }
      })

      test('when a move meets no row at all, then it is refused (false), not taken for an unreadable row', async (s) => {
        const userId = newUser(s)

        expect(await s.states.swap(userId, { mode: 'soft', requestId: 'r1' }, HOLD)).toBe(false)
        expect(await s.states.swap(userId, { mode: 'soft', requestId: 'r1' }, undefined)).toBe(false)
        expect(await s.states.get(userId)).toBeUndefined()
      })
    })
  })
}
