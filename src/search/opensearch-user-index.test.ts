import type { ServerResponse } from 'node:http'
import type { Client } from '@opensearch-project/opensearch'
import { afterEach, describe, expect, it } from 'vitest'
import { type StubRequest, type StubServer, startStubServer } from '../../test/support/stub-http-server.js'
import { DependencyUnavailableError } from '../deletion/errors.js'
import type { UserSearchIndex } from '../deletion/ports.js'
import { ADDER_NAME_WRITE_ATTEMPTS, MAX_NOTES_ROUNDS, NOTES_READ_PAGING, type NotesPaging, OpenSearchUserIndex, SearchEngineRefusal } from './opensearch-user-index.js'
import { createSearchClient } from './search-client.js'

const USER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const EMAIL = 'asha.kulkarni@example.org'
const TIMEOUT_MS = 300
/** Far past the client's request timeout: a call still pending then is a hang. */
const HANG_MS = 5_000

/** What the stub engine is asked, by the adapter's calls. */
type Route = 'get' | 'index' | 'update' | 'delete' | 'search' | 'scroll' | 'clearScroll' | 'bulk' | 'refresh'
const WRITES: Route[] = ['index', 'update', 'delete', 'bulk']

function routeOf({ method, path }: StubRequest): Route | undefined {
  const bare = path.split('?')[0] ?? ''
  if (bare.endsWith('/_bulk')) return 'bulk'
  if (bare.endsWith('/_refresh')) return 'refresh'
  if (bare === '/_search/scroll') return method === 'DELETE' ? 'clearScroll' : 'scroll'
  if (bare.endsWith('/_search')) return 'search'
  if (bare.includes('/_update/')) return 'update'
  if (bare.includes('/_doc/')) return method === 'GET' ? 'get' : method === 'DELETE' ? 'delete' : 'index'
  return undefined
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

/** An error answer shaped as the engine's, whose reason quotes personal data as real ones can (a mapper error previews the value). */
function refuse(res: ServerResponse, status: number, type = 'security_exception'): void {
  const reason = `failed on document [${USER}]: preview of field's value: '${EMAIL}'`
  json(res, status, { error: { root_cause: [{ type, reason }], type, reason }, status })
}

const hitsOf = (ids: string[], extra: Record<string, unknown> = {}) => ({
  took: 1,
  timed_out: false,
  _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
  hits: { total: { value: ids.length, relation: 'eq' }, hits: ids.map((id) => ({ _index: 'usernotes', _id: id, _source: { userId: USER, id } })) },
  ...extra,
})

const deletedItems = (ids: string[]) => ({ took: 1, errors: false, items: ids.map((id) => ({ delete: { _index: 'usernotes', _id: id, status: 200, result: 'deleted' } })) })

/** Per route, how the stub engine answers; unset routes answer as a healthy engine holding USER's document and no notes. */
type Script = Partial<Record<Route, (res: ServerResponse, request: StubRequest) => void>>

const healthy: Required<Script> = {
  get: (res) => json(res, 200, { _index: 'userv3', _id: USER, found: true, _source: { id: USER, userId: USER, firstName: 'Asha', email: EMAIL, status: 1, isDeleted: false } }),
  index: (res) => json(res, 200, { _id: USER, result: 'updated' }),
  update: (res) => json(res, 200, { _id: USER, result: 'updated' }),
  delete: (res) => json(res, 200, { _id: USER, result: 'deleted' }),
  search: (res) => json(res, 200, hitsOf([])),
  scroll: (res) => json(res, 200, hitsOf([])),
  clearScroll: (res) => json(res, 200, { succeeded: true, num_freed: 1 }),
  bulk: (res) => json(res, 200, deletedItems([])),
  refresh: (res) => json(res, 200, { _shards: { total: 2, successful: 2, failed: 0 } }),
}

const bodyOf = (request: StubRequest | undefined) => JSON.parse(request?.body ?? '{}') as Record<string, unknown>

const servers: { stub: StubServer; client: Client }[] = []
afterEach(async () => {
  for (const { stub, client } of servers.splice(0)) {
    await client.close()
    await stub.close()
  }
})

/** The adapter over a stub engine and the real client, configured as the service configures it (SEARCH_TIMEOUT_MS, no retries). */
async function indexOver(script: Script, notesPaging: NotesPaging = NOTES_READ_PAGING): Promise<{ index: OpenSearchUserIndex; stub: StubServer; routes: () => (Route | undefined)[] }> {
  const stub = await startStubServer((request, res) => {
    const route = routeOf(request)
    if (!route) return json(res, 400, { error: { type: 'unexpected_request' }, status: 400 })
    ;(script[route] ?? healthy[route])(res, request)
  })
  const client = createSearchClient({ hosts: [stub.url], port: 9200, timeoutMs: TIMEOUT_MS })
  servers.push({ stub, client })
  return { index: new OpenSearchUserIndex(client, undefined, undefined, notesPaging), stub, routes: () => stub.requests.map(routeOf) }
}

const calls: Record<string, (index: UserSearchIndex) => Promise<unknown>> = {
  readUser: (index) => index.readUser(USER),
  replaceUser: (index) => index.replaceUser(USER, { id: USER, status: 2 }),
  flagUserDeleted: (index) => index.flagUserDeleted(USER),
  restoreUserFlags: (index) => index.restoreUserFlags(USER, { status: 1, isDeleted: false, isBlocked: null }),
  deleteUser: (index) => index.deleteUser(USER),
  readNotes: (index) => index.readNotes(USER),
  deleteNotes: (index) => index.deleteNotes(USER),
}

async function failureOf(work: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`still pending after ${HANG_MS} ms`), HANG_MS)
  })
  return Promise.race([
    work.then(
      (value) => ({ resolved: value }),
      (err: unknown) => err,
    ),
    hung,
  ]).finally(() => clearTimeout(timer))
}

/** The failure is the search dependency unavailable, its cause a refusal that names `status` and carries no personal data. */
function expectSearchUnavailable(failure: unknown, status?: number): SearchEngineRefusal {
  expect(failure).toBeInstanceOf(DependencyUnavailableError)
  expect((failure as DependencyUnavailableError).dependency).toBe('search')
  const cause = (failure as DependencyUnavailableError).cause
  expect(cause).toBeInstanceOf(SearchEngineRefusal)
  const refusal = cause as SearchEngineRefusal
  if (status !== undefined) {
    expect(refusal.status).toBe(status)
    expect(refusal.message).toContain(String(status))
  }
  const logged = JSON.stringify({ ...refusal, message: refusal.message, stack: refusal.stack, cause: refusal.cause })
  expect(logged).not.toContain(EMAIL)
  expect(logged).not.toContain(USER)
  return refusal
}

describe('OpenSearchUserIndex when the engine answers with an error status', () => {
  // A security plugin's 403, a closed index's 400, a version conflict's 409 on the soft flag, an engine's 500.
  for (const [status, type] of [
    [400, 'index_closed_exception'],
    [403, 'security_exception'],
    [409, 'version_conflict_engine_exception'],
    [500, 'exception'],
    [429, 'es_rejected_execution_exception'],
    [503, 'unavailable_shards_exception'],
  ] as const) {
    it(`when every write answers ${status} ${type} (reads succeed), then each call that writes fails as search unavailable with the status and type in its cause`, async () => {
      const refusing = Object.fromEntries(WRITES.map((route) => [route, (res: ServerResponse) => refuse(res, status, type)]))
      const { index } = await indexOver({ ...refusing, search: (res) => json(res, 200, hitsOf(['note-1'])) })

      for (const name of ['replaceUser', 'flagUserDeleted', 'restoreUserFlags', 'deleteUser', 'deleteNotes']) {
        const call = calls[name] as (index: UserSearchIndex) => Promise<unknown>
        const refusal = expectSearchUnavailable(await failureOf(call(index)), status)
        expect(refusal.type).toBe(type)
      }
    })

    it(`when every request answers ${status}, then every call, reads too, fails as search unavailable`, async () => {
      const refusing = Object.fromEntries((['get', 'search', ...WRITES] as Route[]).map((route) => [route, (res: ServerResponse) => refuse(res, status, type)]))
      const { index } = await indexOver(refusing)

      for (const call of Object.values(calls)) expectSearchUnavailable(await failureOf(call(index)), status)
    })
  }

  it('when the document is flagged deleted, then that is one update (no read first) setting only the three flags, refreshed at once', async () => {
    const { index, stub, routes } = await indexOver({})

    expect(await index.flagUserDeleted(USER)).toBe(true)

    expect(routes()).toEqual(['update'])
    expect(bodyOf(stub.requests[0])).toEqual({ doc: { status: 2, isDeleted: true, isBlocked: true } })
    expect(stub.requests[0]?.path).toContain('refresh=true')
  })

  it("when an adder's name is erased from a document, then that is one scripted update, not refreshed (a stale search finds a noop; a refresh per document outlasted the run's lease)", async () => {
    const { index, stub, routes } = await indexOver({})

    expect(await index.eraseAdderName(USER, 'adder-1')).toBe(true)

    expect(routes()).toEqual(['update'])
    expect(bodyOf(stub.requests[0])).toMatchObject({ script: { lang: 'painless', params: { id: 'adder-1' } } })
    expect(stub.requests[0]?.path).not.toContain('refresh')
  })

  it("when an adder's name is erased, then a concurrent write to the document (409) is tried again by the engine: the update asks retry_on_conflict", async () => {
    const { index, stub } = await indexOver({})

    await index.eraseAdderName(USER, 'adder-1')

    expect(stub.requests[0]?.path).toContain(`retry_on_conflict=${ADDER_NAME_WRITE_ATTEMPTS}`)
  })

  it('when the flags are restored, then those the document had are set, and one it did not have (null) is removed, never set to null', async () => {
    const { index, stub, routes } = await indexOver({})

    expect(await index.restoreUserFlags(USER, { status: 1, isDeleted: false, isBlocked: true })).toBe(true)
    expect(await index.restoreUserFlags(USER, { status: 1, isDeleted: false, isBlocked: null })).toBe(true)

    expect(routes()).toEqual(['update', 'update'])
    expect(bodyOf(stub.requests[0])).toEqual({ doc: { status: 1, isDeleted: false, isBlocked: true } })
    expect(bodyOf(stub.requests[1])).toMatchObject({ script: { lang: 'painless', params: { set: { status: 1, isDeleted: false }, remove: ['isBlocked'] } } })
    expect(stub.requests[1]?.path).toContain('refresh=true')
  })

  it('when the engine runs no inline script (400 on the restore script), then the flags are restored all the same, one the document lacked set to null, so the cancel ends', async () => {
    let updates = 0
    const { index, stub, routes } = await indexOver({
      update: (res) => {
        updates++
        if (updates === 1) json(res, 400, { error: { type: 'illegal_argument_exception', reason: 'cannot execute [inline] scripts' }, status: 400 })
        else json(res, 200, { result: 'updated' })
      },
    })

    expect(await index.restoreUserFlags(USER, { status: 1, isDeleted: false, isBlocked: null })).toBe(true)

    expect(routes()).toEqual(['update', 'update'])
    expect(bodyOf(stub.requests[0])).toHaveProperty('script')
    expect(bodyOf(stub.requests[1])).toEqual({ doc: { status: 1, isDeleted: false, isBlocked: null } })
  })

  it('when the restore script is refused for another reason (400 index_closed_exception), then it fails as search unavailable, with no second update', async () => {
    const { index, routes } = await indexOver({ update: (res) => refuse(res, 400, 'index_closed_exception') })

    expectSearchUnavailable(await failureOf(index.restoreUserFlags(USER, { status: 1, isDeleted: false, isBlocked: null })), 400)
    expect(routes()).toEqual(['update'])
  })

  it('when the document went before the soft flag (update answers 404 document_missing_exception), then flagging answers false, not a failure', async () => {
    const { index } = await indexOver({ update: (res) => refuse(res, 404, 'document_missing_exception') })

    expect(await index.flagUserDeleted(USER)).toBe(false)
  })

  it('when the engine answers 404 where it means "nothing there", then that is still no document, nothing deleted, no notes', async () => {
    const notFound = (res: ServerResponse) => json(res, 404, { _index: 'userv3', _id: USER, found: false })
    const { index } = await indexOver({
      get: notFound,
      delete: notFound,
      update: (res) => refuse(res, 404, 'document_missing_exception'),
      search: (res) => refuse(res, 404, 'index_not_found_exception'),
    })

    expect(await index.readUser(USER)).toBeUndefined()
    expect(await index.replaceUser(USER, { id: USER })).toBe('absent')
    expect(await index.flagUserDeleted(USER)).toBe(false)
    expect(await index.restoreUserFlags(USER, { status: 1, isDeleted: false, isBlocked: null })).toBe(false)
    expect(await index.deleteUser(USER)).toBe(0)
    expect(await index.readNotes(USER)).toEqual([])
    expect(await index.deleteNotes(USER)).toBe(0)
  })

  it('when a 404 comes from something that is not the engine saying "not there" (a gateway, a wrong port, an engine without user_alias), then every call fails as unavailable: no erasure is recorded on it', async () => {
    const gateway = (res: ServerResponse) => {
      res.writeHead(404, { 'content-type': 'text/html' })
      res.end('<html><body>Not Found</body></html>')
    }
    const otherJson = (res: ServerResponse) => json(res, 404, { message: 'no route' })
    for (const answer of [gateway, otherJson]) {
      const { index } = await indexOver({ get: answer, update: answer, delete: answer, search: answer })

      expectSearchUnavailable(await failureOf(index.readUser(USER)), 404)
      expectSearchUnavailable(await failureOf(index.flagUserDeleted(USER)), 404)
      expectSearchUnavailable(await failureOf(index.deleteUser(USER)), 404)
      expectSearchUnavailable(await failureOf(index.readNotes(USER)), 404)
      expectSearchUnavailable(await failureOf(index.deleteNotes(USER)), 404)
    }
    // The user document's index missing is no proof either; only the notes index may be absent.
    const { index } = await indexOver({ get: (res) => refuse(res, 404, 'index_not_found_exception'), delete: (res) => refuse(res, 404, 'index_not_found_exception') })
    expectSearchUnavailable(await failureOf(index.readUser(USER)), 404)
    expectSearchUnavailable(await failureOf(index.deleteUser(USER)), 404)
  })

  it('when the engine does not answer within SEARCH_TIMEOUT_MS, then the call fails as unavailable instead of hanging', async () => {
    const { index } = await indexOver({ get: () => undefined, search: () => undefined })

    const started = Date.now()
    expectSearchUnavailable(await failureOf(index.readUser(USER)))
    expectSearchUnavailable(await failureOf(index.deleteNotes(USER)))
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 2 * 6)
  })
})

describe('OpenSearchUserIndex.deleteNotes', () => {
  it('when the notes fill more than one page, then they are deleted page by page and all counted', async () => {
    const pages = [['n1', 'n2'], ['n3'], []]
    let bulkIds: string[] = []
    const { index } = await indexOver({
      search: (res) => {
        bulkIds = pages.shift() ?? []
        json(res, 200, hitsOf(bulkIds))
      },
      bulk: (res) => json(res, 200, deletedItems(bulkIds)),
    })

    expect(await index.deleteNotes(USER)).toBe(3)
  })

  it('when the bulk answer says items failed (cluster_block_exception), then it fails as unavailable after one search and one bulk, instead of searching the same notes for ever', async () => {
    const { index, routes } = await indexOver({
      search: (res) => json(res, 200, hitsOf(['n1', 'n2'])),
      bulk: (res) =>
        json(res, 200, {
          took: 1,
          errors: true,
          items: ['n1', 'n2'].map((id) => ({
            delete: { _index: 'usernotes', _id: id, status: 403, error: { type: 'cluster_block_exception', reason: `index [usernotes] blocked by: [FORBIDDEN/8/index write (api)]; note of ${USER}` } },
          })),
        }),
    })

    const refusal = expectSearchUnavailable(await failureOf(index.deleteNotes(USER)), 403)

    expect(refusal.type).toBe('cluster_block_exception')
    expect(refusal.message).toBe('search engine refused 2 of 2 note deletes (403 cluster_block_exception)')
    expect(routes()).toEqual(['search', 'bulk'])
  })

  it('when only some items failed, then it still fails as unavailable: notes are left', async () => {
    const { index } = await indexOver({
      search: (res) => json(res, 200, hitsOf(['n1', 'n2'])),
      bulk: (res) =>
        json(res, 200, {
          took: 1,
          errors: true,
          items: [{ delete: { _id: 'n1', status: 200, result: 'deleted' } }, { delete: { _id: 'n2', status: 429, error: { type: 'es_rejected_execution_exception' } } }],
        }),
    })

    const refusal = expectSearchUnavailable(await failureOf(index.deleteNotes(USER)), 429)
    expect(refusal.message).toBe('search engine refused 1 of 2 note deletes (429 es_rejected_execution_exception)')
  })

  it('when the engine keeps finding notes it says it deleted, then it gives up as unavailable after MAX_NOTES_ROUNDS rounds instead of spinning', async () => {
    const { index, routes } = await indexOver({ search: (res) => json(res, 200, hitsOf(['n1'])), bulk: (res) => json(res, 200, deletedItems(['n1'])) })

    const refusal = expectSearchUnavailable(await failureOf(index.deleteNotes(USER)))

    expect(refusal.message).toBe(`search engine still finds notes after ${MAX_NOTES_ROUNDS} rounds of 500 deletes`)
    expect(routes().filter((route) => route === 'search')).toHaveLength(MAX_NOTES_ROUNDS)
  })

  it('when the notes search answers with a failed shard, then reading and deleting fail as unavailable: the answer may have left notes out', async () => {
    const { index, routes } = await indexOver({ search: (res) => json(res, 200, hitsOf([], { _shards: { total: 2, successful: 1, skipped: 0, failed: 1 } })) })

    expect(expectSearchUnavailable(await failureOf(index.readNotes(USER))).message).toBe('search engine answered search notes with 1 failed shard(s)')
    expectSearchUnavailable(await failureOf(index.deleteNotes(USER)))
    expect(routes()).not.toContain('bulk')
  })

  it('when the first page of a notes read is refused (a failed shard), then the snapshot it opened is cleared at once', async () => {
    const { index, routes } = await indexOver({ search: (res) => json(res, 200, { ...hitsOf([], { _shards: { total: 2, successful: 1, skipped: 0, failed: 1 } }), _scroll_id: 'scroll-1' }) })

    expectSearchUnavailable(await failureOf(index.readNotes(USER)))

    expect(routes()).toEqual(['search', 'clearScroll'])
  })

  it('when the notes search timed out on the engine, then deleting fails as unavailable', async () => {
    const { index } = await indexOver({ search: (res) => json(res, 200, hitsOf([], { timed_out: true })) })

    expectSearchUnavailable(await failureOf(index.deleteNotes(USER)))
  })
})

/** A scroll page of notes of USER (or of `userIdOf(id)`), with the scroll id to go on with and the engine's total. */
const scrollPage = (ids: string[], scrollId: string, total: { value: number; relation: 'eq' | 'gte' }, userIdOf: (id: string) => string = () => USER) => ({
  _scroll_id: scrollId,
  took: 1,
  timed_out: false,
  _shards: { total: 5, successful: 5, skipped: 0, failed: 0 },
  hits: { total, hits: ids.map((id) => ({ _index: 'usernotes', _id: id, _source: { userId: userIdOf(id), id } })) },
})

/** Answers each request of a route with the next of `answers` (the last one again once they run out). */
function inTurn(answers: unknown[]): (res: ServerResponse) => void {
  let next = 0
  return (res) => json(res, 200, answers[Math.min(next++, answers.length - 1)])
}

describe('OpenSearchUserIndex.readNotes', () => {
  it('when the notes fill several pages, then every page is read through one scroll, in order, and the scroll is cleared', async () => {
    const total = { value: 5, relation: 'eq' } as const
    const { index, stub, routes } = await indexOver(
      {
        search: (res) => json(res, 200, scrollPage(['n1', 'n2'], 'scroll-1', total)),
        scroll: inTurn([scrollPage(['n3', 'n4'], 'scroll-2', total), scrollPage(['n5'], 'scroll-3', total)]),
      },
      { pageSize: 2, maxPages: 10 },
    )

    expect((await index.readNotes(USER)).map((note) => note.id)).toEqual(['n1', 'n2', 'n3', 'n4', 'n5'])

    // The exact total says when it is done: no request for an empty page.
    expect(routes()).toEqual(['search', 'scroll', 'scroll', 'clearScroll'])
    const [search, firstScroll, secondScroll, clear] = stub.requests
    expect(search?.path).toContain('scroll=1m')
    expect(bodyOf(search)).toMatchObject({ size: 2, sort: ['_doc'], query: { term: { 'userId.raw': USER } } })
    expect(bodyOf(firstScroll)).toEqual({ scroll_id: 'scroll-1', scroll: '1m' })
    expect(bodyOf(secondScroll)).toEqual({ scroll_id: 'scroll-2', scroll: '1m' })
    expect(bodyOf(clear)).toEqual({ scroll_id: 'scroll-3' })
  })

  it('when the engine does not count the total exactly, then pages of the default size are read until one comes back empty, and only notes of exactly this user are kept', async () => {
    const total = { value: 10_000, relation: 'gte' } as const
    // The term on userId.raw matches case-insensitively: a user id differing in case only is someone else.
    const userIdOf = (id: string) => (id === 'other' ? USER.toUpperCase() : USER)
    const { index, stub, routes } = await indexOver({
      search: (res) => json(res, 200, scrollPage(['n1', 'other'], 'scroll-1', total, userIdOf)),
      scroll: inTurn([scrollPage(['n3'], 'scroll-1', total), scrollPage([], 'scroll-1', total)]),
    })

    expect((await index.readNotes(USER)).map((note) => note.id)).toEqual(['n1', 'n3'])

    expect(routes()).toEqual(['search', 'scroll', 'scroll', 'clearScroll'])
    expect(bodyOf(stub.requests[0])).toMatchObject({ size: NOTES_READ_PAGING.pageSize })
  })

  it('when the engine counts more notes than the bound, then it fails as unavailable after the first page, reads no further, and clears the scroll', async () => {
    const { index, routes } = await indexOver({ search: (res) => json(res, 200, scrollPage(['n1', 'n2'], 'scroll-1', { value: 5, relation: 'eq' })) }, { pageSize: 2, maxPages: 2 })

    const refusal = expectSearchUnavailable(await failureOf(index.readNotes(USER)))

    expect(refusal.message).toBe('search engine holds more than 4 notes for one user: the read is refused rather than cut short')
    expect(routes()).toEqual(['search', 'clearScroll'])
  })

  for (const perPage of [2, 1]) {
    it(`when the engine keeps answering pages of ${perPage} without an exact total, then it fails as unavailable after the bound's pages instead of reading for ever`, async () => {
      const ids = perPage === 2 ? ['n1', 'n2'] : ['n1']
      const page = scrollPage(ids, 'scroll-1', { value: 10_000, relation: 'gte' })
      const { index, routes } = await indexOver({ search: (res) => json(res, 200, page), scroll: (res) => json(res, 200, page) }, { pageSize: 2, maxPages: 3 })

      expectSearchUnavailable(await failureOf(index.readNotes(USER)))

      // Three full pages, and the one that should have come back empty.
      expect(routes()).toEqual(['search', 'scroll', 'scroll', 'scroll', 'clearScroll'])
    })
  }

  it('when a later page answers 404 (the engine let the scroll go: search_context_missing_exception), then it fails as unavailable, never as fewer notes', async () => {
    const { index } = await indexOver(
      {
        search: (res) => json(res, 200, scrollPage(['n1', 'n2'], 'scroll-1', { value: 3, relation: 'eq' })),
        scroll: (res) => refuse(res, 404, 'search_context_missing_exception'),
      },
      { pageSize: 2, maxPages: 10 },
    )

    const refusal = expectSearchUnavailable(await failureOf(index.readNotes(USER)), 404)

    expect(refusal.message).toBe('search engine answered 404 (search_context_missing_exception) to scroll notes')
  })

  it('when a later page has a failed shard, then it fails as unavailable: that page may have left notes out', async () => {
    const total = { value: 3, relation: 'eq' } as const
    const { index } = await indexOver(
      {
        search: (res) => json(res, 200, scrollPage(['n1', 'n2'], 'scroll-1', total)),
        scroll: (res) => json(res, 200, { ...scrollPage([], 'scroll-1', total), _shards: { total: 5, successful: 4, skipped: 0, failed: 1 } }),
      },
      { pageSize: 2, maxPages: 10 },
    )

    expect(expectSearchUnavailable(await failureOf(index.readNotes(USER))).message).toBe('search engine answered scroll notes with 1 failed shard(s)')
  })

  it('when clearing the scroll is refused, then the notes read are still returned: the engine drops the snapshot by itself', async () => {
    const { index, routes } = await indexOver({
      search: (res) => json(res, 200, scrollPage(['n1'], 'scroll-1', { value: 1, relation: 'eq' })),
      clearScroll: (res) => refuse(res, 500, 'exception'),
    })

    expect((await index.readNotes(USER)).map((note) => note.id)).toEqual(['n1'])
    expect(routes()).toEqual(['search', 'clearScroll'])
  })
})

describe('OpenSearchUserIndex.refreshUsers', () => {
  it('when every shard refreshed, then the refresh is one request on the alias and succeeds', async () => {
    const { index, stub, routes } = await indexOver({})

    await index.refreshUsers()

    expect(routes()).toEqual(['refresh'])
    expect(stub.requests[0]?.path.split('?')[0]).toBe('/user_alias/_refresh')
  })

  it('when some shards failed to refresh (a 200 all the same), then it fails as search unavailable: a search may still find the names the rewrites removed', async () => {
    const { index } = await indexOver({
      refresh: (res) =>
        json(res, 200, {
          _shards: { total: 2, successful: 1, failed: 1, failures: [{ shard: 0, index: 'userv3', status: 'INTERNAL_SERVER_ERROR', reason: { type: 'exception', reason: `[${USER}] ${EMAIL}` } }] },
        }),
    })

    const refusal = expectSearchUnavailable(await failureOf(index.refreshUsers()))
    expect(refusal.message).toContain('1 failed shard(s)')
  })
})
