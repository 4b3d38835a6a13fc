import type { RelayDeps } from '../../../src/events/kafka-relay.js'
import { LISTING_FETCH_MAX, type OutboxEntry, type OutboxPage } from '../../../src/store/cassandra-event-outbox.js'

type RelayOutbox = RelayDeps['outbox']

/** A request's row: its event (none when only its publication was written), attempts and publication. */
interface Row {
  entry?: Omit<OutboxEntry, 'attempts'>
  attempts: number
  publishedAt?: Date
}

/**
 * The outbox's relay side in memory, with CassandraEventOutbox's semantics
 * (test/support/contracts/relay-outbox.contract.ts): an entry row per request and a listing of what
 * is still to publish. Listing order is the order of listing (Cassandra's is by token: `addFirst`
 * lists ahead of the others). `pending` reads the listing a page at a time as the store does (a page
 * of `limit` and the passed-by ids, at most LISTING_FETCH_MAX; a full page not known to be the last),
 * passes by a listed id without its row, and unlists one published already; read `after` an id, from
 * that id's place on (kept once it is unlisted, as a token is).
 */
export class InMemoryRelayOutbox implements RelayOutbox {
  /** The request ids of each page's entries, in order. */
  readonly reads: string[][] = []
  private readonly rows = new Map<string, Row>()
  private listing: string[] = []
  /** Each request id ever listed, at its place in the listing (as its token: kept once unlisted); `addFirst` places ahead of all. */
  private readonly places = new Map<string, number>()
  private firstPlace = 0
  private nextPlace = 0
  /** When each listed id was listed (the clock's now at its append), as the listing's createdat. */
  private readonly listedTimes = new Map<string, Date>()

  /** Writes each entry (a row written again keeps its publication and attempts) and lists it, as append does. */
  add(...entries: OutboxEntry[]): void {
    for (const entry of entries) {
      this.write(entry)
      this.listedTimes.set(entry.requestId, new Date())
      if (!this.listing.includes(entry.requestId)) this.listing.push(entry.requestId)
      if (!this.places.has(entry.requestId)) this.places.set(entry.requestId, this.nextPlace++)
    }
  }

  /** As `add`, listed ahead of what is listed already (in Cassandra, a later append may come first). */
  addFirst(...entries: OutboxEntry[]): void {
    for (const entry of entries) {
      this.write(entry)
      this.listedTimes.set(entry.requestId, new Date())
    }
    const ids = entries.map((entry) => entry.requestId)
    this.listing = [...ids, ...this.listing.filter((id) => !ids.includes(id))]
    this.firstPlace -= ids.length
    for (const [i, id] of ids.entries()) this.places.set(id, this.firstPlace + i)
  }

  /** EventOutbox.append's write, as the adapter makes it: the mid, the user (the message key) and the event as JSON. */
  async append(requestId: string, event: Record<string, unknown>): Promise<void> {
    const object = event.object as { id?: string } | undefined
    this.add({ requestId, mid: String(event.mid), userId: object?.id as string, payload: JSON.stringify(event), attempts: 0 })
  }

  /** Lists a request without its row: an append whose listing landed before its entry. */
  listWithoutEntry(requestId: string): void {
    this.listedTimes.set(requestId, new Date())
    if (!this.listing.includes(requestId)) this.listing.push(requestId)
    if (!this.places.has(requestId)) this.places.set(requestId, this.nextPlace++)
  }

  /** The listed request ids, in listing order. */
  listed(): string[] {
    return [...this.listing]
  }

  attemptsOf(requestId: string): number | undefined {
    return this.rows.get(requestId)?.attempts
  }

  publishedAt(requestId: string): Date | undefined {
    return this.rows.get(requestId)?.publishedAt
  }

  async pending(limit: number, skip: ReadonlySet<string> = new Set(), after?: string): Promise<OutboxPage> {
    const pageSize = Math.max(1, Math.min(limit + skip.size, LISTING_FETCH_MAX))
    const from = after === undefined ? Number.NEGATIVE_INFINITY : (this.places.get(after) ?? Number.NEGATIVE_INFINITY)
    const listing = this.listing.filter((id) => (this.places.get(id) ?? 0) > from)
    const listed: string[] = []
    let unskipped = 0
    let full: boolean
    do {
      const page = listing.slice(listed.length, listed.length + pageSize)
      listed.push(...page)
      unskipped += page.filter((id) => !skip.has(id)).length
      // As Cassandra's: a full page carries a page state even when nothing follows.
      full = page.length === pageSize
    } while (full && unskipped < limit)
    const complete = !full
    const entries: OutboxEntry[] = []
    const ids = listed.filter((id) => !skip.has(id)).slice(0, limit)
    for (const requestId of ids) {
      const row = this.rows.get(requestId)
      // Listed again after its publication: the topic has it; unlisted again.
      if (row?.publishedAt) {
        await this.markPublished(requestId, row.publishedAt)
        continue
      }
      // Listed before its entry landed: passed by, and left listed.
      if (!row?.entry) continue
      entries.push({ ...row.entry, attempts: row.attempts })
    }
    this.reads.push(entries.map((entry) => entry.requestId))
    const listedAt = new Map<string, Date>()
    for (const requestId of listed) {
      const at = this.listedTimes.get(requestId)
      if (at) listedAt.set(requestId, at)
    }
    const more = !complete || unskipped > limit
    const last = ids.at(-1)
    return { entries, complete, more, listed, listedAt, ...(more && last !== undefined && { resumeAfter: last }) }
  }

  async listedCount(): Promise<number> {
    return this.listing.length
  }

  async markPublished(requestId: string, at: Date = new Date()): Promise<void> {
    // A write of its own, as the store's UPDATE: the publication is kept even without the entry.
    this.rows.set(requestId, { attempts: 0, ...this.rows.get(requestId), publishedAt: at })
    this.listing = this.listing.filter((id) => id !== requestId)
    this.listedTimes.delete(requestId)
  }

  async attemptFailed(entry: OutboxEntry): Promise<void> {
    const row = this.rows.get(entry.requestId)
    if (row?.entry) row.attempts = entry.attempts + 1
  }

  private write({ attempts, ...entry }: OutboxEntry): void {
    const kept = this.rows.get(entry.requestId)
    this.rows.set(entry.requestId, { entry, attempts: kept?.attempts ?? attempts, ...(kept?.publishedAt && { publishedAt: kept.publishedAt }) })
  }
}
