import { randomUUID } from 'node:crypto'
import { type Client, errors, type QueryOptions } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { UserDeletionState } from '../../src/deletion/ports.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { CassandraUserDeletionStates } from '../../src/store/cassandra-user-deletion-states.js'
import { testConfig } from '../support/harness.js'
import { TEST_KEYSPACE } from '../support/test-env.js'

// A hold's compare-and-set whose answer is lost: under contention the driver's own timeout
// (readTimeoutMs) usually comes before Cassandra's. Of two racing deletions exactly one may hear
// that it holds the user, so the store settles the swap instead of passing "unavailable" up.

type Loss = 'after applying' | 'before sending'

let db: Client
const used: string[] = []
beforeAll(async () => {
  db = createCassandraClient(testConfig().cassandra)
  await db.connect()
})
afterAll(async () => {
  for (const userId of used) await db.execute(`DELETE FROM ${TEST_KEYSPACE}.user_deletion_state WHERE userid = ?`, [userId], { prepare: true })
  await db?.shutdown()
})

/** The store, over a client that loses the answer of the next compare-and-set on the hold (a driver timeout). */
function losingNextSwapAnswer(loss: Loss): CassandraUserDeletionStates {
  let lost = false
  const client = new Proxy(db, {
    get(target, property) {
      if (property === 'execute') {
        return async (query: string, params: unknown[], options?: QueryOptions) => {
          const compareAndSet = query.includes(`${TEST_KEYSPACE}.user_deletion_state`) && / IF /.test(query)
          if (lost || !compareAndSet) return target.execute(query, params, options)
          lost = true
          if (loss === 'after applying') await target.execute(query, params, options)
          throw new errors.OperationTimedOutError('answer lost (test)')
        }
      }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return new CassandraUserDeletionStates(client, TEST_KEYSPACE)
}

const newUser = (): string => {
  const userId = randomUUID()
  used.push(userId)
  return userId
}
const hold = (mode: UserDeletionState['mode']): UserDeletionState => ({ mode, requestId: randomUUID() })

describe('a hold whose compare-and-set answer was lost', () => {
  const states = () => new CassandraUserDeletionStates(db, TEST_KEYSPACE)

  it.each<Loss>(['after applying', 'before sending'])('when the hold was taken and its answer lost %s, then swap answers true and the hold is this request’s', async (loss) => {
    const userId = newUser()
    const soft = hold('soft')

    expect(await losingNextSwapAnswer(loss).swap(userId, undefined, soft)).toBe(true)
    expect(await states().get(userId)).toEqual(soft)
  })

  it('when another request took the hold first and this one’s answer was lost, then swap answers false: only one of them holds the user', async () => {
    const userId = newUser()
    const winner = hold('hard')
    expect(await states().swap(userId, undefined, winner)).toBe(true)

    expect(await losingNextSwapAnswer('after applying').swap(userId, undefined, hold('soft'))).toBe(false)
    expect(await states().get(userId)).toEqual(winner)
  })

  it.each<Loss>(['after applying', 'before sending'])('when a hold is moved on (soft to hard) and the answer lost %s, then swap answers true', async (loss) => {
    const userId = newUser()
    const soft = hold('soft')
    const hard = hold('hard')
    expect(await states().swap(userId, undefined, soft)).toBe(true)

    expect(await losingNextSwapAnswer(loss).swap(userId, soft, hard)).toBe(true)
    expect(await states().get(userId)).toEqual(hard)
  })

  it('when a hold is given back and the answer lost after applying, then swap answers true and no hold is left', async () => {
    const userId = newUser()
    const soft = hold('soft')
    expect(await states().swap(userId, undefined, soft)).toBe(true)

    expect(await losingNextSwapAnswer('after applying').swap(userId, soft, undefined)).toBe(true)
    expect(await states().get(userId)).toBeUndefined()
  })
})
