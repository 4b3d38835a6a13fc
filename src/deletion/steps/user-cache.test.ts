import { afterEach, describe, expect, it } from 'vitest'
import { deletionWorld } from '../../../test/support/fakes/deletion-world.js'
import { handshakeOnly, type StubRedis, startStubRedis } from '../../../test/support/stub-redis-server.js'
import { RedisConnection } from '../../redis/redis-client.js'
import { RedisUserCache } from '../../redis/redis-user-cache.js'
import { deleteAccount } from '../delete-account.js'
import { CACHE } from './step.js'

const TARGET = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'

const open: { stub: StubRedis; connection: RedisConnection }[] = []
afterEach(async () => {
  for (const { stub, connection } of open.splice(0)) {
    await connection.close()
    await stub.close()
  }
})

/** A Redis that holds `user:<id>` as a hash (or holds no key), answering whatever the adapter may ask of it. */
async function redisHolding(present: boolean) {
  const replies: Record<string, string> = present
    ? { EXISTS: ':1\r\n', TYPE: '+hash\r\n', HLEN: ':1\r\n', MEMORY: ':64\r\n', HGETALL: '*2\r\n$6\r\nuserid\r\n$1\r\nx\r\n' }
    : { EXISTS: ':0\r\n', TYPE: '+none\r\n' }
  const stub = await startStubRedis((command) => (command[0] !== undefined ? replies[command[0]] : undefined) ?? handshakeOnly(command))
  const connection = new RedisConnection({ host: stub.host, port: stub.port, db: 12, timeoutMs: 2000 })
  open.push({ stub, connection })
  return { stub, cache: new RedisUserCache(connection) }
}

const afterHandshake = (stub: StubRedis) => stub.commands.map(([name]) => name).filter((name) => !['HELLO', 'SELECT', 'CLIENT', 'AUTH'].includes(name ?? ''))

describe('cacheUser in a dry run: whether the key is there, never its value', () => {
  for (const present of [true, false]) {
    it(`when the key is ${present ? '' : 'not '}there, then the dry run counts ${present ? 1 : 0} to delete, asking Redis only EXISTS (no TYPE, size, MEMORY USAGE or read)`, async () => {
      const w = deletionWorld({ seed: [{ id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'] }] })
      const { stub, cache } = await redisHolding(present)

      const outcome = await deleteAccount({ ...w.deps, cache }, { requestId: 'req-dry', userId: TARGET, caller: { consumer: 'portal', userId: TARGET, roles: [] }, dryRun: true })

      if (outcome.kind !== 'dry-run') throw new Error('not a dry run')
      expect(outcome.plan.find((entry) => entry.store === CACHE.steps.cacheUser)).toEqual({ store: CACHE.steps.cacheUser, action: 'delete', count: present ? 1 : 0 })
      expect(afterHandshake(stub)).toEqual(['EXISTS'])
    })
  }
})
