import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { DependencyUnavailableError } from '../../../src/deletion/errors.js'
import type { UserCache } from '../../../src/deletion/ports.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'
import { failureOf } from './failure-of.js'

export interface UserCacheSubject extends ContractSubject {
  cache: UserCache
  /** Writes the user's hash as Sunbird's cache updater does. */
  seed(userId: string, hash: Record<string, string>): Promise<void>
  /** Writes a plain string at the user's key, as something else than Sunbird's jobs might. */
  seedString(userId: string, value: string): Promise<void>
  /** Writes a stream at the user's key, entry by entry with the ids given (XADD), as something else than Sunbird's jobs might. */
  seedStream(userId: string, entries: StreamEntry[]): Promise<void>
  /** The same port over a cache that does not answer. */
  unreachable(): Promise<UserCache>
  /** The same port over a Redis that accepts the connection and the handshake, then never answers a command. */
  unanswering(): Promise<UserCache>
}

export interface StreamEntry {
  id: string
  /** In order; a name may repeat (streams allow it). */
  fields: [name: string, value: string][]
}

function expectRedisUnavailable(failure: unknown): void {
  expect(failure).toBeInstanceOf(DependencyUnavailableError)
  expect((failure as DependencyUnavailableError).dependency).toBe('redis')
}

const hashOf = (userId: string) => ({ userid: userId, firstname: 'Ashwini', email: 'ashwini@example.org', rootorgid: 'org-1' })

/**
 * What the deletion engine relies on from UserCache (Sunbird's user hash), run against the
 * in-memory fake (unit tier) and the Redis adapter (integration tier) alike.
 */
export function describeUserCacheContract(implementation: string, factory: SubjectFactory<UserCacheSubject>): void {
  const test = contractCase(factory)

  describe(`UserCache contract: ${implementation}`, () => {
    test('when the user is cached, then the whole hash is read; when not, undefined', async (s) => {
      const userId = randomUUID()
      expect(await s.cache.readUser(userId)).toBeUndefined()

      await s.seed(userId, hashOf(userId))

      expect(await s.cache.readUser(userId)).toEqual({ kind: 'hash', fields: hashOf(userId) })
    })

    test('when the user is deleted, then it answers 1 and the hash is gone; a repeat answers 0; another user stays cached', async (s) => {
      const userId = randomUUID()
      const other = randomUUID()
      await s.seed(userId, hashOf(userId))
      await s.seed(other, hashOf(other))

      expect(await s.cache.deleteUser(userId)).toBe(1)
      expect(await s.cache.readUser(userId)).toBeUndefined()
      expect(await s.cache.deleteUser(userId)).toBe(0)
      expect(await s.cache.readUser(other)).toEqual({ kind: 'hash', fields: hashOf(other) })
    })

    test('when the key holds another type than a hash (a string), then reading says its type and value as held, not a failure; deleting removes it', async (s) => {
      const userId = randomUUID()
      await s.seedString(userId, 'x')

      expect(await s.cache.readUser(userId)).toEqual({ kind: 'other', type: 'string', value: 'x' })
      expect(await s.cache.deleteUser(userId)).toBe(1)
      expect(await s.cache.readUser(userId)).toBeUndefined()
    })

    test('when the key holds a stream, then reading gives its entries in order, each its id and every field as held (a name repeated, `__proto__`), in order; deleting removes it (1), and a repeat answers 0', async (s) => {
      const userId = randomUUID()
      const entries: StreamEntry[] = [
        {
          id: '1-0',
          fields: [
            ['event', 'login'],
            ['email', 'ashwini@example.org'],
            ['email', 'ashwini@example.net'],
            ['__proto__', 'p'],
          ],
        },
        { id: '2-0', fields: [['event', 'logout']] },
      ]
      await s.seedStream(userId, entries)

      expect(await s.cache.readUser(userId)).toEqual({ kind: 'other', type: 'stream', value: entries })
      expect(await s.cache.hasUser(userId)).toBe(true)
      expect(await s.cache.deleteUser(userId)).toBe(1)
      expect(await s.cache.readUser(userId)).toBeUndefined()
      expect(await s.cache.deleteUser(userId)).toBe(0)
    })

    test('when the hash is large (thousands of fields, one Redis frees in the background), then deleting answers 1 and it is gone at once', async (s) => {
      const userId = randomUUID()
      await s.seed(userId, Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`field${i}`, `value-${i}`])))

      expect(await s.cache.deleteUser(userId)).toBe(1)
      expect(await s.cache.hasUser(userId)).toBe(false)
      expect(await s.cache.readUser(userId)).toBeUndefined()
    })

    test('when the key is there, of any type, then it exists; when never written or deleted, it does not', async (s) => {
      const hashUser = randomUUID()
      const stringUser = randomUUID()
      expect(await s.cache.hasUser(hashUser)).toBe(false)

      await s.seed(hashUser, hashOf(hashUser))
      await s.seedString(stringUser, 'x')

      expect(await s.cache.hasUser(hashUser)).toBe(true)
      expect(await s.cache.hasUser(stringUser)).toBe(true)
      await s.cache.deleteUser(hashUser)
      expect(await s.cache.hasUser(hashUser)).toBe(false)
    })

    test('when the user was never cached, then deleting answers 0', async (s) => {
      expect(await s.cache.deleteUser(randomUUID())).toBe(0)
    })

    test('when the cache does not answer, then reading, asking whether the key exists and deleting fail as the redis dependency unavailable (so the step stays owed)', async (s) => {
      const down = await s.unreachable()
      for (const call of [() => down.readUser(randomUUID()), () => down.hasUser(randomUUID()), () => down.deleteUser(randomUUID())]) expectRedisUnavailable(await failureOf(call))
    })

    test('when Redis takes the commands and never answers them, then reading, asking whether the key exists and deleting fail as the redis dependency unavailable instead of hanging', async (s) => {
      const stuck = await s.unanswering()
      for (const call of [() => stuck.readUser(randomUUID()), () => stuck.hasUser(randomUUID()), () => stuck.deleteUser(randomUUID())]) expectRedisUnavailable(await failureOf(call))
    })
  })
}
