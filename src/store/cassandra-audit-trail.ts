import { createHash, randomUUID } from 'node:crypto'
import type { Client, types } from 'cassandra-driver'
import { DependencyUnavailableError } from '../deletion/errors.js'
import type { AuditRecord, AuditTrail } from '../deletion/ports.js'
import { IDEMPOTENT, runCassandra, writeTogether } from './cassandra-call.js'

/** The chain every record went to before chains were per instance (schema ≤ 5); still verified. */
export const LEGACY_CHAIN = 'user-deletion'
export const GENESIS = '0'.repeat(64)
/** A chain is closed and a new one started after this many records, so no partition grows without bound. */
const MAX_RECORDS_PER_CHAIN = 50_000
/** Most queued records written in one (single-partition, atomic) batch. */
const MAX_BATCH = 64
/**
 * Writes of one record before its append fails. A write whose outcome is unknown (Cassandra did not
 * answer) starts a new chain, and its records go again, first, to that chain: each record is written
 * at least once within this bound, and an outage holds no record for longer than these writes take.
 */
export const WRITE_ATTEMPTS = 3
/** The pause before the second and the third write of a batch. */
const RETRY_PAUSE_MS = [100, 400] as const
/** Rows asked for per request when verifying: the walk holds one page of records and one of anchors. */
const PAGE_SIZE = 1000

/** sha256 over the previous hash and the record's exact text: change either and every later hash breaks. */
export function chainHash(prevHash: string, seq: number, recordText: string): string {
  return createHash('sha256').update(`${prevHash}\n${seq}\n${recordText}`).digest('hex')
}

export interface ChainVerdict {
  ok: boolean
  /** Records walked (over every chain). */
  records: number
  /** Chains walked. */
  chains?: number
  /** The chain that failed. */
  chain?: string
  /** The first sequence number whose hash does not follow from its predecessor, or that an anchor names but is missing or differs. */
  brokenAt?: number
  /** Of the chains named, how many have neither a record nor an anchor (a mistyped id, most likely); absent when none. */
  unknown?: number
  /**
   * Each chain's head as walked (its last record's sequence number and hash), when every chain is
   * intact: kept outside the cluster and given to a later walk as `pinned`, they catch a chain
   * rewritten with its hashes and anchors recomputed, or removed whole, which anchors kept in the
   * same keyspace cannot.
   */
  heads?: Record<string, ChainAnchor>
}

/** One link of a chain as stored. */
export interface ChainLink {
  seq: number
  text: string
  prevHash: string
  hash: string
}

/** An anchor: a chain's head (sequence number and hash) as recorded at some moment. */
export interface ChainAnchor {
  seq: number
  hash: string
}

/**
 * Checks one chain as its rows come: sequence numbers 1, 2, 3… without a gap, each hash following
 * from the previous one, and every anchor naming a record that is there with that hash (so the
 * chain's end was not cut off below an anchored head). Links and anchors come in ascending order of
 * seq (the tables' clustering order) and each is looked at once, as it comes: a caller that reads
 * them page by page holds a page of each, whatever the chain's length. The one verification rule,
 * shared by the adapter and its fake.
 */
export async function verifyChain(
  links: Iterable<ChainLink> | AsyncIterable<ChainLink>,
  anchors: Iterable<ChainAnchor> | AsyncIterable<ChainAnchor>,
  pinned?: ChainAnchor,
): Promise<{ ok: boolean; records: number; brokenAt?: number; head?: ChainAnchor }> {
  const stored = pinned ? withPinned(anchors, pinned) : anchors
  const anchorsIn: Iterator<ChainAnchor> | AsyncIterator<ChainAnchor> = Symbol.asyncIterator in stored ? stored[Symbol.asyncIterator]() : stored[Symbol.iterator]()
  const nextAnchor = async (): Promise<ChainAnchor | undefined> => {
    for (;;) {
      const step = await anchorsIn.next()
      if (step.done) return undefined
      if (step.value.seq > 0) return step.value
    }
  }
  try {
    let anchor = await nextAnchor()
    let prev = GENESIS
    let expectedSeq = 1
    let records = 0
    let head: ChainAnchor | undefined
    for await (const link of links) {
      if (link.seq !== expectedSeq || link.prevHash !== prev || link.hash !== chainHash(prev, link.seq, link.text)) return { ok: false, records, brokenAt: link.seq }
      for (; anchor && anchor.seq <= link.seq; anchor = await nextAnchor()) {
        // An anchor below this link was met at its own link already, unless the anchors came out of order.
        if (anchor.seq < link.seq) throw new Error('verifyChain: anchors must come in ascending order of seq')
        if (anchor.hash !== link.hash) return { ok: false, records, brokenAt: link.seq }
      }
      prev = link.hash
      expectedSeq++
      records++
      head = { seq: link.seq, hash: link.hash }
    }
    // An anchor past the last record: the chain's end was cut off.
    if (anchor) return { ok: false, records, brokenAt: expectedSeq }
    return { ok: true, records, ...(head && { head }) }
  } finally {
    await anchorsIn.return?.()
  }
}

/** The stored anchors in their order, with a head kept outside the cluster (`pinned`) in its place among them. */
async function* withPinned(anchors: Iterable<ChainAnchor> | AsyncIterable<ChainAnchor>, pinned: ChainAnchor): AsyncGenerator<ChainAnchor> {
  let placed = false
  for await (const anchor of anchors) {
    if (!placed && pinned.seq <= anchor.seq) {
      placed = true
      yield pinned
    }
    yield anchor
  }
  if (!placed) yield pinned
}

/**
 * Reads the audit chains back and verifies them, with no more than a page of rows in memory: every
 * query is paged (`fetchSize` rows a request, the next page asked for with the page state, each page
 * a request of its own), and each chain is checked as its rows arrive. Needs nothing but the client:
 * `npm run audit:verify` builds it alone.
 */
export class CassandraAuditReader {
  private readonly cql: Record<'chains' | 'anchoredChains' | 'links' | 'newestAnchor' | 'anchors', string>
  private readonly fetchSize: number

  constructor(
    private readonly client: Client,
    keyspace: string,
    options: { fetchSize?: number } = {},
  ) {
    const t = `${keyspace}.user_deletion_audit`
    const a = `${keyspace}.user_deletion_audit_anchor`
    this.cql = {
      chains: `SELECT DISTINCT chain FROM ${t}`,
      anchoredChains: `SELECT DISTINCT chain FROM ${a}`,
      links: `SELECT seq, record, prevhash, hash FROM ${t} WHERE chain = ?`,
      newestAnchor: `SELECT seq FROM ${a} WHERE chain = ? ORDER BY seq DESC LIMIT 1`,
      anchors: `SELECT seq, hash FROM ${a} WHERE chain = ? AND seq <= ?`,
    }
    this.fetchSize = options.fetchSize ?? PAGE_SIZE
  }

  /**
   * Walks every chain (the per-instance ones and the legacy single chain) in order, recomputes
   * every hash and checks each chain against its anchors; or only the chains named, to look at one
   * instance's records (a chain named that no record or anchor names is counted `unknown`). A chain's
   * newest anchor is read before its records, and only the anchors up to it are checked: one written
   * while the walk goes on is past it (a chain's head only grows) and may name a record the walk did not see.
   * `pinned`: the heads an earlier walk answered (ChainVerdict.heads), kept outside the cluster: each
   * must still be in its chain with the same hash, and a chain they name is walked even when nothing
   * in the keyspace names it any more (removed whole).
   * `observe`: shown every link as it is read (its chain's own order), so a caller that looks for
   * some records (a receipt's digest) needs no walk of its own.
   */
  async verify(scope: { chains?: readonly string[]; pinned?: Readonly<Record<string, ChainAnchor>>; observe?: (chain: string, link: ChainLink) => void } = {}): Promise<ChainVerdict> {
    const chainNames = new Set<string>(scope.chains)
    if (!scope.chains) {
      for (const query of [this.cql.anchoredChains, this.cql.chains]) {
        for await (const row of this.rows(query, [])) chainNames.add(row.get('chain') as string)
      }
      for (const chain of Object.keys(scope.pinned ?? {})) chainNames.add(chain)
    }
    let records = 0
    let unknown = 0
    const heads: Record<string, ChainAnchor> = {}
    for (const chain of [...chainNames].sort()) {
      const newest = (await runCassandra(this.client, (client) => client.execute(this.cql.newestAnchor, [chain], IDEMPOTENT))).rows?.[0]
      const pinned = scope.pinned && Object.hasOwn(scope.pinned, chain) ? scope.pinned[chain] : undefined
      const verdict = await verifyChain(this.linksOf(chain, scope.observe), newest ? this.anchorsOf(chain, newest.get('seq')) : [], pinned)
      records += verdict.records
      if (!verdict.ok) return { ok: false, records, chains: chainNames.size, chain, ...(verdict.brokenAt !== undefined && { brokenAt: verdict.brokenAt }) }
      if (verdict.records === 0 && !newest) unknown++
      if (verdict.head) heads[chain] = verdict.head
    }
    return { ok: true, records, chains: chainNames.size, ...(unknown > 0 && { unknown }), heads }
  }

  private async *linksOf(chain: string, observe?: (chain: string, link: ChainLink) => void): AsyncGenerator<ChainLink> {
    for await (const row of this.rows(this.cql.links, [chain])) {
      const link = { seq: Number(row.get('seq')), text: row.get('record') as string, prevHash: row.get('prevhash') as string, hash: row.get('hash') as string }
      observe?.(chain, link)
      yield link
    }
  }

  private async *anchorsOf(chain: string, upToSeq: unknown): AsyncGenerator<ChainAnchor> {
    for await (const row of this.rows(this.cql.anchors, [chain, upToSeq])) yield { seq: Number(row.get('seq')), hash: row.get('hash') as string }
  }

  /** A query's rows in order, read a page at a time. */
  private async *rows(query: string, params: unknown[]): AsyncGenerator<types.Row> {
    let pageState: string | undefined
    do {
      const options = { ...IDEMPOTENT, fetchSize: this.fetchSize, ...(pageState !== undefined && { pageState }) }
      const page = await runCassandra(this.client, (client) => client.execute(query, params, options))
      yield* page.rows ?? []
      pageState = page.pageState ?? undefined
    } while (pageState)
  }
}

interface Pending {
  record: AuditRecord
  /** Writes of this record that failed with their outcome unknown. */
  failedWrites: number
  resolve(): void
  reject(err: unknown): void
}

/**
 * user_deletion_audit: append-only hash chains, one per running instance (a chain id per process
 * start, a fresh one after MAX_RECORDS_PER_CHAIN records or any failed write). The previous hash
 * and sequence number live in memory, so an append is one plain write: no read, no lightweight
 * transaction, and no partition that the instances of a deployment take turns on. Appends of this
 * process go out in order; those queued while a write is in flight go together in the next one, as
 * a single-partition batch (atomic, so a chain never has a gap). A batch whose write failed because
 * Cassandra did not answer goes again, ahead of everything queued after it, to the new chain, up to
 * WRITE_ATTEMPTS writes in all: each record is written at least once within that bound, and one
 * that had landed after all is on two chains, the same (requestId, event) twice. Every
 * `anchorIntervalMs`, the head written so far is recorded in user_deletion_audit_anchor:
 * verification then proves no record up to that head was removed from the chain's end.
 */
export class CassandraAuditTrail implements AuditTrail {
  private readonly cql: Record<'insert' | 'anchor', string>
  private readonly reader: CassandraAuditReader
  private chain = randomUUID()
  /** The last record written to the current chain (seq 0: none yet). */
  private head: ChainAnchor = { seq: 0, hash: GENESIS }
  private anchored: ChainAnchor & { chain: string } = { chain: this.chain, seq: 0, hash: GENESIS }
  private queue: Pending[] = []
  private writing = false
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly client: Client,
    keyspace: string,
    options: { anchorIntervalMs?: number; fetchSize?: number } = {},
  ) {
    this.cql = {
      insert: `INSERT INTO ${keyspace}.user_deletion_audit (chain, seq, at, record, prevhash, hash) VALUES (?, ?, ?, ?, ?, ?)`,
      anchor: `INSERT INTO ${keyspace}.user_deletion_audit_anchor (chain, seq, hash, at) VALUES (?, ?, ?, ?)`,
    }
    this.reader = new CassandraAuditReader(client, keyspace, options.fetchSize === undefined ? {} : { fetchSize: options.fetchSize })
    if (options.anchorIntervalMs) {
      this.timer = setInterval(() => void this.anchor().catch(() => undefined), options.anchorIntervalMs)
      this.timer.unref()
    }
  }

  /** The chain this process appends to now. */
  get currentChain(): string {
    return this.chain
  }

  append(record: AuditRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, failedWrites: 0, resolve, reject })
      void this.drain()
    })
  }

  /** Records the current chain's written head, when it moved since the last anchor. */
  async anchor(): Promise<void> {
    const { chain, head } = this
    if (head.seq === 0 || (this.anchored.chain === chain && this.anchored.seq === head.seq)) return
    await runCassandra(this.client, (client) => client.execute(this.cql.anchor, [chain, head.seq, head.hash, new Date()], IDEMPOTENT))
    this.anchored = { chain, ...head }
  }

  /** Stops the anchor timer and anchors the final head (a graceful shutdown leaves nothing unanchored). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    while (this.writing || this.queue.length > 0) await new Promise((resolve) => setTimeout(resolve, 5))
    await this.anchor().catch(() => undefined)
  }

  /** Every chain, or the chains named, verified (CassandraAuditReader.verify). */
  verify(scope: { chains?: readonly string[] } = {}): Promise<ChainVerdict> {
    return this.reader.verify(scope)
  }

  private async drain(): Promise<void> {
    if (this.writing) return
    this.writing = true
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH)
        try {
          await this.write(batch.map((p) => p.record))
          for (const p of batch) p.resolve()
        } catch (err) {
          // Cassandra did not answer: a new chain has started, and the batch goes to it first, unless a
          // record has had its writes. Any other failure is no outage to wait out: the appends fail.
          const again = err instanceof DependencyUnavailableError ? batch.filter((p) => ++p.failedWrites < WRITE_ATTEMPTS) : []
          for (const p of batch) if (!again.includes(p)) p.reject(err)
          if (again.length > 0) {
            this.queue.unshift(...again)
            const failedWrites = Math.max(...again.map((p) => p.failedWrites))
            await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS[Math.min(failedWrites, RETRY_PAUSE_MS.length) - 1]))
          }
        }
      }
    } finally {
      this.writing = false
    }
  }

  /** Writes records as the next links of the current chain, in one single-partition batch. */
  private async write(records: AuditRecord[]): Promise<void> {
    if (this.head.seq + records.length > MAX_RECORDS_PER_CHAIN) await this.startNewChain()
    const chain = this.chain
    let { seq, hash } = this.head
    const rows = records.map((record) => {
      const text = JSON.stringify(record)
      const prevHash = hash
      seq++
      hash = chainHash(prevHash, seq, text)
      return [chain, seq, new Date(record.at), text, prevHash, hash]
    })
    try {
      await writeTogether(
        this.client,
        rows.map((params) => ({ query: this.cql.insert, params })),
      )
    } catch (err) {
      // The batch may or may not have landed (a timeout says neither): never write these numbers again. A new chain starts.
      await this.startNewChain(false)
      throw err
    }
    this.head = { seq, hash }
  }

  private async startNewChain(anchorOld = true): Promise<void> {
    if (anchorOld) await this.anchor().catch(() => undefined)
    this.chain = randomUUID()
    this.head = { seq: 0, hash: GENESIS }
  }
}
