import type { Client } from '@opensearch-project/opensearch'
import { DependencyUnavailableError, WordedCause } from '../deletion/errors.js'
import { notesIndexDefinition, userIndexDefinition, type IndexDefinition } from './sunbird-indexes.js'

export interface SearchMigrationResult {
  index: string
  aliases: string[]
  /** created: new index; updated: it existed, mapping re-applied (additive) and aliases ensured. */
  outcome: 'created' | 'updated'
}

/**
 * Creates Sunbird's user index (`userv3` behind `user_alias`) and `usernotes` when missing, and on
 * every run re-applies their mappings (a mapping PUT only adds fields) and aliases. Idempotent.
 * `definitions` defaults to Sunbird's two indexes; tests pass indexes of their own.
 */
export async function migrateSearch(
  client: Client,
  log: (line: string) => void = () => {},
  definitions: IndexDefinition[] = [userIndexDefinition(), notesIndexDefinition()],
): Promise<SearchMigrationResult[]> {
  await expectSearchEngine(client)
  const results: SearchMigrationResult[] = []
  for (const definition of definitions) {
    const exists = (await client.indices.exists({ index: definition.index })).body === true
    if (!exists) {
      try {
        await client.indices.create({ index: definition.index, body: definition.create })
      } catch (err) {
        // Another migrator created it between our check and our create: fine, carry on as "updated".
        if (!isAlreadyExists(err)) throw err
      }
    }
    await client.indices.putMapping({ index: definition.index, body: definition.mapping })
    for (const alias of definition.aliases) await client.indices.putAlias({ index: definition.index, name: alias })
    const outcome = exists ? 'updated' : 'created'
    results.push({ index: definition.index, aliases: definition.aliases, outcome })
    log(`search index ${definition.index}${definition.aliases.length ? ` (alias ${definition.aliases.join(', ')})` : ''}: ${outcome === 'created' ? 'created' : 'already there, mapping current'}`)
  }
  return results
}

function isAlreadyExists(err: unknown): boolean {
  const body = (err as { meta?: { body?: { error?: { type?: string } } } }).meta?.body
  return body?.error?.type === 'resource_already_exists_exception'
}

/**
 * Whatever answers 2xx to the index calls would pass for a search engine (a proxy's HTML page
 * answers HEAD /userv3 with 200): its root must tell an engine's version, else nothing is migrated.
 */
async function expectSearchEngine(client: Client): Promise<void> {
  const notAnEngine = () => new DependencyUnavailableError('search', { cause: new WordedCause('sunbird_es_host does not answer as a search engine (its root tells no version)') })
  const root = await client.info().catch((err: unknown) => {
    // Reached, but not JSON (an HTML page): not an engine. Unreachable: the driver's error, worded by the caller.
    if ((err as Error).name === 'DeserializationError') throw notAnEngine()
    throw err
  })
  const body = root.body as { version?: { number?: unknown } } | string | null | undefined
  if (typeof body !== 'object' || typeof body?.version?.number !== 'string') throw notAnEngine()
}
