import type { Client } from '@opensearch-project/opensearch'
import { DependencyUnavailableError, WordedCause } from '../deletion/errors.js'
import { notesIndexDefinition, userIndexDefinition, type IndexDefinition } from './sunbird-indexes.js'

export interface SearchMigrationResult {
  index: string
  aliases: string[]
  /**
   * created: new index; updated: it existed, its fields added to (additively) and aliases ensured;
   * aliased elsewhere: an alias of it already names another index (a deployment's own, e.g. after a
   * reindex), so nothing was created or changed: the service reads and erases through the alias.
   */
  outcome: 'created' | 'updated' | 'aliased elsewhere'
  /** For `aliased elsewhere`: the indexes the alias names. */
  aliasedTo?: string[]
}

/**
 * Creates Sunbird's user index (`userv3` behind `user_alias`) and `usernotes` when missing, and on
 * every run adds their mappings' fields (a mapping PUT only adds fields) and ensures their aliases.
 * Idempotent. It never changes a deployment's own index: where an alias already names another
 * index, that index is left as it is (an empty `userv3` added under the alias would split it, and
 * Sunbird's writes through it would fail); on an index that exists only the fields are sent, never
 * the mapping's root parameters (`dynamic`), which would change how the index takes new fields.
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
    const elsewhere = await indexesAliasedElsewhere(client, definition)
    if (elsewhere.length > 0) {
      results.push({ index: definition.index, aliases: definition.aliases, outcome: 'aliased elsewhere', aliasedTo: elsewhere })
      log(`search index ${definition.index}: not created, alias ${definition.aliases.join(', ')} names ${elsewhere.join(', ')} already (left as it is)`)
      continue
    }
    const exists = (await client.indices.exists({ index: definition.index })).body === true
    if (!exists) {
      try {
        await client.indices.create({ index: definition.index, body: definition.create })
      } catch (err) {
        // Another migrator created it between our check and our create: fine, carry on as "updated".
        if (!isAlreadyExists(err)) throw err
      }
    }
    await client.indices.putMapping({ index: definition.index, body: exists ? fieldsOf(definition.mapping) : definition.mapping })
    for (const alias of definition.aliases) await client.indices.putAlias({ index: definition.index, name: alias })
    const outcome = exists ? 'updated' : 'created'
    results.push({ index: definition.index, aliases: definition.aliases, outcome })
    log(`search index ${definition.index}${definition.aliases.length ? ` (alias ${definition.aliases.join(', ')})` : ''}: ${outcome === 'created' ? 'created' : 'already there, mapping current'}`)
  }
  return results
}

/** The indexes other than the definition's own that its aliases already name (none when no alias exists yet). */
async function indexesAliasedElsewhere(client: Client, definition: IndexDefinition): Promise<string[]> {
  const named = new Set<string>()
  for (const alias of definition.aliases) {
    const exists = (await client.indices.existsAlias({ name: alias })).body === true
    if (!exists) continue
    for (const index of Object.keys((await client.indices.getAlias({ name: alias })).body as Record<string, unknown>)) named.add(index)
  }
  return named.has(definition.index) ? [] : [...named].sort()
}

/** A mapping's fields alone: what may be added to an index that exists, whoever created it. */
function fieldsOf(mapping: IndexDefinition['mapping']): IndexDefinition['mapping'] {
  const { properties } = mapping as { properties?: unknown }
  return properties === undefined ? {} : { properties }
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
