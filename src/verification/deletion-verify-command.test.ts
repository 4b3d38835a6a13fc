import { errors as cassandraErrors } from 'cassandra-driver'
import { describe, expect, it } from 'vitest'
import { WORLD_RECEIPT_KEY, deletionWorld } from '../../test/support/fakes/deletion-world.js'
import type { SeedUser } from '../../test/support/fakes/in-memory-user-store.js'
import { ConfigError } from '../config/load-config.js'
import { cancelDeletion } from '../deletion/cancel-deletion.js'
import { deleteAccount } from '../deletion/delete-account.js'
import { DependencyUnavailableError, keptChanging } from '../deletion/errors.js'
import { RedisTimeoutError } from '../redis/redis-client.js'
import { VERIFY_EXIT, type VerifyConnection, deletionVerifyCommand } from './deletion-verify-command.js'
import type { ByValueDeps } from './verify-by-value.js'
import type { VerifyDeps } from './verify-deletion.js'

const USER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const ORG = 'org-1'
const EMAIL = 'asha.verma@example.org'
const PHONE = '9876543210'
const REQUEST = 'req-verify-1'

const person: SeedUser = { id: USER, rootOrgId: ORG, organisationIds: [ORG], lookups: 2, profile: { firstname: 'Asha', email: EMAIL, phone: PHONE } }

const NO_SCAN: ByValueDeps['cassandra'] = {
  execute: () => {
    throw new Error('by-value scan run although it could match nothing')
  },
}

/** The verification's stores over the world's fakes, with its receipt key. */
const verifyDepsOf = (w: ReturnType<typeof deletionWorld>): VerifyDeps => ({
  requests: w.requests,
  users: w.users,
  tables: w.tables,
  search: w.deps.search,
  cache: w.deps.cache,
  extraTargets: [],
  cassandra: NO_SCAN,
  keyspace: 'sunbird',
  receiptKey: WORLD_RECEIPT_KEY,
})

/** The person deleted (Sunbird's deletion) with the world's receipt key; the verification's stores over the same fakes. */
async function deleted() {
  const w = deletionWorld({ seed: [person] })
  await deleteAccount(w.deps, { requestId: REQUEST, userId: USER, caller: { consumer: 'portal', userId: USER, roles: [] } })
  return { w, deps: verifyDepsOf(w) }
}

/** Runs the command over `deps`; what it printed, its exit code, and whether it let go of the stores. */
async function run(deps: VerifyDeps | (() => never), requestId: string | null | string[] = REQUEST) {
  const out: string[] = []
  const err: string[] = []
  let closed = false
  const connect = (): VerifyConnection => {
    const resolved = typeof deps === 'function' ? deps() : deps
    return {
      deps: resolved,
      close: async () => {
        closed = true
      },
    }
  }
  const code = await deletionVerifyCommand(requestId === null ? [] : Array.isArray(requestId) ? requestId : [requestId], connect, { out: (text) => out.push(text), err: (text) => err.push(text) })
  return { code, out: out.join('\n'), err, closed }
}

/** One line naming the request, no stack trace, no personal value. */
function expectOneCleanLine(err: readonly string[], why: string): void {
  expect(err).toHaveLength(1)
  expect(err[0]).toBe(`deletion:verify: could not verify deletion request ${REQUEST}: ${why}`)
  expect(err[0]).not.toContain('\n')
  for (const value of [EMAIL, PHONE, 'Asha']) expect(err[0]).not.toContain(value)
}

describe('npm run deletion:verify when it cannot verify', () => {
  it('when Cassandra is unreachable, then one line says so and names the request, the exit code is 2 (could not verify), not 1 (residue), and the stores are let go', async () => {
    const { deps } = await deleted()
    // The driver's own message may quote what it was sent: it is never printed.
    const unreachable = new DependencyUnavailableError('cassandra', { cause: new cassandraErrors.NoHostAvailableError({}, `All host(s) tried for query failed (${EMAIL})`) })

    const result = await run({
      ...deps,
      requests: {
        get: async () => {
          throw unreachable
        },
      },
    })

    expect(result.code).toBe(VERIFY_EXIT.couldNotVerify)
    expect(result.code).toBe(2)
    expectOneCleanLine(result.err, 'cassandra unreachable (no host answered)')
    expect(result.out).toBe('')
    expect(result.closed).toBe(true)
  })

  it('when a page of the by-value scan times out, then one line says Cassandra did not answer in time, exit 2, and the driver’s message (which may quote a value) is not printed', async () => {
    const { deps } = await deleted()
    const timedOut: ByValueDeps['cassandra'] = {
      execute: (async () => {
        throw new cassandraErrors.OperationTimedOutError(`The host 127.0.0.1:9042 did not reply before timeout 12000 ms; key ${EMAIL}`, '127.0.0.1:9042')
      }) as unknown as ByValueDeps['cassandra']['execute'],
    }

    const result = await run({ ...deps, cassandra: timedOut })

    expect(result.code).toBe(2)
    expectOneCleanLine(result.err, 'cassandra did not answer in time (a query, or a page of a scan)')
    expect(result.out).toBe('')
  })

  it('when Redis does not answer, then the line says which command timed out (this service’s own words), exit 2', async () => {
    const { deps } = await deleted()

    const result = await run({
      ...deps,
      cache: {
        readUser: async () => {
          throw new DependencyUnavailableError('redis', { cause: new RedisTimeoutError('HGETALL', 2000) })
        },
        hasUser: async () => {
          throw new DependencyUnavailableError('redis', { cause: new RedisTimeoutError('EXISTS', 2000) })
        },
        deleteUser: async () => 0,
      },
    })

    expect(result.code).toBe(2)
    expectOneCleanLine(result.err, 'redis unavailable: redis EXISTS not answered within 2000 ms')
  })

  it('when a read loses a race to another runner (contention: cassandra answered), then the line says so and to run it again, not that cassandra is unavailable, exit 2', async () => {
    const { deps } = await deleted()

    const result = await run({
      ...deps,
      requests: {
        ...deps.requests,
        get: async () => {
          throw keptChanging('the deletion state of the user kept changing')
        },
      },
    })

    expect(result.code).toBe(2)
    expectOneCleanLine(result.err, 'contended: lost a race to another runner (cassandra answered): the deletion state of the user kept changing; run it again')
  })

  it('when the search engine is down (the fake’s own failure), then one line, exit 2', async () => {
    const { w, deps } = await deleted()
    w.search.down = true

    const result = await run(deps)

    expect(result.code).toBe(2)
    expectOneCleanLine(result.err, 'search unavailable')
  })

  it('when the configuration is refused, then its problems are one line (settings named, no value), exit 2', async () => {
    const result = await run(() => {
      throw new ConfigError('invalid configuration:\n  /deletion/receiptHashKey must NOT have fewer than 16 characters\n  /cassandra/port must be integer')
    })

    expect(result.code).toBe(2)
    expectOneCleanLine(result.err, 'invalid configuration: /deletion/receiptHashKey must NOT have fewer than 16 characters; /cassandra/port must be integer')
    expect(result.closed).toBe(false)
  })

  it('when something unforeseen fails, then only its kind is printed, never its message, exit 2', async () => {
    const { deps } = await deleted()

    const result = await run({
      ...deps,
      users: {
        ...deps.users,
        readUserRow: async () => {
          throw new TypeError(`cannot read ${EMAIL}`)
        },
      },
    })

    expect(result.code).toBe(2)
    expectOneCleanLine(result.err, 'unexpected TypeError')
  })

  it('when there is no request id or no such request, then exit 2 as before', async () => {
    const { deps } = await deleted()

    const noId = await run(deps, null)
    const unknown = await run(deps, 'req-unknown')

    expect(noId).toMatchObject({ code: 2, err: ['usage: npm run deletion:verify -- <requestId>'] })
    expect(unknown).toMatchObject({ code: 2, err: ['deletion:verify: no deletion request has that id'] })
  })

  it.each([[['--help']], [['-h']], [['req-1', '-h']]])('when the arguments are %j, then the usage is printed on stdout, exit 0, and nothing is connected to', async (args) => {
    const result = await run(() => {
      throw new Error('not expected')
    }, args)

    expect(result).toMatchObject({ code: VERIFY_EXIT.ok, out: 'usage: npm run deletion:verify -- <requestId>', err: [], closed: false })
  })

  it.each([[['--bogus']], [['req-1', 'req-2']], [['']], [['req-1', '--chain', 'x']]])(
    'when the arguments are %j (not exactly one id), then exit 2 with the usage, and nothing is connected to',
    async (args) => {
      const result = await run(() => {
        throw new Error('not expected')
      }, args)

      expect(result).toMatchObject({ code: 2, err: ['usage: npm run deletion:verify -- <requestId>'], closed: false })
    },
  )

  it.each(['someone@example.org', 'x\u001b[31mRED\nsecond line'])('when the id given is %j, which this service never issues, then it is not repeated back, even when a store fails', async (id) => {
    const { deps } = await deleted()

    const unknown = await run(deps, id)
    const failing = await run(() => {
      throw new DependencyUnavailableError('cassandra')
    }, id)

    expect(unknown.err).toEqual(['deletion:verify: no deletion request has that id'])
    expect(failing.err).toEqual(['deletion:verify: could not verify the deletion request: cassandra unavailable'])
  })

  it('when it can verify, then the proof goes to stdout: exit 0 when nothing is left, 3 when the contacts’ hashes were made with another key than the configured one', async () => {
    const { deps } = await deleted()
    const scanFindingNothing: ByValueDeps['cassandra'] = { execute: (async () => []) as unknown as ByValueDeps['cassandra']['execute'] }

    const clean = await run({ ...deps, cassandra: scanFindingNothing })
    const rotated = await run({ ...deps, receiptKey: 'rotated-receipt-key-after-a-leak' })

    expect(clean).toMatchObject({ code: VERIFY_EXIT.ok, err: [] })
    expect(clean.out).toContain(`person ${USER}: ok`)
    expect(rotated).toMatchObject({ code: VERIFY_EXIT.cannotCheck, err: [] })
    expect(rotated.code).toBe(3)
    expect(rotated.out).toMatch(/cassandra\.otp \(by value\)\s+0 rows\s+cannot check: made with another key/)
    for (const value of [EMAIL, PHONE]) expect(rotated.out).not.toContain(value)
  })

  it('when the search engine and Redis the deletion reached are not configured here, then exit 3 and the closing advice names sunbird_es_host and sunbird_redis_host, not the receipt key', async () => {
    const { deps } = await deleted()
    const scanFindingNothing: ByValueDeps['cassandra'] = { execute: (async () => []) as unknown as ByValueDeps['cassandra']['execute'] }

    const result = await run({ ...deps, cassandra: scanFindingNothing, search: undefined, cache: undefined })

    expect(result).toMatchObject({ code: VERIFY_EXIT.cannotCheck, err: [] })
    expect(result.out).toMatch(/search\.user_alias\s+checked\s+not configured here, though the deletion reached it\s+CANNOT CHECK/)
    expect(result.out).toContain('Run again with sunbird_es_host')
    expect(result.out).toContain('Run again with sunbird_redis_host')
    expect(result.out).not.toContain('DELETION_RECEIPT_HASH_KEY')
    for (const value of [EMAIL, PHONE]) expect(result.out).not.toContain(value)
  })

  it('when the request was cancelled (the person restored), then there is no verdict: one line says why, exit 2, never the residue a restore would read as', async () => {
    const w = deletionWorld({ seed: [person] })
    const self = { consumer: 'portal', userId: USER, roles: [] }
    await deleteAccount(w.deps, { requestId: REQUEST, userId: USER, caller: self, mode: 'soft' })
    await cancelDeletion(w.deps, { userId: USER, caller: self })
    expect((await w.requests.get(REQUEST))?.state).toBe('cancelled')

    const result = await run({ ...verifyDepsOf(w), cassandra: NO_SCAN })

    expect(result).toMatchObject({ code: VERIFY_EXIT.couldNotVerify, out: '' })
    expect(result.err).toEqual([`deletion:verify: deletion request ${REQUEST} (plan soft, state cancelled): it was cancelled and the person restored: there is no erasure to verify`])
  })

  it('when the request failed because a later deletion took the user over, then there is no verdict on it: the line points to that deletion, exit 2', async () => {
    const w = deletionWorld({ seed: [person] })
    const self = { consumer: 'portal', userId: USER, roles: [] }
    await deleteAccount(w.deps, { requestId: REQUEST, userId: USER, caller: self, gracePeriodDays: 7 })
    await deleteAccount(w.deps, { requestId: 'req-verify-hard', userId: USER, caller: self, mode: 'hard' })
    expect(await w.requests.get(REQUEST)).toMatchObject({ state: 'failed', reason: 'superseded' })

    const result = await run({ ...verifyDepsOf(w), cassandra: NO_SCAN })

    expect(result).toMatchObject({ code: VERIFY_EXIT.couldNotVerify, out: '' })
    expect(result.err).toHaveLength(1)
    expect(result.err[0]).toContain(`deletion request ${REQUEST} (plan soft, state failed): it failed: a later deletion of the user took them over`)
  })
})
