import type { Client } from 'cassandra-driver'
import type { OutboxEntry } from '../../../src/store/cassandra-event-outbox.js'

interface StoredEntry {
  mid: string
  userid: string | null
  payload: string | null
  publishedat: Date | null
  attempts: number | null
}

/** A read of the listing as sent: the page size asked for and the page state it went on from. */
export interface ListingRead {
  cql: string
  fetchSize?: number
  pageState?: string
}

/**
 * A cassandra-driver stand-in holding user_deletion_event_outbox and
 * user_deletion_event_outbox_pending in memory, for CassandraEventOutbox's statements. It pages a
 * read of the listing as the driver does: `fetchSize` rows a request (5,000 when not given, the
 * driver's default), `pageState` for the next page (with every full page, as Cassandra's, so a listing of exactly a page takes a second, empty read; null after a page that is not full), `rows` the current page
 * only; a LIMIT in the statement is honoured too. The page state is a place in the listing, as
 * Cassandra's is (a token), so rows unlisted between two pages do not move the next one. A request id
 * keeps its place once listed, unlisted or not, as its token does, so a read `WHERE token(requestid) >
 * token(?)` lists what is placed after the id given. `listingReads` lists every read of the listing;
 * `add` writes an entry and lists it, as append does.
 */
export function outboxDriver() {
  const entries = new Map<string, StoredEntry>()
  /** The listing: each request id at its place (listing order is by place). */
  const places = new Map<string, number>()
  /** Each listing's createdat. */
  const listedAt = new Map<string, Date>()
  /** Each request id ever listed, at its place: its token, kept once it is unlisted. */
  const tokens = new Map<string, number>()
  let nextPlace = 0
  const listingReads: ListingRead[] = []
  const rowOf = (values: Record<string, unknown>) => ({ get: (name: string) => values[name] })

  function list(requestId: string, at: Date): void {
    if (!tokens.has(requestId)) tokens.set(requestId, nextPlace++)
    places.set(requestId, tokens.get(requestId) as number)
    listedAt.set(requestId, at)
  }

  function write(cql: string, params: unknown[]): void {
    if (/^INSERT INTO \S+\.user_deletion_event_outbox \(/.test(cql)) {
      const [requestId, mid, userid, payload] = params as [string, string, string | null, string]
      const kept = entries.get(requestId)
      entries.set(requestId, { mid, userid, payload, publishedat: kept?.publishedat ?? null, attempts: kept?.attempts ?? null })
      return
    }
    if (/^INSERT INTO \S+\.user_deletion_event_outbox_pending /.test(cql)) {
      list(params[0] as string, params[1] as Date)
      return
    }
    if (/^UPDATE \S+\.user_deletion_event_outbox SET publishedat = \?, payload = null WHERE requestid = \?$/.test(cql)) {
      const [at, requestId] = params as [Date, string]
      const entry = entries.get(requestId)
      entries.set(requestId, { mid: entry?.mid ?? '', userid: entry?.userid ?? null, attempts: entry?.attempts ?? null, publishedat: at, payload: null })
      return
    }
    if (/^DELETE FROM \S+\.user_deletion_event_outbox_pending WHERE requestid = \?$/.test(cql)) {
      places.delete(params[0] as string)
      listedAt.delete(params[0] as string)
      return
    }
    if (/^UPDATE \S+\.user_deletion_event_outbox SET attempts = \? WHERE requestid = \?$/.test(cql)) {
      const [attempts, requestId] = params as [number, string]
      const entry = entries.get(requestId)
      if (entry) entry.attempts = attempts
      return
    }
    throw new Error(`the stand-in does not know ${cql}`)
  }

  const result = (rows: ReturnType<typeof rowOf>[], pageState: string | null = null) => ({ rows, pageState, rowLength: rows.length, first: () => rows[0] ?? null })

  const client = {
    async execute(cql: string, params: unknown[] = [], opts: { fetchSize?: number; pageState?: string } = {}) {
      await new Promise((resolve) => setImmediate(resolve))
      if (/^SELECT requestid, createdat FROM \S+\.user_deletion_event_outbox_pending( LIMIT \?| WHERE token\(requestid\) > token\(\?\))?$/.test(cql)) {
        listingReads.push({ cql, ...(opts.fetchSize !== undefined && { fetchSize: opts.fetchSize }), ...(opts.pageState !== undefined && { pageState: opts.pageState }) })
        const limit = cql.endsWith('LIMIT ?') ? Number(params[0]) : Number.POSITIVE_INFINITY
        // An id never listed has no place here (Cassandra would hash it): the read starts at the listing's start.
        const from = cql.endsWith('token(?)') ? (tokens.get(params[0] as string) ?? -1) : -1
        const all = [...places]
          .filter(([, place]) => place > from)
          .sort(([, a], [, b]) => a - b)
          .slice(0, limit)
        const after = opts.pageState === undefined ? -1 : Number(opts.pageState)
        const rest = all.filter(([, place]) => place > after)
        const fetchSize = opts.fetchSize ?? 5000
        const page = rest.slice(0, fetchSize)
        const last = page.at(-1)
        // As Cassandra: a full page carries a page state even when nothing follows (the next read is then empty).
        return result(
          page.map(([requestid]) => rowOf({ requestid, createdat: listedAt.get(requestid) ?? null })),
          last && page.length === fetchSize ? String(last[1]) : null,
        )
      }
      if (/^SELECT requestid, mid, userid, payload, publishedat, attempts FROM \S+\.user_deletion_event_outbox WHERE requestid = \?$/.test(cql)) {
        const entry = entries.get(params[0] as string)
        return result(entry ? [rowOf({ requestid: params[0], ...entry })] : [])
      }
      write(cql, params)
      return result([])
    },
    async batch(queries: { query: string; params: unknown[] }[]) {
      await new Promise((resolve) => setImmediate(resolve))
      for (const { query, params } of queries) write(query, params)
      return result([])
    },
  }

  return {
    client: client as unknown as Client,
    listingReads,
    /** The listed request ids, in listing order. */
    listed: () => [...places].sort(([, a], [, b]) => a - b).map(([requestId]) => requestId),
    entry: (requestId: string) => entries.get(requestId),
    /** Writes the entry and lists it, as CassandraEventOutbox.append does. */
    add(...added: OutboxEntry[]): void {
      for (const e of added) {
        entries.set(e.requestId, { mid: e.mid, userid: e.userId, payload: e.payload, publishedat: null, attempts: e.attempts || null })
        list(e.requestId, new Date())
      }
    },
    /** Unlists the entry (published by another instance): it stays, marked published. */
    publishElsewhere(requestId: string): void {
      write('UPDATE ks.user_deletion_event_outbox SET publishedat = ?, payload = null WHERE requestid = ?', [new Date(), requestId])
      places.delete(requestId)
      listedAt.delete(requestId)
    },
  }
}
