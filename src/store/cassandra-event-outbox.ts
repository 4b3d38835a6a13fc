import type { Client } from 'cassandra-driver'
import type { EventOutbox } from '../deletion/ports.js'
import { IDEMPOTENT, runCassandra, writeTogether } from './cassandra-call.js'

export interface OutboxEntry {
  requestId: string
  mid: string
  userId: string
  payload: string
  attempts: number
}

/** A page of the outbox for the relay. */
export interface OutboxPage {
  entries: OutboxEntry[]
  /** The listing was read to its end: every listed entry is among `listed`. */
  complete: boolean
  /** Listed entries not held back remain beyond this page (the listing not read to its end, or read past `limit`): another page has work. */
  more: boolean
  /**
   * Every request id the listing read, in its order: those read into `entries` (or dropped as
   * published already), those passed by as asked (`skip`), and those past the page's `limit`.
   */
  listed: string[]
  /** When each listed id was appended (its listing's createdat), for those that have one: how long the oldest has waited. */
  listedAt: ReadonlyMap<string, Date>
  /**
   * When `more`: the last listed id this page took up (read into `entries`, dropped as published, or
   * passed by for want of its entry), so that a page asked for `after` it reads on from there.
   */
  resumeAfter?: string
}

/** Most rows of the listing one request reads: a page of the relay and the events it passes by, up to this. */
export const LISTING_FETCH_MAX = 5000

/** Every statement of this adapter, for one keyspace. */
function outboxStatements(keyspace: string) {
  const t = `${keyspace}.user_deletion_event_outbox`
  const pending = `${keyspace}.user_deletion_event_outbox_pending`
  return {
    append: `INSERT INTO ${t} (requestid, mid, userid, payload, createdat) VALUES (?, ?, ?, ?, ?)`,
    get: `SELECT requestid, mid, userid, payload, publishedat, attempts FROM ${t} WHERE requestid = ?`,
    markPending: `INSERT INTO ${pending} (requestid, createdat) VALUES (?, ?)`,
    listPending: `SELECT requestid, createdat FROM ${pending}`,
    listPendingAfter: `SELECT requestid, createdat FROM ${pending} WHERE token(requestid) > token(?)`,
    published: `UPDATE ${t} SET publishedat = ?, payload = null WHERE requestid = ?`,
    unlist: `DELETE FROM ${pending} WHERE requestid = ?`,
    attempt: `UPDATE ${t} SET attempts = ? WHERE requestid = ?`,
  }
}

/**
 * user_deletion_event_outbox keeps each request's event (one per request, its mid fixed by the
 * request) until the relay has it on the topic, then only its ids and times: the payload (the name
 * too, with EVENTS_INCLUDE_USER_NAME) goes with the publication. user_deletion_event_outbox_pending
 * lists what the relay still has to publish.
 */
export class CassandraEventOutbox implements EventOutbox {
  private readonly cql: ReturnType<typeof outboxStatements>

  constructor(
    private readonly client: Client,
    keyspace: string,
  ) {
    this.cql = outboxStatements(keyspace)
  }

  /**
   * Two plain writes in one unlogged batch: a request's event always has the same mid (build-event.ts), so
   * writing it again is harmless and no lightweight transaction is needed. The entry keeps its
   * publishedat and attempts (not written here); a listing without its entry yet is passed by,
   * and one whose entry is published already is dropped by the relay's next pass, not published
   * again, and the payload written back with it cleared again.
   */
  async append(requestId: string, event: Record<string, unknown>): Promise<void> {
    const object = event.object as { id?: string } | undefined
    const now = new Date()
    await writeTogether(this.client, [
      { query: this.cql.append, params: [requestId, String(event.mid), object?.id ?? null, JSON.stringify(event), now] },
      { query: this.cql.markPending, params: [requestId, now] },
    ])
  }

  async state(requestId: string): Promise<'queued' | 'published' | undefined> {
    const row = (await runCassandra(this.client, (client) => client.execute(this.cql.get, [requestId], IDEMPOTENT))).first()
    if (!row) return undefined
    return row.get('publishedat') ? 'published' : 'queued'
  }

  /**
   * Up to `limit` listed entries, passing by those in `skip` (events the relay holds back) without
   * reading them. The listing is read a page at a time (`limit` and `skip.size` rows a request, at
   * most LISTING_FETCH_MAX, each further page asked for with the driver's page state) until it has
   * given `limit` ids not in `skip` or has no more: without held-back events, one request of `limit`
   * rows; held-back events never fill a page, however many there are. `complete` says the last page
   * was read, not a count (a request answers one page of the driver's, whatever its LIMIT).
   * `after` (a page's `resumeAfter`): the listing is read from the place (token) of that id on, to its
   * end, whether the id is still listed or not; `complete` then says that end was reached.
   */
  async pending(limit: number, skip: ReadonlySet<string> = new Set(), after?: string): Promise<OutboxPage> {
    const fetchSize = Math.max(1, Math.min(limit + skip.size, LISTING_FETCH_MAX))
    const listed: string[] = []
    const listedAt = new Map<string, Date>()
    let unskipped = 0
    let pageState: string | undefined
    do {
      const options = { ...IDEMPOTENT, fetchSize, ...(pageState !== undefined && { pageState }) }
      const read = after === undefined ? { query: this.cql.listPending, params: [] } : { query: this.cql.listPendingAfter, params: [after] }
      const page = await runCassandra(this.client, (client) => client.execute(read.query, read.params, options))
      for (const row of page.rows ?? []) {
        const requestId = row.get('requestid') as string
        listed.push(requestId)
        const createdAt = row.get('createdat') as Date | null
        if (createdAt) listedAt.set(requestId, createdAt)
        if (!skip.has(requestId)) unskipped++
      }
      pageState = page.pageState ?? undefined
    } while (pageState !== undefined && unskipped < limit)
    const complete = pageState === undefined
    const more = !complete || unskipped > limit
    const ids = listed.filter((requestId) => !skip.has(requestId)).slice(0, limit)
    // The entries are read together (a pass of a hundred read one after another fell behind a batch deletion), kept in listing order.
    const rows = await Promise.all(ids.map((requestId) => runCassandra(this.client, (client) => client.execute(this.cql.get, [requestId], IDEMPOTENT)).then((result) => result.first())))
    const entries: OutboxEntry[] = []
    for (const [i, row] of rows.entries()) {
      const requestId = ids[i] as string
      if (!row) continue
      const publishedAt = row.get('publishedat') as Date | null
      if (publishedAt) {
        // Listed again by a run that wrote the event once more after its publication (it had read its
        // request before the relay recorded it): the topic has it, so the payload goes again too. Cleared
        // even when this read found none: the run's entry may land after its listing (the batch is
        // unlogged), and this later write wins over it.
        await this.markPublished(requestId, publishedAt)
        continue
      }
      entries.push({ requestId, mid: row.get('mid') as string, userId: row.get('userid') as string, payload: row.get('payload') as string, attempts: (row.get('attempts') as number | null) ?? 0 })
    }
    const last = ids.at(-1)
    return { entries, complete, more, listed, listedAt, ...(more && last !== undefined && { resumeAfter: last }) }
  }

  /**
   * How many events the listing holds, read to its end (LISTING_FETCH_MAX rows a request): what
   * `npm run deletion:resume` says is left once it has published what it could. The relay's
   * passes never ask it: they read no further than a page.
   */
  async listedCount(): Promise<number> {
    let count = 0
    let pageState: string | undefined
    do {
      const options = { ...IDEMPOTENT, fetchSize: LISTING_FETCH_MAX, ...(pageState !== undefined && { pageState }) }
      const page = await runCassandra(this.client, (client) => client.execute(this.cql.listPending, [], options))
      count += page.rows?.length ?? 0
      pageState = page.pageState ?? undefined
    } while (pageState !== undefined)
    return count
  }

  /**
   * The entry's publishedat, its payload cleared (nothing reads the payload of a published event:
   * a run again writes it anew, and the relay only drops it), and its unlisting, as one unlogged
   * batch: the request has recorded the publication first (the relay's order), so either write
   * alone leaves nothing that would lose the event or say it is still queued.
   */
  async markPublished(requestId: string, at: Date): Promise<void> {
    await writeTogether(this.client, [
      { query: this.cql.published, params: [at, requestId] },
      { query: this.cql.unlist, params: [requestId] },
    ])
  }

  async attemptFailed(entry: OutboxEntry): Promise<void> {
    await runCassandra(this.client, (client) => client.execute(this.cql.attempt, [entry.attempts + 1, entry.requestId], IDEMPOTENT))
  }
}
