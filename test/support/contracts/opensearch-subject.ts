import { randomUUID } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { Client } from '@opensearch-project/opensearch'
import type { JsonRow } from '../../../src/deletion/ports.js'
import { OpenSearchUserIndex } from '../../../src/search/opensearch-user-index.js'
import { createSearchClient } from '../../../src/search/search-client.js'
import { migrateSearch } from '../../../src/search/search-migrations.js'
import { NOTES_INDEX, notesIndexDefinition, USER_ALIAS } from '../../../src/search/sunbird-indexes.js'
import { freePort } from '../spawned-server.js'
import { type StubRequest, type StubServer, startStubServer } from '../stub-http-server.js'
import type { UserSearchIndexSubject } from './user-search-index.contract.js'

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

/** An error answer shaped as the engine's. */
function refuse(res: ServerResponse, status: number): void {
  const error = { type: status === 409 ? 'version_conflict_engine_exception' : status === 403 ? 'security_exception' : 'exception', reason: `refused with ${status}` }
  json(res, status, { error: { root_cause: [error], ...error }, status })
}

/** Answers a read of `userId`'s document or notes as the engine does (one note); false, and nothing answered, for any other request. */
function answerRead(request: StubRequest, res: ServerResponse, userId: string): boolean {
  const path = request.path.split('?')[0] ?? ''
  if (request.method === 'GET' && path === `/${USER_ALIAS}/_doc/${userId}`) {
    json(res, 200, { _index: 'userv3', _id: userId, found: true, _source: { id: userId, userId, status: 1, isDeleted: false } })
    return true
  }
  if (path === `/${NOTES_INDEX}/_search`) {
    const noteId = `note-${userId}`
    json(res, 200, {
      took: 1,
      timed_out: false,
      _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
      hits: { total: { value: 1, relation: 'eq' }, hits: [{ _index: NOTES_INDEX, _id: noteId, _source: { id: noteId, userId } }] },
    })
    return true
  }
  return false
}

/**
 * The OpenSearch adapter over Sunbird's real indexes (user_alias with its mapping, usernotes), as
 * the tests' global setup creates them. Documents are written as Sunbird's indexer writes them and
 * removed after each case; the unreachable engine is a port nothing listens on. An engine that
 * answers with error statuses is a stub speaking the engine's HTTP (no real engine refuses on
 * demand with any status); notes that cannot be deleted are real: a notes index of the case's own,
 * with Sunbird's mapping, under a write block.
 */
export function openSearchUserIndex(search: Client): UserSearchIndexSubject {
  const users: string[] = []
  const notes: string[] = []
  const ownClients: Client[] = []
  const stubs: StubServer[] = []
  const blockedIndexes: string[] = []
  const overStub = async (handle: (request: StubRequest, res: ServerResponse) => void) => {
    const stub = await startStubServer(handle)
    stubs.push(stub)
    const client = createSearchClient({ hosts: [stub.url], port: 9200, timeoutMs: 2000 })
    ownClients.push(client)
    return new OpenSearchUserIndex(client)
  }
  return {
    index: new OpenSearchUserIndex(search),
    async seedUser(userId, document) {
      users.push(userId)
      await search.index({ index: USER_ALIAS, id: userId, body: document, refresh: true })
    },
    async seedNote(noteId, note) {
      notes.push(noteId)
      await search.index({ index: NOTES_INDEX, id: noteId, body: note, refresh: true })
    },
    async unreachable() {
      const client = createSearchClient({ hosts: ['127.0.0.1'], port: await freePort(), timeoutMs: 500 })
      ownClients.push(client)
      return new OpenSearchUserIndex(client)
    },
    refusing: (status) => overStub((_request, res) => refuse(res, status)),
    refusingWrites: (userId, status) =>
      overStub((request, res) => {
        if (!answerRead(request, res, userId)) refuse(res, status)
      }),
    readingNotesInPages: async (pageSize, maxPages) => new OpenSearchUserIndex(search, USER_ALIAS, NOTES_INDEX, { pageSize, maxPages }),
    async notesUndeletable(seeded: Record<string, JsonRow>) {
      const index = `usernotes_blocked_${randomUUID().replaceAll('-', '')}`
      const definition = notesIndexDefinition(index)
      definition.create = { ...definition.create, settings: { index: { ...(definition.create.settings as { index: object }).index, number_of_shards: '1', number_of_replicas: '0' } } }
      blockedIndexes.push(index)
      await migrateSearch(search, undefined, [definition])
      const writes = Object.entries(seeded).flatMap(([id, note]) => [{ index: { _index: index, _id: id } }, note])
      if (writes.length > 0) await search.bulk({ refresh: true, body: writes })
      await search.indices.putSettings({ index, body: { 'index.blocks.write': true } })
      return new OpenSearchUserIndex(search, USER_ALIAS, index)
    },
    async dispose() {
      const removals = [...users.map((id) => ({ delete: { _index: USER_ALIAS, _id: id } })), ...notes.map((id) => ({ delete: { _index: NOTES_INDEX, _id: id } }))]
      if (removals.length > 0) await search.bulk({ refresh: true, body: removals })
      for (const index of blockedIndexes) {
        await search.indices.putSettings({ index, body: { 'index.blocks.write': false } }).catch(() => undefined)
        await search.indices.delete({ index })
      }
      await Promise.all([...ownClients.map((client) => client.close()), ...stubs.map((stub) => stub.close())])
    },
  }
}
