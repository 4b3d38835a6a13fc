import type { Client } from '@opensearch-project/opensearch'
import { OpenSearchUserIndex } from '../../../src/search/opensearch-user-index.js'
import { createSearchClient } from '../../../src/search/search-client.js'
import { NOTES_INDEX, USER_ALIAS } from '../../../src/search/sunbird-indexes.js'
import { freePort } from '../spawned-server.js'
import type { UserSearchIndexSubject } from './user-search-index.contract.js'

/**
 * The OpenSearch adapter over Sunbird's real indexes (user_alias with its mapping, usernotes), as
 * the tests' global setup creates them. Documents are written as Sunbird's indexer writes them and
 * removed after each case; the unreachable engine is a port nothing listens on.
 */
export function openSearchUserIndex(search: Client): UserSearchIndexSubject {
  const users: string[] = []
  const notes: string[] = []
  const closedClients: Client[] = []
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
      closedClients.push(client)
      return new OpenSearchUserIndex(client)
    },
    async dispose() {
      const removals = [...users.map((id) => ({ delete: { _index: USER_ALIAS, _id: id } })), ...notes.map((id) => ({ delete: { _index: NOTES_INDEX, _id: id } }))]
      if (removals.length > 0) await search.bulk({ refresh: true, body: removals })
      await Promise.all(closedClients.map((client) => client.close()))
    },
  }
}
