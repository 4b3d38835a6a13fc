import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { configDir } from '../config/project-root.js'
import { forElasticsearch7, notesIndexDefinition, userIndexDefinition, USER_ALIAS, USER_INDEX } from './sunbird-indexes.js'

// biome-ignore lint/suspicious/noExplicitAny: deep reads into JSON files; the assertions check the shapes
type Json = Record<string, any>
const sunbirdFile = (...path: string[]): Json => JSON.parse(readFileSync(join(configDir, 'search', ...path), 'utf8')) as Json

describe("forElasticsearch7: the three changes a 7.x engine needs in Sunbird's 6.x index files", () => {
  it('when the ngram filter spans 3..10, then index.max_ngram_diff is 7 and the filter itself is untouched', () => {
    const fixed: Json = forElasticsearch7(sunbirdFile('indices', 'user.json'))

    expect(fixed.settings.index.max_ngram_diff).toBe('7')
    expect(fixed.settings.index.analysis.filter.mynGram).toEqual(sunbirdFile('indices', 'user.json').settings.index.analysis.filter.mynGram)
  })

  it('when an analyzer lists the removed standard token filter, then only that entry is dropped', () => {
    const fixed: Json = forElasticsearch7(sunbirdFile('indices', 'user.json'))

    expect(fixed.settings.index.analysis.analyzer.cs_search_analyzer).toEqual({ filter: ['lowercase'], type: 'custom', tokenizer: 'standard' })
    expect(fixed.settings.index.analysis.analyzer.cs_index_analyzer.filter).toEqual(['lowercase', 'mynGram'])
    expect(fixed.settings.index.analysis.analyzer.keylower).toEqual({ filter: 'lowercase', type: 'custom', tokenizer: 'keyword' })
  })

  it("when the mapping is nested under the _doc type, then it is un-nested; Sunbird's file stays as shipped", () => {
    const shipped = sunbirdFile('indices', 'usernotes.json')

    const fixed: Json = forElasticsearch7(shipped)

    expect(fixed.mappings).toEqual(shipped.mappings._doc)
    expect(fixed.settings.index.max_ngram_diff).toBe('19')
    expect(shipped.mappings._doc).toBeDefined()
  })

  it('when settings need no change, then nothing else is added', () => {
    const body = { settings: { index: { number_of_shards: '1' } } }

    expect(forElasticsearch7(body)).toEqual(body)
  })
})

describe('Sunbird index definitions', () => {
  it("when the user index is defined, then it is userv3 behind user_alias with Sunbird's mapping file as the mapping", () => {
    const user = userIndexDefinition()

    expect([user.index, user.aliases]).toEqual([USER_INDEX, [USER_ALIAS]])
    expect(user.create.aliases).toEqual({ user_alias: {} })
    expect(user.mapping).toEqual(sunbirdFile('mappings', 'user-mapping.json'))
  })

  it('when the notes index is defined, then it is usernotes with no alias', () => {
    const notes = notesIndexDefinition()
    const mapping: Json = notes.mapping

    expect([notes.index, notes.aliases]).toEqual(['usernotes', []])
    expect(mapping.properties.note).toBeDefined()
  })
})
