import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import type { IdempotencyKeyId, IdempotencyKeys, StoredAnswer } from '../../../src/shared/idempotency-keys.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'

export interface IdempotencyKeysSubject extends ContractSubject {
  keys: IdempotencyKeys
  /** Waits until the key's row has expired (the fake moves its clock; a real store is polled until its TTL removed the row). */
  untilExpired(id: IdempotencyKeyId): Promise<void>
}

const answer = (status = 200): StoredAnswer => ({
  status,
  headers: [
    ['content-type', 'application/json'],
    ['x-response-length', '22'],
  ],
  body: new TextEncoder().encode('{"result":"SUCCESS"}'),
})
const newKey = (owner = `consumer:${randomUUID()}`): IdempotencyKeyId => ({ owner, keyHash: randomUUID() })

/**
 * What the Idempotency-Key mechanism relies on from its store, run against the in-memory fake
 * (unit tier) and the Cassandra adapter (integration tier) alike.
 */
export function describeIdempotencyKeysContract(implementation: string, factory: SubjectFactory<IdempotencyKeysSubject>): void {
  const test = contractCase(factory)

  describe(`IdempotencyKeys contract: ${implementation}`, () => {
    test('when a key is first used, then it is claimed; a second claim meets it in flight with the first fingerprint', async (s) => {
      const id = newKey()

      expect(await s.keys.claim(id, 'fp-1', 30)).toEqual({ claimed: true })
      expect(await s.keys.claim(id, 'fp-2', 30)).toEqual({ claimed: false, record: { fingerprint: 'fp-1', state: 'in-flight' } })
    })

    test('when the claimed request answers, then the answer is kept, byte for byte, for the next claims', async (s) => {
      const id = newKey()
      await s.keys.claim(id, 'fp-1', 30)

      expect(await s.keys.complete(id, 'fp-1', { ...answer(400), errCode: 'UOS_USRDLT0008' }, 3600)).toBe(true)

      expect(await s.keys.claim(id, 'fp-1', 30)).toEqual({ claimed: false, record: { fingerprint: 'fp-1', state: 'done', answer: { ...answer(400), errCode: 'UOS_USRDLT0008' } } })
    })

    test('when a key is released, then the next request claims it anew', async (s) => {
      const id = newKey()
      await s.keys.claim(id, 'fp-1', 30)

      await s.keys.release(id, 'fp-1')

      expect(await s.keys.claim(id, 'fp-2', 30)).toEqual({ claimed: true })
    })

    test('when the same key is used by another owner, then it is a key of its own', async (s) => {
      const id = newKey()
      await s.keys.claim(id, 'fp-1', 30)

      expect(await s.keys.claim({ ...id, owner: `consumer:${randomUUID()}` }, 'fp-1', 30)).toEqual({ claimed: true })
    })

    test('when several requests race for a new key, then exactly one claims it', async (s) => {
      const id = newKey()

      const outcomes = await Promise.all(['a', 'b', 'c'].map((fingerprint) => s.keys.claim(id, fingerprint, 30)))

      expect(outcomes.filter((outcome) => outcome.claimed)).toHaveLength(1)
    })

    test('when a claim without an answer outlives its time in flight, then the key can be claimed again', async (s) => {
      const id = newKey()
      await s.keys.claim(id, 'fp-1', 1)

      await s.untilExpired(id)

      expect(await s.keys.claim(id, 'fp-2', 30)).toEqual({ claimed: true })
    })

    test('when another request holds the key, then completing or releasing with a stale fingerprint changes nothing', async (s) => {
      const id = newKey()
      await s.keys.claim(id, 'fp-1', 30)

      expect(await s.keys.complete(id, 'fp-stale', answer(), 3600)).toBe(false)
      await s.keys.release(id, 'fp-stale')

      expect(await s.keys.claim(id, 'fp-1', 30)).toEqual({ claimed: false, record: { fingerprint: 'fp-1', state: 'in-flight' } })
    })
  })
}
