import { createHash, randomUUID } from 'node:crypto'
import type { Client } from 'cassandra-driver'
import type { AuditRecord, AuditTrail } from '../deletion/ports.js'
import { IDEMPOTENT, runCassandra, writeTogether } from './cassandra-call.js'

/** The chain every record went to before chains were per instance (schema ≤ 5); still verified. */
export const LEGACY_CHAIN = 'user-deletion'
export const GENESIS = '0'.repeat(64)
/** A chain is closed and a new one started after this many records, so no partition grows without bound. */
const MAX_RECORDS_PER_CHAIN = 50_000
/** Most queued records written in one (single-partition, atomic) batch. */
const MAX_BATCH = 64

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
 * Checks one chain: sequence numbers 1, 2, 3… without a gap, each hash following from the previous
 * one, and every anchor naming a record that is there with that hash (so the chain's end was not cut
 * off below an anchored head). The one verification rule, shared by the adapter and its fake.
 */
export function verifyChain(links: Iterable<ChainLink>, anchors: readonly ChainAnchor[]): { ok: boolean; records: number; brokenAt?: number } {
  const anchored = new Map(anchors.filter((anchor) => anchor.seq > 0).map((anchor) => [anchor.seq, anchor.hash]))
  let prev = GENESIS
  let expectedSeq = 1
  let records = 0
  for (const link of links) {
    const ok = link.seq === expectedSeq && link.prevHash === prev && link.hash === chainHash(prev, link.seq, link.text)
    const anchorHash = anchored.get(link.seq)
    if (!ok || (anchorHash !== undefined && anchorHash !== link.hash)) return { ok: false, records, brokenAt: link.seq }
    prev = link.hash
    expectedSeq++
    records++
  }
  // An anchor past the last record: the chain's end was cut off.
  if ([...anchored.keys()].some((seq) => seq >= expectedSeq)) return { ok: false, records, brokenAt: expectedSeq }
  return { ok: true, records }
}

interface Pending {
  record: AuditRecord
  resolve(): void
  reject(err: unknown): void
}

/**
 * user_deletion_audit: append-only hash chains, one per running instance (a chain id per process
 * start, a fresh one after MAX_RECORDS_PER_CHAIN records or any failed write). The previous hash
 * and sequence number live in memory, so an append is one plain write: no read, no lightweight
 * transaction, and no partition that the instances of a deployment take turns on. Appends of this
 * process go out in order; those queued while a write is in flight go together in the next one, as
 * a single-partition batch (atomic, so a chain never has a gap). Every `anchorIntervalMs`, the head
 * written so far is recorded in user_deletion_audit_anchor: verification then proves no record up
 * to that head was removed from the chain's end.
 */
export class CassandraAuditTrail implements AuditTrail {
  private readonly cql: Record<'insert' | 'anchor' | 'chains' | 'anchoredChains' | 'links' | 'anchors', string>
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
    options: { anchorIntervalMs?: number } = {},
  ) {
    const t = `${keyspace}.user_deletion_audit`
    const a = `${keyspace}.user_deletion_audit_anchor`
    this.cql = {
      insert: `INSERT INTO ${t} (chain, seq, at, record, prevhash, hash) VALUES (?, ?, ?, ?, ?, ?)`,
      anchor: `INSERT INTO ${a} (chain, seq, hash, at) VALUES (?, ?, ?, ?)`,
      chains: `SELECT DISTINCT chain FROM ${t}`,
      anchoredChains: `SELECT DISTINCT chain FROM ${a}`,
      links: `SELECT seq, record, prevhash, hash FROM ${t} WHERE chain = ?`,
      anchors: `SELECT seq, hash FROM ${a} WHERE chain = ?`,
    }
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
      this.queue.push({ record, resolve, reject })
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
          for (const p of batch) p.reject(err)
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

  /**
   * Walks every chain (the per-instance ones and the legacy single chain) in order, recomputes
   * every hash and checks each chain against its anchors; or only the chains named, to look at one
   * instance's records (a chain never named by a record or an anchor is an empty chain). Anchors
   * are read before records, so an anchor written meanwhile cannot name a record the walk did not see.
   */
  async verify(scope: { chains?: readonly string[] } = {}): Promise<ChainVerdict> {
    const chainNames = new Set<string>(scope.chains)
    if (!scope.chains) {
      for (const query of [this.cql.anchoredChains, this.cql.chains]) {
        const result = await runCassandra(this.client, (client) => client.execute(query, [], { ...IDEMPOTENT, fetchSize: 1000 }))
        for await (const row of result) chainNames.add(row.get('chain') as string)
      }
    }
    let records = 0
    for (const chain of [...chainNames].sort()) {
      const anchors = (await runCassandra(this.client, (client) => client.execute(this.cql.anchors, [chain], IDEMPOTENT))).rows.map((row) => ({
        seq: Number(row.get('seq')),
        hash: row.get('hash') as string,
      }))
      const result = await runCassandra(this.client, (client) => client.execute(this.cql.links, [chain], { ...IDEMPOTENT, fetchSize: 1000 }))
      const links: ChainLink[] = []
      for await (const row of result) links.push({ seq: Number(row.get('seq')), text: row.get('record') as string, prevHash: row.get('prevhash') as string, hash: row.get('hash') as string })
      const verdict = verifyChain(links, anchors)
      records += verdict.records
      if (!verdict.ok) return { ok: false, records, chains: chainNames.size, chain, ...(verdict.brokenAt !== undefined && { brokenAt: verdict.brokenAt }) }
    }
    return { ok: true, records, chains: chainNames.size }
  }
}
