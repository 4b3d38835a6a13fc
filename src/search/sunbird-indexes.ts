import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { configDir } from '../config/project-root.js'

/** Sunbird's user index behind the alias every Sunbird service addresses, and the notes index. */
export const USER_INDEX = 'userv3'
export const USER_ALIAS = 'user_alias'
export const NOTES_INDEX = 'usernotes'

type Json = Record<string, unknown>

export interface IndexDefinition {
  /** The concrete index created. */
  index: string
  /** Aliases pointing at it. */
  aliases: string[]
  /** Body of the create-index request: settings (and aliases), Elasticsearch 7 ready. */
  create: Json
  /** Body of the typeless PUT <index>/_mapping. */
  mapping: Json
}

const readJson = (...path: string[]): Json => JSON.parse(readFileSync(join(configDir, 'search', ...path), 'utf8')) as Json
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Sunbird ships 6.x-era index files (config/search/SOURCES.md). An Elasticsearch 7 / OpenSearch
 * engine refuses three things in them; this returns the create body with exactly those changed:
 * 1. index.max_ngram_diff set to the widest min_gram..max_gram span of the ngram filters;
 * 2. the removed `standard` token filter dropped from every analyzer (a no-op since 6.x);
 * 3. a mapping nested under the type `_doc` un-nested (typeless index creation).
 */
export function forElasticsearch7(create: Json): Json {
  const body = structuredClone(create)
  const settings = isObject(body.settings) ? body.settings : {}
  const index = isObject(settings.index) ? settings.index : settings
  const analysis = isObject(index.analysis) ? index.analysis : {}
  const filters = isObject(analysis.filter) ? Object.values(analysis.filter).filter(isObject) : []
  const spans = filters.filter((filter) => filter.type === 'ngram' || filter.type === 'nGram').map((filter) => Number(filter.max_gram ?? 2) - Number(filter.min_gram ?? 1))
  if (spans.length) index.max_ngram_diff = String(Math.max(...spans))
  for (const analyzer of Object.values(isObject(analysis.analyzer) ? analysis.analyzer : {}).filter(isObject)) {
    if (Array.isArray(analyzer.filter)) analyzer.filter = analyzer.filter.filter((name) => name !== 'standard')
    else if (analyzer.filter === 'standard') delete analyzer.filter
  }
  if (isObject(body.mappings) && Object.keys(body.mappings).length === 1 && isObject(body.mappings._doc)) {
    body.mappings = body.mappings._doc
  }
  return body
}

/** The user index: Sunbird's userorg-service settings and mapping, `userv3` behind `user_alias`. */
export function userIndexDefinition(index = USER_INDEX, alias = USER_ALIAS): IndexDefinition {
  const create = forElasticsearch7(readJson('indices', 'user.json'))
  create.aliases = { [alias]: {} }
  return { index, aliases: [alias], create, mapping: readJson('mappings', 'user-mapping.json') }
}

/** The notes index: Sunbird's devops settings and mapping for `usernotes`. */
export function notesIndexDefinition(index = NOTES_INDEX): IndexDefinition {
  return { index, aliases: [], create: forElasticsearch7(readJson('indices', 'usernotes.json')), mapping: readJson('mappings', 'usernotes-mapping.json') }
}
