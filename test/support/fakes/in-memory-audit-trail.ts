import type { AuditRecord, AuditTrail } from '../../../src/deletion/ports.js'
import { type ChainAnchor, chainHash, type ChainVerdict, GENESIS, verifyChain } from '../../../src/store/cassandra-audit-trail.js'
import { FailureQueue, Timeline } from './timeline.js'

interface Link {
  seq: number
  /** The record's exact text, as the Cassandra adapter stores it (JSON). */
  text: string
  prevHash: string
  hash: string
}

/**
 * The audit trail in memory, chained like the Cassandra adapter: each record is stored as its JSON
 * text under the next sequence number, hashed together with the previous record's hash, and
 * `verify` walks the chain the same way (the adapter's verifyChain), checking it against the heads
 * `anchor` recorded. `rewrite` and `remove` alter the stored chain as an attacker with write access
 * would, so tests can check that `verify` notices.
 * Each append goes to the timeline as `audit.append(<event>)`; `failNext` makes one append throw,
 * `failNextOf` the next append of one event (as the adapter's append gives up after its writes), storing nothing.
 */
export class InMemoryAuditTrail implements AuditTrail {
  private readonly chain: Link[] = []
  /** Anchored heads by sequence number, as user_deletion_audit_anchor keys them (chain, seq). */
  private readonly anchors = new Map<number, ChainAnchor>()
  private readonly failures = new FailureQueue<'append'>()
  private readonly eventFailures = new FailureQueue<AuditRecord['event']>()

  constructor(readonly timeline: Timeline = new Timeline()) {}

  failNext(error: unknown): this {
    this.failures.add('append', error)
    return this
  }

  /** Makes the next append of `event` throw `error` (other events are stored as always). */
  failNextOf(event: AuditRecord['event'], error: unknown): this {
    this.eventFailures.add(event, error)
    return this
  }

  async append(record: AuditRecord): Promise<void> {
    this.timeline.record('audit', 'append', record.event)
    this.failures.check('append')
    this.eventFailures.check(record.event)
    const last = this.chain.at(-1)
    const seq = (last?.seq ?? 0) + 1
    const prevHash = last?.hash ?? GENESIS
    const text = JSON.stringify(record)
    this.chain.push({ seq, text, prevHash, hash: chainHash(prevHash, seq, text) })
  }

  /** Every stored record, in chain order (copies read back from the stored text). */
  get records(): AuditRecord[] {
    return this.chain.map((link) => JSON.parse(link.text) as AuditRecord)
  }

  /** The events recorded for one request, in order. */
  eventsOf(requestId: string): AuditRecord['event'][] {
    return this.records.filter((record) => record.requestId === requestId).map((record) => record.event)
  }

  /** The sequence numbers of one request's records, in order. */
  seqsOf(requestId: string): number[] {
    return this.chain.filter((link) => (JSON.parse(link.text) as AuditRecord).requestId === requestId).map((link) => link.seq)
  }

  /** Records the chain's head, as the adapter does every AUDIT_ANCHOR_INTERVAL_MS. */
  async anchor(): Promise<void> {
    const last = this.chain.at(-1)
    if (last) this.anchors.set(last.seq, { seq: last.seq, hash: last.hash })
  }

  /** Walks the whole chain in order, recomputes every hash and checks the anchors in order of seq (the Cassandra adapter's rule). */
  async verify(): Promise<ChainVerdict> {
    return verifyChain(
      this.chain,
      [...this.anchors.values()].sort((a, b) => a.seq - b.seq),
    )
  }

  /** Replaces the stored text of record `seq` (hashes untouched); answers the way back. */
  rewrite(seq: number, change: (text: string) => string): () => void {
    const link = this.link(seq)
    const original = link.text
    link.text = change(original)
    return () => {
      link.text = original
    }
  }

  /** Takes record `seq` out of the chain; answers the way back. */
  remove(seq: number): () => void {
    const link = this.link(seq)
    this.chain.splice(this.chain.indexOf(link), 1)
    return () => {
      const after = this.chain.findIndex((other) => other.seq > seq)
      this.chain.splice(after === -1 ? this.chain.length : after, 0, link)
    }
  }

  private link(seq: number): Link {
    const link = this.chain.find((candidate) => candidate.seq === seq)
    if (!link) throw new Error(`no audit record ${seq}`)
    return link
  }
}
