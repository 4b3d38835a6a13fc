import type { Client } from '@opensearch-project/opensearch'
import { DependencyUnavailableError } from '../deletion/errors.js'
import type { JsonRow, SearchUserFlags, UserSearchIndex } from '../deletion/ports.js'
import { NOTES_INDEX, USER_ALIAS } from './sunbird-indexes.js'

/** The engine's HTTP status on an error answer, if it answered at all. */
function statusOf(err: unknown): number | undefined {
  const status = (err as { meta?: { statusCode?: unknown } } | null)?.meta?.statusCode
  return typeof status === 'number' ? status : undefined
}

/** An engine that answered with an error is a bug (500); one that did not answer, or is overloaded, is a dependency down (the step is owed). */
async function runSearch<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    const status = statusOf(err)
    if (status === undefined || status === 429 || status >= 502) throw new DependencyUnavailableError('search', { cause: err })
    throw err
  }
}

const isNotFound = (err: unknown) => statusOf(err) === 404

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
  ) {}

  async readUser(userId: string): Promise<JsonRow | undefined> {
    return runSearch(async () => {
      try {
        const { body } = await this.client.get({ index: this.userAlias, id: userId })
        return body.found ? (body._source as JsonRow) : undefined
      } catch (err) {
        if (isNotFound(err)) return undefined
        throw err
      }
    })
  }

  async replaceUser(userId: string, document: JsonRow): Promise<'replaced' | 'absent'> {
    if (!(await this.readUser(userId))) return 'absent'
    await runSearch(() => this.client.index({ index: this.userAlias, id: userId, body: document, refresh: true }))
    return 'replaced'
  }

  async flagUserDeleted(userId: string): Promise<SearchUserFlags | undefined> {
    const document = await this.readUser(userId)
    if (!document) return undefined
    const prior: SearchUserFlags = {
      status: typeof document.status === 'number' ? document.status : null,
      isDeleted: typeof document.isDeleted === 'boolean' ? document.isDeleted : null,
      isBlocked: typeof document.isBlocked === 'boolean' ? document.isBlocked : null,
    }
    await runSearch(() => this.client.update({ index: this.userAlias, id: userId, body: { doc: { status: 2, isDeleted: true, isBlocked: true } }, refresh: true }))
    return prior
  }

  async restoreUserFlags(userId: string, prior: SearchUserFlags): Promise<boolean> {
    return runSearch(async () => {
      try {
        await this.client.update({ index: this.userAlias, id: userId, body: { doc: prior }, refresh: true })
        return true
      } catch (err) {
        if (isNotFound(err)) return false
        throw err
      }
    })
  }

  async deleteUser(userId: string): Promise<number> {
    return runSearch(async () => {
      try {
        const { body } = await this.client.delete({ index: this.userAlias, id: userId, refresh: true })
        return body.result === 'deleted' ? 1 : 0
      } catch (err) {
        if (isNotFound(err)) return 0
        throw err
      }
    })
  }

  async readNotes(userId: string): Promise<JsonRow[]> {
    return runSearch(async () => {
      try {
        const { body } = await this.client.search({ index: this.notesIndex, body: { query: notesOf(userId), size: 1000 } })
        return body.hits.hits.map((hit) => hit._source as JsonRow).filter((note) => note.userId === userId)
      } catch (err) {
        if (isNotFound(err)) return []
        throw err
      }
    })
  }

  /**
   * Found by search, then removed by id in one bulk request (no _delete_by_query: it lives in the
   * reindex module, which not every engine carries), page by page until none is left.
   */
  async deleteNotes(userId: string): Promise<number> {
    return runSearch(async () => {
      let deleted = 0
      for (;;) {
        let ids: string[]
        try {
          const { body } = await this.client.search({ index: this.notesIndex, body: { query: notesOf(userId), size: 500, _source: ['userId'] } })
          ids = body.hits.hits.filter((hit) => (hit._source as JsonRow | undefined)?.userId === userId).map((hit) => hit._id as string)
        } catch (err) {
          if (isNotFound(err)) return deleted
          throw err
        }
        if (ids.length === 0) return deleted
        const { body } = await this.client.bulk({ refresh: true, body: ids.map((id) => ({ delete: { _index: this.notesIndex, _id: id } })) })
        deleted += body.items.filter((item) => item.delete?.result === 'deleted').length
      }
    })
  }
}
