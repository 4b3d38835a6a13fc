import { ErrorReply } from '@redis/client'
import { DependencyUnavailableError, WordedCause } from '../deletion/errors.js'
import type { CachedUser, CachedValueSize, JsonValue, UserCache } from '../deletion/ports.js'
import { type RedisClient, type RedisConnection, replyCode } from './redis-client.js'

/** Sunbird's user cache key (Lern's user-cache-updater and user-deletion-cleanup use the same prefix). */
export const userCacheKey = (userId: string) => `user:${userId}`

/**
 * The one error reply about the call itself: the key holds another type than the command reads
 * (rewritten between TYPE and its read: readUser reads it afresh). Every other error reply leaves
 * the step owed, as an outage does: Redis still loading, busy, read-only after a failover, refusing
 * writes (MISCONF, OOM), the credentials or the ACL user refused, or a proxy in front of it
 * (twemproxy, Codis) answering `ERR` for a backend that is down. A deletion must never stop half-way
 * on the cache, a copy.
 */
const CALL_ERRORS = new Set(['WRONGTYPE'])

/** An error reply that is about the call, not Redis's state: it goes up as it is. */
function isCallError(err: unknown): boolean {
  const code = replyCode(err)
  return code !== undefined && CALL_ERRORS.has(code)
}

/**
 * Whether an error reply to UNLINK says this server will never run it, so DEL must: a Redis before
 * 4.0 or a proxy that does not know it (`unknown command 'unlink'`, `unsupported command`…), or an
 * ACL user granted DEL but not UNLINK (NOPERM naming the command, not a key). Only these are
 * remembered: another ERR or NOPERM gets DEL for that call only (see deleteUser), and an outage
 * (LOADING, a timeout…) leaves the step owed, as for any command.
 */
function refusesUnlink(err: unknown): boolean {
  if (!(err instanceof ErrorReply)) return false
  const text = err.message.toLowerCase()
  if (!text.includes('unlink')) return false
  if (replyCode(err) === 'NOPERM') return text.includes("'unlink' command")
  return /unknown command|unsupported command|not supported/.test(text)
}

/** REDIS_MAX_VALUE_BYTES's default (config/default.json), for a cache built without configuration (tests, tools). */
export const DEFAULT_MAX_VALUE_BYTES = 1_048_576

/** Every member takes at least three bytes of an export (its quotes and a comma): more than a third of the bound in members cannot fit. */
const MIN_BYTES_PER_MEMBER = 3
/**
 * Past its id, names and values (each a member), a stream entry takes at least 20 bytes of an export
 * (`{"id":"","fields":[]},` less its id's quotes): an entry of empty names and values is not free.
 */
const MIN_BYTES_PER_STREAM_ENTRY = 20

/** The constant-time count of each aggregate type this adapter reads (a stream's entries: XLEN); a module's type is not read, so not measured. */
const MEMBER_COUNTS: Record<string, { name: string; count: (client: RedisClient, key: string) => Promise<number> }> = {
  hash: { name: 'HLEN', count: (client, key) => client.hLen(key) },
  list: { name: 'LLEN', count: (client, key) => client.lLen(key) },
  set: { name: 'SCARD', count: (client, key) => client.sCard(key) },
  zset: { name: 'ZCARD', count: (client, key) => client.zCard(key) },
  stream: { name: 'XLEN', count: (client, key) => client.xLen(key) },
}

/**
 * The most memory Redis holds for a stream whose export is within `maxBytes` (twice it and 8 KiB):
 * about a quarter more than its entries (the allocator rounds a block up), plus the 4 KiB block a
 * new stream is given (a one-entry stream's MEMORY USAGE is about 4.7 KB). Only MEMORY USAGE past it
 * names a stream too large unread: its entries are few and huge, and one XRANGE page would bring
 * them whole. Under it the paged read decides (streamEntries), as MEMORY USAGE says little of a
 * stream's export. (Entries deleted but left in their block, and consumer groups, add to it too.)
 */
export function streamMemoryCeiling(maxBytes: number): number {
  return 2 * maxBytes + 8192
}

/** How many entries the first page of a stream asks for; later pages are sized from the bytes still allowed (nextPageCount). */
const FIRST_STREAM_PAGE = 10
/** The most entries one page asks for, however small they have been. */
const MAX_STREAM_PAGE = 1000

/** The largest part of a stream id (milliseconds, or sequence): an unsigned 64-bit number. */
const MAX_STREAM_ID_PART = 0xffff_ffff_ffff_ffffn

/**
 * The id just after `id` (its sequence plus one): an exclusive start every Redis with streams takes,
 * where `(id` needs 6.2. Undefined after the largest id there can be: no entry can follow it (and
 * Redis refuses a larger id as invalid).
 */
export function nextStreamId(id: string): string | undefined {
  const [ms = '0', seq = '0'] = id.split('-')
  const next = BigInt(seq) + 1n
  if (next <= MAX_STREAM_ID_PART) return `${ms}-${next}`
  const nextMs = BigInt(ms) + 1n
  return nextMs > MAX_STREAM_ID_PART ? undefined : `${nextMs}-0`
}

/**
 * How many entries the next page asks for: as many as could still fit at the size of the largest
 * entry read so far (never below an entry's least size), at least one, at most MAX_STREAM_PAGE. So
 * entries like those read cross the bound by one entry at most, and no page asks for more entries
 * than could fit even at their least size. Only entries larger than any read take the read further
 * past the bound (as far as streamMemoryCeiling lets a stream be read): one page at most, since it
 * stops there.
 */
function nextPageCount(bytesLeft: number, largestEntry: number): number {
  return Math.min(MAX_STREAM_PAGE, Math.max(1, Math.ceil(bytesLeft / Math.max(MIN_BYTES_PER_STREAM_ENTRY, largestEntry))))
}

/** The bytes an entry counts toward the bound: its id, names and values, and the least an export adds to each. */
function streamEntryBytes(id: string, fields: readonly [string, string][]): number {
  let bytes = MIN_BYTES_PER_STREAM_ENTRY + Buffer.byteLength(id)
  for (const [name, value] of fields) bytes += 2 * MIN_BYTES_PER_MEMBER + Buffer.byteLength(name) + Buffer.byteLength(value)
  return bytes
}

type RawStreamEntry = [id: string, fieldsAndValues: string[]]

/**
 * A stream's entries in order, each its id and its fields as the ordered [name, value] pairs held:
 * a name may repeat in one entry (or be `__proto__`), so they are read raw (sendCommand), not as
 * node-redis's object, which would keep only the last. Read page by page (XRANGE from just after
 * the last id, COUNT), their bytes (ids, names, values, and the least an export adds to each:
 * streamEntryBytes) summed as they come: MEMORY USAGE counts a field name once per block where every
 * entry repeats it and a small stream's 4 KiB block whole, and the stream may grow after it was
 * sized. Pages are read until the bound is crossed (see nextPageCount for how far one page can go
 * past it); then the entries read so far are dropped and their count (or XLEN's, if larger)
 * answered: a stream's size, its bytes not given.
 */
async function streamEntries(readPage: (start: string, count: number) => Promise<RawStreamEntry[]>, maxBytes: number, members: number): Promise<{ entries: JsonValue[] } | { tooLarge: number }> {
  const entries: JsonValue[] = []
  let bytes = 0
  let largestEntry = 0
  let start = '-'
  let count = FIRST_STREAM_PAGE
  for (;;) {
    const page = await readPage(start, count)
    for (const [id, fieldsAndValues] of page) {
      const fields: [string, string][] = []
      for (let i = 0; i + 1 < fieldsAndValues.length; i += 2) fields.push([fieldsAndValues[i] ?? '', fieldsAndValues[i + 1] ?? ''])
      const entryBytes = streamEntryBytes(id, fields)
      bytes += entryBytes
      if (bytes > maxBytes) return { tooLarge: Math.max(members, entries.length + 1) }
      largestEntry = Math.max(largestEntry, entryBytes)
      entries.push({ id, fields })
    }
    const last = page.at(-1)
    const after = last && page.length >= count ? nextStreamId(last[0]) : undefined
    if (after === undefined) return { entries }
    start = after
    count = nextPageCount(maxBytes - bytes, largestEntry)
  }
}

/**
 * The user hash in Sunbird's cache DB (12). Redis out of reach, or answering an error reply other
 * than WRONGTYPE (see CALL_ERRORS), is a dependency down: the step is owed. That includes a Redis that takes
 * the command and never answers: each command is bounded by REDIS_TIMEOUT_MS
 * (RedisConnection.command). The cause kept for the log is worded by this service (the timeout,
 * the refusal of the credentials, the reply's code), never Redis's own text.
 *
 * A read is bounded by `maxValueBytes` (REDIS_MAX_VALUE_BYTES): the key's size is asked first (see
 * sizeOf: no command whose cost grows past the bound), and a key over the bound is answered by its
 * type and size, never pulled into this process (nor into an export); a stream, whose export
 * MEMORY USAGE only estimates, is refused by it only far past the bound (streamMemoryCeiling), else
 * read until the bound is crossed, a page past it at most (streamEntries), what was read dropped
 * and its entries named. A deletion removes it all the same, with UNLINK (see deleteUser).
 */
export class RedisUserCache implements UserCache {
  /** Set once the server refused UNLINK (refusesUnlink): this connection's deletions use DEL from then on, without asking again. */
  private unlinkRefused = false

  constructor(
    private readonly connection: RedisConnection,
    private readonly maxValueBytes: number = DEFAULT_MAX_VALUE_BYTES,
  ) {}

  private async run<T>(name: string, call: (client: RedisClient) => Promise<T>): Promise<T> {
    try {
      return await this.connection.command(name, call)
    } catch (err) {
      if (isCallError(err)) throw err
      const code = replyCode(err)
      const cause = err instanceof WordedCause ? err : code ? new WordedCause(`redis answered ${code} to ${name}`) : err
      throw new DependencyUnavailableError('redis', { cause })
    }
  }

  /**
   * The hash, or, when the key holds another type (written by something else than Sunbird's jobs),
   * what it holds, read by its type: an export shows everything held about the person, and a
   * deletion removes that key too (UNLINK, as DEL, removes any type). Either only within the bound (see the class).
   */
  async readUser(userId: string): Promise<CachedUser | undefined> {
    const key = userCacheKey(userId)
    try {
      return await this.readWithinBound(key)
    } catch (err) {
      // The key was written again with another type between TYPE and its read: read it afresh, once.
      if (replyCode(err) !== 'WRONGTYPE') throw err
    }
    try {
      return await this.readWithinBound(key)
    } catch (err) {
      // Rewritten under the read again: the key is still being written, so the read is owed (503), as on an outage.
      if (replyCode(err) !== 'WRONGTYPE') throw err
      throw new DependencyUnavailableError('redis', { cause: new WordedCause('redis answered WRONGTYPE to the read of user:<id> twice') })
    }
  }

  /** Whether `user:<id>` is there (EXISTS): what a dry run and a verification ask, without sizing or reading the value. */
  async hasUser(userId: string): Promise<boolean> {
    return (await this.run('EXISTS', (client) => client.exists(userCacheKey(userId)))) > 0
  }

  /** TYPE, the size, then the read that returns the value whole (a stream's page by page, see streamEntries); undefined when the key is not there (or went meanwhile). */
  private async readWithinBound(key: string): Promise<CachedUser | undefined> {
    const type = await this.run('TYPE', (client) => client.type(key))
    if (type === 'none') return undefined
    const size = await this.sizeOf(key, type)
    if (size && this.isOverBound(size, type)) return { kind: 'tooLarge', type, size, maxBytes: this.maxValueBytes }
    if (type === 'hash') {
      const hash = await this.run('HGETALL', (client) => client.hGetAll(key))
      return Object.keys(hash).length > 0 ? { kind: 'hash', fields: { ...hash } } : undefined
    }
    if (type === 'stream') {
      const read = await streamEntries(
        // Each page its own command, so each is bounded by REDIS_TIMEOUT_MS; raw (node-redis's RESP2 array), not mapped to objects.
        (start, count) => this.run('XRANGE', async (client) => (await client.sendCommand(['XRANGE', key, start, '+', 'COUNT', String(count)])) as unknown as RawStreamEntry[]),
        this.maxValueBytes,
        size?.members ?? 0,
      )
      if ('tooLarge' in read) return { kind: 'tooLarge', type, size: { members: read.tooLarge }, maxBytes: this.maxValueBytes }
      return { kind: 'other', type, value: read.entries }
    }
    const value: JsonValue | undefined = await this.run(`read of a ${type}`, async (client): Promise<JsonValue | undefined> => {
      if (type === 'string') return (await client.get(key)) ?? undefined
      if (type === 'list') return client.lRange(key, 0, -1)
      if (type === 'set') return client.sMembers(key)
      if (type === 'zset') return (await client.zRangeWithScores(key, 0, -1)).map(({ value, score }) => ({ member: value, score }))
      // A module's type (ReJSON-RL, a Bloom filter…): its reads are the module's own, so it is named by its type, its value not read.
      return null
    })
    return value === undefined ? undefined : { kind: 'other', type, value }
  }

  /**
   * The key's size before it is read: a string's length (STRLEN); an aggregate's members (its
   * count command), then, when they could fit, its bytes (MEMORY USAGE, every member counted, so
   * one huge member is not missed; only once the count is within the bound, so its walk is too).
   * Undefined for a type that is not read. For a stream both only refuse early (its MEMORY USAGE only
   * past streamMemoryCeiling): its read is bounded as it goes (streamEntries).
   */
  private async sizeOf(key: string, type: string): Promise<CachedValueSize | undefined> {
    if (type === 'string') return { bytes: await this.run('STRLEN', (client) => client.strLen(key)) }
    const counter = MEMBER_COUNTS[type]
    if (!counter) return undefined
    const members = await this.run(counter.name, (client) => counter.count(client, key))
    if (members * MIN_BYTES_PER_MEMBER > this.maxValueBytes) return { members }
    const bytes = await this.memoryUsage(key)
    return bytes === undefined ? { members } : { members, bytes }
  }

  /** MEMORY USAGE with every member sampled; undefined when Redis will not say (then the count alone bounds the read). */
  private memoryUsage(key: string): Promise<number | undefined> {
    return this.run('MEMORY USAGE', async (client) => {
      try {
        return (await client.memoryUsage(key, { SAMPLES: 0 })) ?? undefined
      } catch (err) {
        // Redis before 4.0 has no MEMORY, a proxy may not pass it on, an ACL user may not be granted it.
        if (err instanceof ErrorReply) return undefined
        throw err
      }
    })
  }

  private isOverBound(size: CachedValueSize, type: string): boolean {
    const maxBytes = type === 'stream' ? streamMemoryCeiling(this.maxValueBytes) : this.maxValueBytes
    return (size.bytes ?? 0) > maxBytes || (size.members ?? 0) * MIN_BYTES_PER_MEMBER > this.maxValueBytes
  }

  /**
   * Removes the key with UNLINK: Redis takes it out of the keyspace at once and frees its memory in
   * the background, where DEL frees it before answering, blocking the Redis every Sunbird service
   * shares for as long as a huge key takes. Both answer the number of keys removed. A server that
   * refuses UNLINK (refusesUnlink) gets DEL, then and for every later deletion on this connection.
   * Any other ERR or NOPERM reply to UNLINK may be a refusal worded otherwise (a proxy's
   * `command 'UNLINK' is not allowed`): DEL is tried for that call only, so a backend truly down
   * (or a key the ACL user may not touch) fails DEL too and leaves the step owed, as an outage.
   */
  async deleteUser(userId: string): Promise<number> {
    const key = userCacheKey(userId)
    if (!this.unlinkRefused) {
      const unlinked = await this.run('UNLINK', async (client): Promise<number | 'refused' | 'mayBeRefused'> => {
        try {
          return await client.unlink(key)
        } catch (err) {
          if (refusesUnlink(err)) return 'refused'
          if (mayRefuseUnlink(err)) return 'mayBeRefused'
          throw err
        }
      })
      if (typeof unlinked === 'number') return unlinked
      if (unlinked === 'refused') this.unlinkRefused = true
    }
    return this.run('DEL', (client) => client.del(key))
  }
}

/** An ERR or NOPERM reply to UNLINK that refusesUnlink does not recognise: maybe a refusal worded otherwise, maybe an outage; DEL tells which. */
function mayRefuseUnlink(err: unknown): boolean {
  if (!(err instanceof ErrorReply)) return false
  const code = replyCode(err)
  return code === 'ERR' || code === 'NOPERM'
}
