import type { Client } from '@opensearch-project/opensearch'
import { DependencyUnavailableError, WordedCause } from '../deletion/errors.js'
import type { AdderNamedPage, JsonRow, SearchUserFlags, UserSearchIndex } from '../deletion/ports.js'
import { NOTES_INDEX, USER_ALIAS } from './sunbird-indexes.js'

/** Notes removed per round of deleteNotes (one search, one bulk request). */
export const NOTES_PAGE_SIZE = 500

/**
 * Rounds deleteNotes may take before it gives up as unavailable: 100 × 500 = 50,000 notes, far past
 * what one person writes. Only an engine that keeps finding notes it says it deleted (or a bug)
 * gets there, and the step is then owed instead of spinning for ever.
 */
export const MAX_NOTES_ROUNDS = 100

/** How readNotes pages through one user's notes. */
export interface NotesPaging {
  /** Notes asked for per request. */
  pageSize: number
  /** Full pages read at most: more than pageSize × maxPages notes for one user is refused, never cut short. */
  maxPages: number
}

/**
 * 500 a page, at most 50,000 notes: the most deleteNotes erases, so a read (export, dry run) never
 * stops short of what a deletion removes, while a runaway index costs at most 101 requests and
 * 50,000 notes of memory before the read fails as unavailable.
 */
export const NOTES_READ_PAGING: NotesPaging = { pageSize: NOTES_PAGE_SIZE, maxPages: MAX_NOTES_ROUNDS }

/** How long the engine keeps the scroll's snapshot between two pages (each page renews it). */
const SCROLL_KEEP_ALIVE = '1m'

/**
 * Why the engine did not do what was asked, fit for a log line: the operation, the HTTP status and
 * the engine's error type, or what was wrong with its answer. Never the engine's own reason text,
 * which can quote a document id or a field's value (a mapper error previews the value it refused).
 */
export class SearchEngineRefusal extends WordedCause {
  override name = 'SearchEngineRefusal'
  constructor(
    message: string,
    /** The engine's HTTP status, when it answered with one. */
    readonly status?: number,
    /** The engine's error type (e.g. security_exception, index_closed_exception), when it named one. */
    readonly type?: string,
  ) {
    super(message)
  }
}

/** The engine's HTTP status on an error answer, if it answered at all. */
function statusOf(err: unknown): number | undefined {
  const status = (err as { meta?: { statusCode?: unknown } } | null)?.meta?.statusCode
  return typeof status === 'number' ? status : undefined
}

/** An error type as the engine names them (snake_case words); anything else is not repeated. */
function typeOf(value: unknown): string | undefined {
  return typeof value === 'string' && /^[a-z][a-z0-9_.]{0,99}$/.test(value) ? value : undefined
}

/** What went wrong with `operation`, with no personal data in it (see SearchEngineRefusal). */
function refusalOf(operation: string, err: unknown): SearchEngineRefusal {
  if (err instanceof SearchEngineRefusal) return err
  const status = statusOf(err)
  if (status !== undefined) {
    const type = typeOf((err as { meta?: { body?: { error?: { type?: unknown } } } }).meta?.body?.error?.type)
    return new SearchEngineRefusal(`search engine answered ${status}${type ? ` (${type})` : ''} to ${operation}`, status, type)
  }
  const name = err instanceof Error ? err.name : 'a non-error'
  return new SearchEngineRefusal(`search engine gave no usable answer to ${operation} (${name})`)
}

/**
 * Every way the engine can fail a call is a dependency in trouble, never a bug to answer 500 with:
 * no answer, an overloaded engine, and every error status too (a security plugin's 403, a closed
 * index's 400, a version conflict's 409, a 500). The engine cannot do the erasure now, so the step
 * is owed and the sweeper comes back for it. The 404s that mean "nothing there" are handled inside
 * each call, before this.
 */
async function runSearch<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    throw new DependencyUnavailableError('search', { cause: refusalOf(operation, err) })
  }
}

/**
 * A 404 the engine gave to say the document is not there: its own answer says so (`found: false`,
 * `result: not_found`, `document_missing_exception`), and, where `indexMayBeMissing` (the notes
 * index, which not every deployment has), that the index is not there. Any other 404 (a proxy, a
 * gateway, a wrong port's server, an engine without `user_alias`) proves nothing is there no more
 * than an outage does: it fails the call as unavailable, so no erasure is recorded on it.
 */
function isNotFound(err: unknown, { indexMayBeMissing = false }: { indexMayBeMissing?: boolean } = {}): boolean {
  if (statusOf(err) !== 404) return false
  const body = (err as { meta?: { body?: unknown } }).meta?.body
  if (typeof body !== 'object' || body === null) return false
  const { found, result, error } = body as { found?: unknown; result?: unknown; error?: { type?: unknown } }
  if (found === false || result === 'not_found') return true
  const type = typeof error === 'object' && error !== null ? error.type : undefined
  return type === 'document_missing_exception' || (indexMayBeMissing && type === 'index_not_found_exception')
}

/** The call's answer, or `absent` when the engine says the document is not there (isNotFound); any other failure is thrown as it came. */
async function orWhenNotFound<T, A>(call: () => Promise<T>, absent: A): Promise<T | A> {
  try {
    return await call()
  } catch (err) {
    if (isNotFound(err)) return absent
    throw err
  }
}

/**
 * Refuses an answer in which some shards failed: the engine answers 200 all the same (a search that
 * may have left hits out, a refresh that left some shards unrefreshed), so only `_shards.failed` tells.
 */
function refuseFailedShards(operation: string, body: { _shards?: { failed?: unknown } } | undefined): void {
  const failedShards = typeof body?._shards?.failed === 'number' ? body._shards.failed : 0
  if (failedShards > 0) throw new SearchEngineRefusal(`search engine answered ${operation} with ${failedShards} failed shard(s)`)
}

/** The search answer's hits, refusing an answer that may have left some out (a shard failed or the search timed out). */
function completeHits(operation: string, body: { timed_out?: unknown; _shards?: { failed?: unknown }; hits: { hits: { _id?: unknown; _source?: unknown }[] } }) {
  refuseFailedShards(operation, body)
  if (body.timed_out === true) throw new SearchEngineRefusal(`search engine timed out on ${operation}`)
  return body.hits.hits
}

/** One page of a scroll: its hits, the id to ask for the next page with, and the total when the engine counted it exactly. */
interface ScrollPage {
  hits: { _source?: unknown }[]
  scrollId?: string
  exactTotal?: number
}

type ScrollAnswer = Parameters<typeof completeHits>[1] & { _scroll_id?: unknown; hits: { total?: unknown } }

/** A scroll answer as a page, refused as completeHits refuses (failed shards, timed out). */
function scrollPageOf(operation: string, body: ScrollAnswer): ScrollPage {
  const hits = completeHits(operation, body)
  const total = body.hits.total as { value?: unknown; relation?: unknown } | number | undefined
  // Elasticsearch 6 answers a number; later engines { value, relation }, 'gte' when they stopped counting.
  const exactTotal = typeof total === 'number' ? total : total?.relation === 'eq' && typeof total.value === 'number' ? total.value : undefined
  return { hits, scrollId: typeof body._scroll_id === 'string' ? body._scroll_id : undefined, exactTotal }
}

interface BulkItem {
  delete?: { status?: unknown; result?: unknown; error?: { type?: unknown } | unknown }
}

/** Refuses a bulk answer where any item failed (e.g. cluster_block_exception on a write-blocked index): those notes are still there. */
function checkBulk(body: { errors?: unknown; items: BulkItem[] }): void {
  const failed = body.items.filter((item) => item.delete?.error !== undefined)
  if (body.errors !== true && failed.length === 0) return
  const first = failed[0]?.delete
  const status = typeof first?.status === 'number' ? first.status : undefined
  const type = typeOf((first?.error as { type?: unknown } | undefined)?.type)
  throw new SearchEngineRefusal(`search engine refused ${failed.length} of ${body.items.length} note deletes${status !== undefined ? ` (${status}${type ? ` ${type}` : ''})` : ''}`, status, type)
}

/**
 * The engine refused to run the update's script (400): inline scripts turned off, or Painless not
 * allowed in the update context. A setting of the cluster, not a fault that passes.
 */
function isScriptRefused(err: unknown): boolean {
  if (statusOf(err) !== 400) return false
  const error = (err as { meta?: { body?: { error?: { type?: unknown; reason?: unknown } } } }).meta?.body?.error
  const type = typeof error?.type === 'string' ? error.type : ''
  const reason = typeof error?.reason === 'string' ? error.reason : ''
  return type.includes('script') || (type === 'illegal_argument_exception' && /script/i.test(reason))
}

/** Sets `params.set`'s fields and removes those named in `params.remove`, in one update of the document. */
const RESTORE_FLAGS_SCRIPT = 'for (def entry : params.set.entrySet()) { ctx._source[entry.getKey()] = entry.getValue() } for (def name : params.remove) { ctx._source.remove(name) }'

/** Removes addedByName from the memberships `params.id` added; a document with none to remove is left as it is (noop), so a run again writes nothing. */
const ERASE_ADDER_NAME_SCRIPT =
  "boolean changed = false; if (ctx._source.organisations instanceof List) { for (def o : ctx._source.organisations) { if (o instanceof Map && o.addedBy == params.id && o.containsKey('addedByName')) { o.remove('addedByName'); changed = true } } } if (!changed) { ctx.op = 'noop' }"

/** Conflicting writes eraseAdderName tries again over (the script's retry_on_conflict, the fallback's reads) before it fails as unavailable (another writer keeps changing the document). */
export const ADDER_NAME_WRITE_ATTEMPTS = 3

const isMembership = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const membershipsOf = (document: unknown): unknown[] => {
  const organisations = isMembership(document) ? document.organisations : undefined
  return Array.isArray(organisations) ? organisations : []
}
/** A membership `adderId` added that still carries their name. */
const namesAdder = (membership: unknown, adderId: string): membership is Record<string, unknown> => isMembership(membership) && membership.addedBy === adderId && membership.addedByName !== undefined

// Sunbird's usernotes maps userId as analysed text; its `raw` field is the whole value lowercased (analyzer keylower).
const notesOf = (userId: string) => ({ term: { 'userId.raw': userId.toLowerCase() } })

/**
 * Sunbird's user document (alias user_alias, _id = user id) and notes index on Elasticsearch 7 or
 * OpenSearch. Writes refresh at once: a deletion is rare, and a search right after must not find the person.
 */
export class OpenSearchUserIndex implements UserSearchIndex {
  constructor(
    private readonly client: Client,
    private readonly userAlias = USER_ALIAS,
    private readonly notesIndex = NOTES_INDEX,
    private readonly notesPaging = NOTES_READ_PAGING,
  ) {}

  async readUser(userId: string): Promise<JsonRow | undefined> {
    return runSearch('read user document', () =>
      orWhenNotFound(async () => {
        const { body } = await this.client.get({ index: this.userAlias, id: userId })
        return body.found ? (body._source as JsonRow) : undefined
      }, undefined),
    )
  }

  async replaceUser(userId: string, document: JsonRow): Promise<'replaced' | 'absent'> {
    if (!(await this.readUser(userId))) return 'absent'
    await runSearch('replace user document', () => this.client.index({ index: this.userAlias, id: userId, body: document, refresh: true }))
    return 'replaced'
  }

  async flagUserDeleted(userId: string): Promise<boolean> {
    return runSearch('flag user document deleted', () =>
      orWhenNotFound(async () => {
        await this.client.update({ index: this.userAlias, id: userId, body: { doc: { status: 2, isDeleted: true, isBlocked: true } }, refresh: true })
        return true
      }, false),
    )
  }

  /**
   * Puts the flags back as they were before the soft deletion. A flag the document did not have then
   * (null: absent, or not of its type) is removed rather than set to null: Sunbird writes no
   * `isBlocked` into a live user's document (its user row has no such column; only its own deletion
   * patch adds one), so a cancel leaves the document with the fields it had. Removing a field needs a
   * script (a partial `doc` can only set it); Painless ships with every Elasticsearch 6 / 7 and
   * OpenSearch distribution as a module. Every flag known: the plain partial update, as before.
   */
  async restoreUserFlags(userId: string, prior: SearchUserFlags): Promise<boolean> {
    const set = Object.fromEntries(Object.entries(prior).filter(([, value]) => value !== null))
    const remove = Object.keys(prior).filter((name) => prior[name as keyof SearchUserFlags] === null)
    const body = remove.length === 0 ? { doc: set } : { script: { lang: 'painless', source: RESTORE_FLAGS_SCRIPT, params: { set, remove } } }
    return runSearch('restore user document flags', async () => {
      try {
        await this.client.update({ index: this.userAlias, id: userId, body, refresh: true })
        return true
      } catch (err) {
        if (isNotFound(err)) return false
        if (!(remove.length > 0 && isScriptRefused(err))) throw err
      }
      // An engine that runs no inline script (script.allowed_types: none): the flags it lacked are
      // set to null instead, so the cancel still ends and lets the person back into search.
      return orWhenNotFound(async () => {
        await this.client.update({ index: this.userAlias, id: userId, body: { doc: prior }, refresh: true })
        return true
      }, false)
    })
  }

  async deleteUser(userId: string): Promise<number> {
    return runSearch('delete user document', () =>
      orWhenNotFound(async () => {
        const { body } = await this.client.delete({ index: this.userAlias, id: userId, refresh: true })
        return body.result === 'deleted' ? 1 : 0
      }, 0),
    )
  }

  /**
   * Documents found by the term on `organisations.addedBy` (a keyword) and the existence of
   * `organisations.addedByName`, paged with search_after on `userId` (a keyword, one per document):
   * a stable order that needs no snapshot, so documents rewritten between pages are neither missed
   * nor read twice. The memberships are an object array (not nested), so a document matches when
   * any membership has the name; only those whose adder is `adderId` are returned.
   */
  async findAdderNamed(adderId: string, pageSize: number, after?: string): Promise<AdderNamedPage> {
    return runSearch('search documents naming an adder', async () => {
      const { body } = await this.client.search({
        index: this.userAlias,
        body: {
          query: { bool: { filter: [{ term: { 'organisations.addedBy': adderId } }, { exists: { field: 'organisations.addedByName' } }] } },
          _source: ['organisations.organisationId', 'organisations.addedBy', 'organisations.addedByName'],
          size: pageSize,
          sort: [{ userId: 'asc' }],
          ...(after !== undefined && { search_after: JSON.parse(after) as (string | number)[] }),
        },
      })
      const hits = completeHits('search documents naming an adder', body) as { _id?: unknown; _source?: unknown; sort?: unknown }[]
      const documents = hits
        .map((hit) => ({
          userId: String(hit._id),
          organisationIds: membershipsOf(hit._source)
            .filter((membership) => namesAdder(membership, adderId))
            .map((membership) => membership.organisationId)
            .filter((id): id is string => typeof id === 'string'),
        }))
        .filter((document) => document.organisationIds.length > 0)
      const last = hits.at(-1)
      return hits.length < pageSize || !Array.isArray(last?.sort) ? { documents } : { documents, next: JSON.stringify(last.sort) }
    })
  }

  /**
   * One scripted update (idempotent: a noop when no membership carries the name). An engine that
   * runs no inline script (script.allowed_types: none) gets the same change without one: the
   * document read with its sequence number, its memberships written back without those names only
   * if nobody wrote it since (if_seq_no / if_primary_term), read and written again on a conflict.
   * No refresh (unlike the person's own document): a search that still sees the old document gets a
   * noop here, and a refresh per document made a run's 1,000 updates outlast its lease. The step
   * refreshes once at the end of a run that rewrote any (refreshUsers).
   */
  async eraseAdderName(userId: string, adderId: string): Promise<boolean> {
    return runSearch('erase adder name', async () => {
      try {
        const { body } = await this.client.update({
          index: this.userAlias,
          id: userId,
          body: { script: { lang: 'painless', source: ERASE_ADDER_NAME_SCRIPT, params: { id: adderId } } },
          // Sunbird writing the document meanwhile (409): the engine reads it again and reruns the script.
          retry_on_conflict: ADDER_NAME_WRITE_ATTEMPTS,
        })
        return body.result === 'updated'
      } catch (err) {
        if (isNotFound(err)) return false
        if (!isScriptRefused(err)) throw err
      }
      return this.eraseAdderNameWithoutScript(userId, adderId)
    })
  }

  /**
   * One refresh of the indexes behind the alias, after a run's eraseAdderName updates: a search
   * (deletion:verify's) right after finds none of the names they removed. Refused, as unavailable,
   * when some shards failed to refresh (a 200 all the same): a search may still find the names there.
   */
  async refreshUsers(): Promise<void> {
    const operation = 'refresh user documents'
    await runSearch(operation, async () => {
      const { body } = await this.client.indices.refresh({ index: this.userAlias })
      refuseFailedShards(operation, body)
    })
  }

  private async eraseAdderNameWithoutScript(userId: string, adderId: string): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      let read: { _source?: unknown; _seq_no?: unknown; _primary_term?: unknown; found?: unknown }
      try {
        read = (await this.client.get({ index: this.userAlias, id: userId, _source_includes: ['organisations'] })).body
      } catch (err) {
        if (isNotFound(err)) return false
        throw err
      }
      const organisations = membershipsOf(read._source)
      if (!read.found || !organisations.some((membership) => namesAdder(membership, adderId))) return false
      const without = organisations.map((membership) => {
        if (!namesAdder(membership, adderId)) return membership
        const { addedByName: _name, ...rest } = membership
        return rest
      })
      try {
        await this.client.update({
          index: this.userAlias,
          id: userId,
          if_seq_no: Number(read._seq_no),
          if_primary_term: Number(read._primary_term),
          body: { doc: { organisations: without } },
        })
        return true
      } catch (err) {
        if (isNotFound(err)) return false
        if (statusOf(err) !== 409 || attempt >= ADDER_NAME_WRITE_ATTEMPTS) throw err
      }
    }
  }

  /**
   * Every note of the user, read page by page through a scroll sorted by _doc. A scroll, because it
   * reads one snapshot of the index (no note missed or read twice when notes change between pages)
   * and needs no sort key. search_after, with or without a point in time, needs a unique tiebreaker:
   * OpenSearch 2.x has no _shard_doc (it came in 3.3), usernotes maps no keyword field, and sorting
   * on _id loads every id of the index into the engine's heap. Scroll is also the same API on
   * Elasticsearch 6 and 7 (Sunbird's engines). More than the paging's bound fails as unavailable.
   */
  async readNotes(userId: string): Promise<JsonRow[]> {
    const hits = await this.scrollNotes(userId)
    return hits.map((hit) => hit._source as JsonRow).filter((note) => note.userId === userId)
  }

  /** The hits of every page; none when the notes index does not exist. The scroll is cleared however it ends. */
  private async scrollNotes(userId: string): Promise<ScrollPage['hits']> {
    const { pageSize, maxPages } = this.notesPaging
    const maxNotes = pageSize * maxPages
    const tooMany = () =>
      new DependencyUnavailableError('search', { cause: new SearchEngineRefusal(`search engine holds more than ${maxNotes} notes for one user: the read is refused rather than cut short`) })
    let page = await this.firstNotesPage(userId, pageSize)
    if (!page) return []
    try {
      const hits: ScrollPage['hits'] = []
      // maxPages full pages, and one more that must come back empty when the engine does not say the total.
      for (let pagesRead = 1; ; pagesRead++) {
        if (hits.length + page.hits.length > maxNotes || (page.exactTotal ?? 0) > maxNotes) throw tooMany()
        hits.push(...page.hits)
        if (page.hits.length === 0 || (page.exactTotal !== undefined && hits.length >= page.exactTotal)) return hits
        if (pagesRead > maxPages) throw tooMany()
        page = await this.nextNotesPage(page.scrollId)
      }
    } finally {
      await this.clearScroll(page.scrollId)
    }
  }

  /** The scroll's first page; undefined when the notes index does not exist. */
  private async firstNotesPage(userId: string, pageSize: number): Promise<ScrollPage | undefined> {
    return runSearch('search notes', async () => {
      try {
        const { body } = await this.client.search({ index: this.notesIndex, scroll: SCROLL_KEEP_ALIVE, body: { query: notesOf(userId), size: pageSize, sort: ['_doc'] } })
        try {
          return scrollPageOf('search notes', body)
        } catch (err) {
          // A refused first page (failed shards, timed out) still opened a snapshot: free it now, not in a minute.
          await this.clearScroll(typeof body._scroll_id === 'string' ? body._scroll_id : undefined)
          throw err
        }
      } catch (err) {
        if (isNotFound(err, { indexMayBeMissing: true })) return undefined
        throw err
      }
    })
  }

  /** The scroll's next page. A 404 here is a snapshot the engine let go (search_context_missing_exception), never "no more notes". */
  private async nextNotesPage(scrollId: string | undefined): Promise<ScrollPage> {
    return runSearch('scroll notes', async () => {
      if (scrollId === undefined) throw new SearchEngineRefusal('search engine gave no scroll id to page notes with')
      const { body } = await this.client.scroll({ body: { scroll_id: scrollId, scroll: SCROLL_KEEP_ALIVE } })
      return scrollPageOf('scroll notes', body)
    })
  }

  /** Frees the engine's snapshot. Best effort: the notes are read (or the read failed) already, and the engine drops the snapshot by itself after SCROLL_KEEP_ALIVE. */
  private async clearScroll(scrollId: string | undefined): Promise<void> {
    if (scrollId === undefined) return
    await this.client.clearScroll({ body: { scroll_id: scrollId } }).catch(() => undefined)
  }

  /**
   * Found by search, then removed by id in one bulk request (no _delete_by_query: it lives in the
   * reindex module, which not every engine carries), page by page until none is left. A bulk answer
   * with any failed item, or more rounds than MAX_NOTES_ROUNDS, fails as unavailable: the notes
   * still there would only be found again, round after round.
   */
  async deleteNotes(userId: string): Promise<number> {
    let deleted = 0
    for (let round = 0; round < MAX_NOTES_ROUNDS; round++) {
      const ids = await this.noteIds(userId)
      if (ids.length === 0) return deleted
      deleted += await runSearch('delete notes', async () => {
        const { body } = await this.client.bulk({ refresh: true, body: ids.map((id) => ({ delete: { _index: this.notesIndex, _id: id } })) })
        checkBulk(body)
        return body.items.filter((item) => item.delete?.result === 'deleted').length
      })
    }
    throw new DependencyUnavailableError('search', {
      cause: new SearchEngineRefusal(`search engine still finds notes after ${MAX_NOTES_ROUNDS} rounds of ${NOTES_PAGE_SIZE} deletes`),
    })
  }

  /** Ids of a page of the user's notes; none when the notes index does not exist. */
  private async noteIds(userId: string): Promise<string[]> {
    return runSearch('search notes', async () => {
      try {
        const { body } = await this.client.search({ index: this.notesIndex, body: { query: notesOf(userId), size: NOTES_PAGE_SIZE, _source: ['userId'] } })
        return completeHits('search notes', body)
          .filter((hit) => (hit._source as JsonRow | undefined)?.userId === userId)
          .map((hit) => hit._id as string)
      } catch (err) {
        if (isNotFound(err, { indexMayBeMissing: true })) return []
        throw err
      }
    })
  }
}
