import { afterEach, describe, expect, it } from 'vitest'
import { handshakeOnly, nothing, type RedisAnswer, startStubRedis, type StubRedis } from '../../test/support/stub-redis-server.js'
import { DependencyUnavailableError } from '../deletion/errors.js'
import { RedisConnection, RedisRefusedError, RedisTimeoutError } from './redis-client.js'
import { nextStreamId, RedisUserCache, streamMemoryCeiling } from './redis-user-cache.js'

const TIMEOUT_MS = 300
/** Far past the bound plus a connect: a call still pending then is a hang. */
const HANG_MS = 5_000
const USER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'

const open: { stub: StubRedis; connection: RedisConnection }[] = []
afterEach(async () => {
  for (const { stub, connection } of open.splice(0)) {
    await connection.close()
    await stub.close()
  }
})

async function cacheOver(answer: RedisAnswer) {
  const stub = await startStubRedis(answer)
  const connection = new RedisConnection({ host: stub.host, port: stub.port, db: 12, timeoutMs: TIMEOUT_MS })
  open.push({ stub, connection })
  return { stub, connection, cache: new RedisUserCache(connection) }
}

/** How `work` settled (or that it did not within HANG_MS), and how long it took. */
async function settle(work: Promise<unknown>): Promise<{ outcome: 'resolved' | 'rejected' | 'hung'; value?: unknown; error?: unknown; ms: number }> {
  const started = Date.now()
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<{ outcome: 'hung' }>((resolve) => {
    timer = setTimeout(() => resolve({ outcome: 'hung' }), HANG_MS)
  })
  const result = await Promise.race([
    work.then(
      (value) => ({ outcome: 'resolved' as const, value }),
      (error: unknown) => ({ outcome: 'rejected' as const, error }),
    ),
    hung,
  ]).finally(() => clearTimeout(timer))
  return { ...result, ms: Date.now() - started }
}

function expectRedisUnavailable(result: Awaited<ReturnType<typeof settle>>): void {
  expect(result.outcome).toBe('rejected')
  expect(result.error).toBeInstanceOf(DependencyUnavailableError)
  expect((result.error as DependencyUnavailableError).dependency).toBe('redis')
}

/** Answers the handshake, UNLINK and DEL (one key removed) and the sizing of a small hash before its read; `stalled` commands are never answered. */
const answering =
  (...stalled: string[]): RedisAnswer =>
  (command) => {
    const [name] = command
    if (name !== undefined && stalled.includes(name)) return undefined
    if (name === 'UNLINK' || name === 'DEL') return ':1\r\n'
    if (name === 'PING') return '+PONG\r\n'
    if (name === 'TYPE') return '+hash\r\n'
    if (name === 'HLEN') return ':1\r\n'
    if (name === 'MEMORY') return ':64\r\n'
    return handshakeOnly(command)
  }

describe('RedisUserCache over a Redis that takes commands and never answers', () => {
  it('when UNLINK is never answered, then deleting fails as redis unavailable within REDIS_TIMEOUT_MS, with the timeout as cause', async () => {
    const { stub, cache } = await cacheOver(answering('UNLINK'))

    const result = await settle(cache.deleteUser(USER))

    expectRedisUnavailable(result)
    expect((result.error as DependencyUnavailableError).cause).toBeInstanceOf(RedisTimeoutError)
    expect(String((result.error as DependencyUnavailableError).cause)).toBe(`RedisTimeoutError: redis UNLINK not answered within ${TIMEOUT_MS} ms`)
    // The command was written: the bound covers the wait for its answer, not only the wait to send it.
    expect(stub.commands.map(([name]) => name)).toContain('UNLINK')
    // Never answered is an outage, not a refusal: no DEL in its place.
    expect(stub.commands.map(([name]) => name)).not.toContain('DEL')
    expect(result.ms).toBeLessThan(TIMEOUT_MS * 8)
  })

  it('when HGETALL is never answered, then reading fails as redis unavailable within REDIS_TIMEOUT_MS', async () => {
    const { stub, cache } = await cacheOver(answering('HGETALL'))

    const result = await settle(cache.readUser(USER))

    expectRedisUnavailable(result)
    expect(stub.commands.map(([name]) => name)).toContain('HGETALL')
    expect(result.ms).toBeLessThan(TIMEOUT_MS * 8)
  })

  it('when two commands wait behind one that is never answered, then both fail as unavailable (the stuck connection is dropped)', async () => {
    const { cache } = await cacheOver(handshakeOnly)

    const [first, second] = await Promise.all([settle(cache.deleteUser(USER)), settle(cache.readUser(USER))])

    expectRedisUnavailable(first)
    expectRedisUnavailable(second)
  })

  it('when Redis answers again after a command timed out, then the next command succeeds on a new connection', async () => {
    const { stub, cache } = await cacheOver(answering('UNLINK'))
    expectRedisUnavailable(await settle(cache.deleteUser(USER)))

    stub.answer = answering()
    const result = await settle(cache.deleteUser(USER))

    expect(result).toMatchObject({ outcome: 'resolved', value: 1 })
    expect(stub.connections()).toBe(2)
  })

  it('when Redis accepts the connection but never answers the handshake, then the call fails as unavailable within the connect bound, and a later call connects afresh', async () => {
    const { stub, cache } = await cacheOver(nothing)

    expectRedisUnavailable(await settle(cache.deleteUser(USER)))
    stub.answer = answering()
    const result = await settle(cache.deleteUser(USER))

    expect(result).toMatchObject({ outcome: 'resolved', value: 1 })
  })
})

describe('RedisConnection.ping', () => {
  it('when PING is never answered, then it says false within the timeout', async () => {
    const { connection } = await cacheOver(answering('PING'))

    const result = await settle(connection.ping())

    expect(result).toMatchObject({ outcome: 'resolved', value: false })
    expect(result.ms).toBeLessThan(TIMEOUT_MS * 8)
  })

  it('when Redis answers PONG, then it says true', async () => {
    const { connection } = await cacheOver(answering())

    expect(await connection.ping()).toBe(true)
  })
})

/** Answers the handshake, and `replies` by command name (a RESP reply each). */
const replying =
  (replies: Record<string, string>): RedisAnswer =>
  (command) =>
    (command[0] !== undefined ? replies[command[0]] : undefined) ?? handshakeOnly(command)

/** The commands after the handshake, by name. */
const afterHandshake = (stub: StubRedis) => stub.commands.map(([name]) => name).filter((name) => !['HELLO', 'SELECT', 'CLIENT', 'AUTH'].includes(name ?? ''))

describe('RedisUserCache: what an error reply means', () => {
  it('when user:<id> holds a string, then reading says its type and value, sized before it is read', async () => {
    const { cache, stub } = await cacheOver(replying({ TYPE: '+string\r\n', STRLEN: ':1\r\n', GET: '$1\r\nx\r\n' }))

    expect(await cache.readUser(USER)).toEqual({ kind: 'other', type: 'string', value: 'x' })
    expect(afterHandshake(stub)).toEqual(['TYPE', 'STRLEN', 'GET'])
  })

  it('when user:<id> holds a list, then reading gives its members', async () => {
    const { cache } = await cacheOver(replying({ TYPE: '+list\r\n', LLEN: ':2\r\n', MEMORY: ':80\r\n', LRANGE: '*2\r\n$1\r\na\r\n$1\r\nb\r\n' }))

    expect(await cache.readUser(USER)).toEqual({ kind: 'other', type: 'list', value: ['a', 'b'] })
  })

  it('when user:<id> holds a stream, then reading gives its entries (id and fields), sized by XLEN and MEMORY USAGE before XRANGE', async () => {
    const { cache, stub } = await cacheOver(replying({ TYPE: '+stream\r\n', XLEN: ':1\r\n', MEMORY: ':600\r\n', XRANGE: '*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n' }))

    expect(await cache.readUser(USER)).toEqual({ kind: 'other', type: 'stream', value: [{ id: '1-0', fields: [['a', 'b']] }] })
    expect(afterHandshake(stub)).toEqual(['TYPE', 'XLEN', 'MEMORY', 'XRANGE'])
    expect(stub.commands.find(([name]) => name === 'XRANGE')).toEqual(['XRANGE', `user:${USER}`, '-', '+', 'COUNT', '10'])
  })

  it("when user:<id> holds a module's type, then reading names its type with a null value, without sizing or reading it", async () => {
    const { cache, stub } = await cacheOver(replying({ TYPE: '+ReJSON-RL\r\n' }))

    expect(await cache.readUser(USER)).toEqual({ kind: 'other', type: 'ReJSON-RL', value: null })
    expect(afterHandshake(stub)).toEqual(['TYPE'])
  })

  it('when the key is rewritten with another type between TYPE and its read (WRONGTYPE), then it is read afresh by its new type', async () => {
    let types = ['+hash\r\n', '+string\r\n']
    const { cache } = await cacheOver((command) => {
      if (command[0] === 'TYPE') {
        const [type, ...rest] = types
        types = rest
        return type
      }
      return replying({ HLEN: ':1\r\n', MEMORY: ':64\r\n', HGETALL: '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n', STRLEN: ':1\r\n', GET: '$1\r\nx\r\n' })(command)
    })

    expect(await cache.readUser(USER)).toEqual({ kind: 'other', type: 'string', value: 'x' })
  })

  it('when the key is rewritten with another type under the read again (a second WRONGTYPE), then the read fails as redis unavailable (503), not as a bug', async () => {
    const { cache, stub } = await cacheOver(replying({ TYPE: '+hash\r\n', HLEN: ':1\r\n', MEMORY: ':64\r\n', HGETALL: '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n' }))

    const result = await settle(cache.readUser(USER))

    expectRedisUnavailable(result)
    expect(String((result.error as DependencyUnavailableError).cause)).toBe('Error: redis answered WRONGTYPE to the read of user:<id> twice')
    // Read afresh once, then given up: not a third time.
    expect(afterHandshake(stub).filter((name) => name === 'HGETALL')).toHaveLength(2)
  })

  for (const code of ['LOADING', 'BUSY', 'MASTERDOWN', 'READONLY', 'TRYAGAIN', 'CLUSTERDOWN', 'MISCONF', 'OOM']) {
    it(`when Redis answers ${code}, then the call fails as redis unavailable (the step owed, the deletion goes on), the cause worded with the code only`, async () => {
      const { cache } = await cacheOver(replying({ UNLINK: `-${code} Redis is not serving (some text of its own)\r\n` }))

      const result = await settle(cache.deleteUser(USER))

      expectRedisUnavailable(result)
      expect(String((result.error as DependencyUnavailableError).cause)).toBe(`Error: redis answered ${code} to UNLINK`)
    })
  }
})

describe('RedisUserCache.deleteUser: UNLINK, DEL where the server refuses UNLINK', () => {
  it('when Redis answers UNLINK, then it is the only command sent and its count is the answer (no DEL)', async () => {
    const { cache, stub } = await cacheOver(replying({ UNLINK: ':1\r\n' }))

    expect(await cache.deleteUser(USER)).toBe(1)
    expect(stub.commands.filter(([name]) => name === 'UNLINK')).toEqual([['UNLINK', `user:${USER}`]])
    expect(afterHandshake(stub)).toEqual(['UNLINK'])
  })

  for (const [server, refusal] of [
    ['a Redis before 4.0', "-ERR unknown command 'unlink'\r\n"],
    ['a Redis 6.2 or later without it', "-ERR unknown command 'UNLINK', with args beginning with: 'user:x' \r\n"],
    ['a proxy', '-ERR unsupported command UNLINK\r\n'],
    ['an ACL user granted DEL only', "-NOPERM this user has no permissions to run the 'unlink' command\r\n"],
  ] as const) {
    it(`when ${server} refuses UNLINK, then DEL removes the key with the same count, and later deletions on the connection send DEL without asking UNLINK again`, async () => {
      const { cache, stub } = await cacheOver(replying({ UNLINK: refusal, DEL: ':1\r\n' }))

      expect(await cache.deleteUser(USER)).toBe(1)
      expect(await cache.deleteUser(USER)).toBe(1)

      expect(afterHandshake(stub)).toEqual(['UNLINK', 'DEL', 'DEL'])
      expect(stub.commands.filter(([name]) => name === 'DEL')).toEqual([
        ['DEL', `user:${USER}`],
        ['DEL', `user:${USER}`],
      ])
    })
  }

  it("when a proxy refuses UNLINK in words not recognised (ERR ... command 'UNLINK' is not allowed), then DEL removes the key for that call, and the next deletion asks UNLINK again", async () => {
    const { cache, stub } = await cacheOver(replying({ UNLINK: "-ERR proxy policy: command 'UNLINK' is not allowed\r\n", DEL: ':1\r\n' }))

    expect(await cache.deleteUser(USER)).toBe(1)
    expect(await cache.deleteUser(USER)).toBe(1)

    expect(afterHandshake(stub)).toEqual(['UNLINK', 'DEL', 'UNLINK', 'DEL'])
  })

  for (const [what, reply] of [
    ["a proxy's ERR for a backend down", '-ERR connection to backend refused\r\n'],
    ['NOPERM on the key (not the command)', '-NOPERM this user has no permissions to access one of the keys used as arguments\r\n'],
  ] as const) {
    it(`when UNLINK and DEL are both answered ${what}, then deleting fails as redis unavailable (owed) after one DEL, and the next deletion asks UNLINK again`, async () => {
      const { cache, stub } = await cacheOver(replying({ UNLINK: reply, DEL: reply }))

      const result = await settle(cache.deleteUser(USER))
      expectRedisUnavailable(result)
      expect(String((result.error as DependencyUnavailableError).cause)).toBe(`Error: redis answered ${reply.slice(1, reply.indexOf(' '))} to DEL`)
      expectRedisUnavailable(await settle(cache.deleteUser(USER)))

      expect(afterHandshake(stub)).toEqual(['UNLINK', 'DEL', 'UNLINK', 'DEL'])
    })
  }

  it('when UNLINK is answered LOADING, then deleting fails as redis unavailable (owed), DEL is not tried, and the next deletion asks UNLINK again', async () => {
    const { cache, stub } = await cacheOver(replying({ UNLINK: '-LOADING Redis is loading the dataset in memory\r\n', DEL: ':1\r\n' }))

    expectRedisUnavailable(await settle(cache.deleteUser(USER)))
    expectRedisUnavailable(await settle(cache.deleteUser(USER)))

    expect(afterHandshake(stub)).toEqual(['UNLINK', 'UNLINK'])
  })
})

describe('RedisConnection: a Redis that refuses the credentials', () => {
  const PASSWORD = 'r3dis-Pa55-never-logged'

  // The handshake speaks RESP2 (AUTH, then SELECT): a password refused answers AUTH, a password
  // missing answers the first command after it.
  for (const [refused, reply, code, password] of [
    ['AUTH', '-WRONGPASS invalid username-password pair or user is disabled.\r\n', 'WRONGPASS', PASSWORD],
    ['SELECT', '-NOAUTH Authentication required.\r\n', 'NOAUTH', ''],
  ] as const) {
    it(`when the handshake's ${refused} is answered ${code}, then the call fails at once as redis unavailable, the cause naming ${code} and the setting, never the password`, async () => {
      const stub = await startStubRedis((command) => (command[0] === refused ? reply : handshakeOnly(command)))
      const connection = new RedisConnection({ host: stub.host, port: stub.port, db: 12, timeoutMs: 2000, password })
      open.push({ stub, connection })

      const result = await settle(new RedisUserCache(connection).deleteUser(USER))

      expectRedisUnavailable(result)
      const cause = (result.error as DependencyUnavailableError).cause
      expect(cause).toBeInstanceOf(RedisRefusedError)
      expect(cause).toMatchObject({ code })
      expect(String(cause)).toContain('sunbird_redis_password')
      expect(String(cause)).not.toContain(PASSWORD)
      // Refused at once, not after reconnecting until REDIS_TIMEOUT_MS ran out.
      expect(result.ms).toBeLessThan(1500)
    })
  }
})

describe('RedisConnection: the protocol it speaks', () => {
  it('when it connects, then it speaks RESP2 (AUTH and SELECT, no HELLO), which a Redis before 6 still in older Sunbird installations answers', async () => {
    const stub = await startStubRedis(answering())
    const connection = new RedisConnection({ host: stub.host, port: stub.port, db: 12, timeoutMs: 2000, password: 'pw' })
    open.push({ stub, connection })

    expect(await new RedisUserCache(connection).deleteUser(USER)).toBe(1)

    const names = stub.commands.map(([name]) => name)
    expect(names).not.toContain('HELLO')
    expect(names.slice(0, 2)).toEqual(['AUTH', 'SELECT'])
  })
})

describe('RedisUserCache: a key larger than the bound (REDIS_MAX_VALUE_BYTES) is sized, never read', () => {
  const MAX = 1024

  async function boundedCacheOver(answer: RedisAnswer) {
    const { stub, connection } = await cacheOver(answer)
    return { stub, cache: new RedisUserCache(connection, MAX) }
  }

  it('when a string is longer than the bound, then its type and length, and GET is never sent', async () => {
    const { cache, stub } = await boundedCacheOver(replying({ TYPE: '+string\r\n', STRLEN: ':314572800\r\n' }))

    expect(await cache.readUser(USER)).toEqual({ kind: 'tooLarge', type: 'string', size: { bytes: 314_572_800 }, maxBytes: MAX })
    expect(afterHandshake(stub)).toEqual(['TYPE', 'STRLEN'])
  })

  it('when a list has more members than can fit (three bytes each at least), then its count alone: neither MEMORY USAGE (a walk of every member) nor LRANGE', async () => {
    const { cache, stub } = await boundedCacheOver(replying({ TYPE: '+list\r\n', LLEN: `:${Math.floor(MAX / 3) + 1}\r\n` }))

    expect(await cache.readUser(USER)).toEqual({ kind: 'tooLarge', type: 'list', size: { members: Math.floor(MAX / 3) + 1 }, maxBytes: MAX })
    expect(afterHandshake(stub)).toEqual(['TYPE', 'LLEN'])
  })

  it('when a stream has more entries than can fit, then its entry count alone (XLEN): neither MEMORY USAGE nor XRANGE', async () => {
    const { cache, stub } = await boundedCacheOver(replying({ TYPE: '+stream\r\n', XLEN: `:${Math.floor(MAX / 3) + 1}\r\n` }))

    expect(await cache.readUser(USER)).toEqual({ kind: 'tooLarge', type: 'stream', size: { members: Math.floor(MAX / 3) + 1 }, maxBytes: MAX })
    expect(afterHandshake(stub)).toEqual(['TYPE', 'XLEN'])
  })

  it('when a hash has few fields but more bytes than the bound, then its fields and bytes (MEMORY USAGE with every member counted), and HGETALL is never sent', async () => {
    const { cache, stub } = await boundedCacheOver(replying({ TYPE: '+hash\r\n', HLEN: ':3\r\n', MEMORY: ':5000000\r\n' }))

    expect(await cache.readUser(USER)).toEqual({ kind: 'tooLarge', type: 'hash', size: { members: 3, bytes: 5_000_000 }, maxBytes: MAX })
    expect(afterHandshake(stub)).toEqual(['TYPE', 'HLEN', 'MEMORY'])
    expect(stub.commands.find(([name]) => name === 'MEMORY')).toEqual(['MEMORY', 'USAGE', `user:${USER}`, 'SAMPLES', '0'])
  })

  it('when Redis does not know MEMORY USAGE (before 4.0), then the count alone bounds the read, and a set within it is read', async () => {
    const { cache } = await boundedCacheOver(replying({ TYPE: '+set\r\n', SCARD: ':1\r\n', MEMORY: "-ERR unknown command 'MEMORY'\r\n", SMEMBERS: '*1\r\n$1\r\nb\r\n' }))

    expect(await cache.readUser(USER)).toEqual({ kind: 'other', type: 'set', value: ['b'] })
  })

  it('when STRLEN is never answered, then reading fails as redis unavailable within REDIS_TIMEOUT_MS, never a hang', async () => {
    const { cache } = await boundedCacheOver(replying({ TYPE: '+string\r\n' }))

    const result = await settle(cache.readUser(USER))

    expectRedisUnavailable(result)
    expect(result.ms).toBeLessThan(TIMEOUT_MS * 8)
  })
})

describe('RedisUserCache.hasUser: whether the key is there, without sizing or reading it', () => {
  for (const [reply, exists] of [
    [':1\r\n', true],
    [':0\r\n', false],
  ] as const) {
    it(`when EXISTS answers ${reply.trim()}, then ${exists}, and EXISTS is the only command sent`, async () => {
      const { cache, stub } = await cacheOver(replying({ EXISTS: reply }))

      expect(await cache.hasUser(USER)).toBe(exists)
      expect(stub.commands.filter(([name]) => name === 'EXISTS')).toEqual([['EXISTS', `user:${USER}`]])
      expect(afterHandshake(stub)).toEqual(['EXISTS'])
    })
  }

  it('when EXISTS is never answered, then it fails as redis unavailable within REDIS_TIMEOUT_MS', async () => {
    const { cache } = await cacheOver(handshakeOnly)

    const result = await settle(cache.hasUser(USER))

    expectRedisUnavailable(result)
    expect(result.ms).toBeLessThan(TIMEOUT_MS * 8)
  })
})

describe('nextStreamId: the exclusive start of the next XRANGE page, on a Redis before 6.2 too', () => {
  it('is the same millisecond with the next sequence, or the next millisecond once the sequence is at its largest', () => {
    expect(nextStreamId('1700000000000-0')).toBe('1700000000000-1')
    expect(nextStreamId('5-18446744073709551615')).toBe('6-0')
  })

  it('is none after the largest id there can be (no entry can follow it)', () => {
    expect(nextStreamId('18446744073709551615-18446744073709551615')).toBeUndefined()
    expect(nextStreamId('18446744073709551615-5')).toBe('18446744073709551615-6')
  })
})

/** The largest part of a stream id (milliseconds or sequence). */
const MAX_ID_PART = 18446744073709551615n
type StubEntry = { id: [bigint, bigint]; fields: string[] }
const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`

/**
 * A Redis holding `entries` (in id order) as user:<id>, a stream: TYPE, XLEN and MEMORY USAGE (`memory`)
 * answered, XRANGE paged as Redis does (start inclusive, COUNT), an id past the largest refused as
 * Redis refuses it. `served` counts the entries its XRANGE replies carried.
 */
function streamHolding(entries: StubEntry[], memory = 600): { answer: RedisAnswer; served: () => number } {
  let served = 0
  const answer: RedisAnswer = (command) => {
    const [name, , start = '-', , , count = '10'] = command
    if (name === 'TYPE') return '+stream\r\n'
    if (name === 'XLEN') return `:${entries.length}\r\n`
    if (name === 'MEMORY') return `:${memory}\r\n`
    if (name !== 'XRANGE') return handshakeOnly(command)
    let from: [bigint, bigint] = [0n, 0n]
    if (start !== '-') {
      const [ms = '0', seq = '0'] = start.split('-')
      from = [BigInt(ms), BigInt(seq)]
      if (from[0] > MAX_ID_PART || from[1] > MAX_ID_PART) return '-ERR Invalid stream ID specified as stream command argument\r\n'
    }
    const page = entries.filter(({ id }) => id[0] > from[0] || (id[0] === from[0] && id[1] >= from[1])).slice(0, Number(count))
    served += page.length
    return `*${page.length}\r\n${page.map(({ id, fields }) => `*2\r\n${bulk(`${id[0]}-${id[1]}`)}*${fields.length}\r\n${fields.map(bulk).join('')}`).join('')}`
  }
  return { answer, served: () => served }
}

describe('RedisUserCache: a stream read page by page (XRANGE), bounded as it goes', () => {
  const MAX = 1024

  it("when a small stream is held in Redis's 4 KiB block (MEMORY USAGE 4752, over the bound), then its entries are read, not named too large", async () => {
    const { answer } = streamHolding([{ id: [1n, 0n], fields: ['event', 'login'] }], 4752)
    const { connection } = await cacheOver(answer)

    expect(await new RedisUserCache(connection, MAX).readUser(USER)).toEqual({ kind: 'other', type: 'stream', value: [{ id: '1-0', fields: [['event', 'login']] }] })
  })

  it('when MEMORY USAGE is over the bound, under twice it and 8 KiB, and the entries are over it, then tooLarge with the entry count the read reached, no bytes', async () => {
    const { answer } = streamHolding([{ id: [1n, 0n], fields: ['note', 'y'.repeat(MAX)] }], streamMemoryCeiling(MAX))
    const { connection } = await cacheOver(answer)

    expect(await new RedisUserCache(connection, MAX).readUser(USER)).toEqual({ kind: 'tooLarge', type: 'stream', size: { members: 1 }, maxBytes: MAX })
  })

  it('when Redis holds more than twice the bound and 8 KiB for the stream (its entries few and huge), then tooLarge with its entries and bytes, no XRANGE sent', async () => {
    const memory = streamMemoryCeiling(MAX) + 1
    const { answer } = streamHolding([{ id: [1n, 0n], fields: ['note', 'y'.repeat(memory)] }], memory)
    const { connection, stub } = await cacheOver(answer)

    expect(await new RedisUserCache(connection, MAX).readUser(USER)).toEqual({ kind: 'tooLarge', type: 'stream', size: { members: 1, bytes: memory }, maxBytes: MAX })
    expect(afterHandshake(stub)).toEqual(['TYPE', 'XLEN', 'MEMORY'])
  })

  it('when the last entry of a full page has the largest id there can be, then the read is complete: its entries, no further XRANGE (Redis would refuse the id after it)', async () => {
    const entries: StubEntry[] = Array.from({ length: 10 }, (_, i) => ({ id: [MAX_ID_PART, MAX_ID_PART - 9n + BigInt(i)], fields: ['a', String(i)] }))
    const { answer } = streamHolding(entries)
    const { cache, stub } = await cacheOver(answer)

    const read = await cache.readUser(USER)

    expect(read).toMatchObject({ kind: 'other', type: 'stream' })
    expect(read?.kind === 'other' && read.value).toEqual(entries.map(({ id, fields }) => ({ id: `${id[0]}-${id[1]}`, fields: [fields] })))
    expect(afterHandshake(stub).filter((name) => name === 'XRANGE')).toHaveLength(1)
  })

  it('when the entries hold only empty names and values (their ids short), then each still counts what an export adds to it: more than the bound is tooLarge, not read whole', async () => {
    const emptyPairs = Array.from({ length: 20 }, () => '')
    const entries: StubEntry[] = Array.from({ length: 200 }, (_, i) => ({ id: [BigInt(i + 1), 0n], fields: emptyPairs }))
    const exported = JSON.stringify(entries.map(({ id }) => ({ id: `${id[0]}-${id[1]}`, fields: Array.from({ length: 10 }, () => ['', '']) })))
    expect(Buffer.byteLength(exported)).toBeGreaterThan(MAX * 10)
    const { answer } = streamHolding(entries)
    const { connection } = await cacheOver(answer)

    expect(await new RedisUserCache(connection, MAX).readUser(USER)).toEqual({ kind: 'tooLarge', type: 'stream', size: { members: 200 }, maxBytes: MAX })
  })

  it('when a stream of small entries is over the bound, then its pages never bring in more entries than could fit at their least size (20 bytes past id, names and values), plus one', async () => {
    const entries: StubEntry[] = Array.from({ length: 300 }, (_, i) => ({ id: [BigInt(i + 1), 0n], fields: ['a', ''] }))
    const { answer, served } = streamHolding(entries)
    const { connection } = await cacheOver(answer)

    expect(await new RedisUserCache(connection, MAX).readUser(USER)).toEqual({ kind: 'tooLarge', type: 'stream', size: { members: 300 }, maxBytes: MAX })
    expect(served()).toBeLessThanOrEqual(Math.ceil(MAX / 20) + 1)
  })
})
