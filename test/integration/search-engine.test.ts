import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import type { Client } from '@opensearch-project/opensearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { projectRoot } from '../../src/config/project-root.js'
import { createSearchClient } from '../../src/search/search-client.js'
import { migrateSearch } from '../../src/search/search-migrations.js'
import { NOTES_INDEX, USER_ALIAS, USER_INDEX, notesIndexDefinition, userIndexDefinition } from '../../src/search/sunbird-indexes.js'
import { LOCAL_SEARCH } from '../support/test-env.js'

// biome-ignore lint/suspicious/noExplicitAny: reads deep into engine answers; the assertions check the shapes
type Json = Record<string, any>

/** A Sunbird user document as userorg-service indexes it (UserServiceImpl.getUserDetailsForES), with made-up values. */
function sunbirdUserDocument(id: string, firstName: string): Json {
  return {
    id,
    userId: id,
    identifier: id,
    firstName,
    lastName: 'Verma',
    userName: 'encrypted-username-value',
    email: '',
    maskedEmail: 'aa****@example.org',
    maskedPhone: '******7890',
    dob: '1999-04-15',
    status: 1,
    isDeleted: false,
    rootOrgId: 'org-root-1',
    channel: 'demo',
    organisations: [{ organisationId: 'org-root-1', orgName: 'Demo School', roles: ['PUBLIC'] }],
    roles: [{ role: 'PUBLIC', scope: [{ organisationId: 'org-root-1' }] }],
    framework: { board: ['CBSE'], gradeLevel: ['Class 5'], id: ['ekstep_ncert_k-12'] },
    profileLocation: [{ id: 'loc-1', type: 'state' }],
    createdDate: '2024-01-10 10:00:00:000+0000',
  }
}

describe("Sunbird's search indexes on the real OpenSearch", () => {
  let client: Client
  const suffix = randomUUID().slice(0, 8)
  const scratchUser = userIndexDefinition(`userv3_t${suffix}`, `user_alias_t${suffix}`)
  const scratchNotes = notesIndexDefinition(`usernotes_t${suffix}`)

  beforeAll(() => {
    client = createSearchClient({ ...LOCAL_SEARCH, timeoutMs: 10_000 })
  })
  afterAll(async () => {
    await client.indices.delete({ index: [scratchUser.index, scratchNotes.index], ignore_unavailable: true }).catch(() => undefined)
    await client.close()
  })

  it('when migrated onto an engine without them, then both indexes are created, and a second run changes nothing', async () => {
    const first = await migrateSearch(client, () => {}, [scratchUser, scratchNotes])
    const second = await migrateSearch(client, () => {}, [scratchUser, scratchNotes])

    expect(first.map((r) => r.outcome)).toEqual(['created', 'created'])
    expect(second.map((r) => r.outcome)).toEqual(['updated', 'updated'])
    const aliases = (await client.indices.getAlias({ name: scratchUser.aliases[0]! })).body as Json
    expect(Object.keys(aliases)).toEqual([scratchUser.index])
  })

  it('when the alias already names a deployment’s own index (after a reindex), then nothing is created or changed: the alias keeps naming that one index', async () => {
    const own = `user_reindexed_t${suffix}`
    const aliased = userIndexDefinition(`userv3_r${suffix}`, `user_alias_r${suffix}`)
    await client.indices.create({ index: own, body: { aliases: { [aliased.aliases[0]!]: {} } } })
    try {
      const lines: string[] = []
      const [result] = await migrateSearch(client, (line) => lines.push(line), [aliased])

      expect(result).toMatchObject({ outcome: 'aliased elsewhere', aliasedTo: [own] })
      expect((await client.indices.exists({ index: aliased.index })).body).toBe(false)
      expect(Object.keys((await client.indices.getAlias({ name: aliased.aliases[0]! })).body as Json)).toEqual([own])
      expect(lines).toEqual([`search index ${aliased.index}: not created, alias ${aliased.aliases[0]} names ${own} already (left as it is)`])
    } finally {
      await client.indices.delete({ index: [own, aliased.index], ignore_unavailable: true }).catch(() => undefined)
    }
  })

  it('when the index exists with a mapping of the deployment’s own (dynamic fields on), then the run adds the fields it lacks and leaves dynamic as it was', async () => {
    const existing = userIndexDefinition(`userv3_d${suffix}`, `user_alias_d${suffix}`)
    // Sunbird's settings (its analyzers), a mapping of its own.
    await client.indices.create({ index: existing.index, body: { settings: existing.create.settings as Json, mappings: { dynamic: true, properties: { id: { type: 'keyword' } } } } })
    try {
      const [result] = await migrateSearch(client, () => {}, [existing])

      expect(result?.outcome).toBe('updated')
      const mapping = ((await client.indices.getMapping({ index: existing.index })).body as Json)[existing.index].mappings
      expect(String(mapping.dynamic)).toBe('true')
      expect(mapping.properties.firstName).toBeDefined()
    } finally {
      await client.indices.delete({ index: existing.index, ignore_unavailable: true }).catch(() => undefined)
    }
  })

  it("when created, then the user index has Sunbird's settings and analyzers with the two 7.x fixes", async () => {
    const settings = ((await client.indices.getSettings({ index: USER_INDEX })).body as Json)[USER_INDEX].settings.index

    expect(settings.number_of_shards).toBe('5')
    expect(settings.max_ngram_diff).toBe('7')
    expect(settings.analysis.filter.mynGram).toMatchObject({ type: 'ngram', min_gram: '3', max_gram: '10' })
    expect(settings.analysis.analyzer.cs_search_analyzer).toMatchObject({ tokenizer: 'standard', filter: ['lowercase'] })
    expect(settings.analysis.analyzer.keylower).toMatchObject({ tokenizer: 'keyword', filter: 'lowercase' })
  })

  it("when created, then user_alias carries Sunbird's mapping: ids as keywords, names through the ngram analyzer, dob a date", async () => {
    const mapping = ((await client.indices.getMapping({ index: USER_ALIAS })).body as Json)[USER_INDEX].mappings

    expect(mapping.dynamic).toBe('false')
    expect(mapping.properties.userId).toMatchObject({ type: 'keyword' })
    expect(mapping.properties.firstName).toMatchObject({ type: 'text', analyzer: 'cs_index_analyzer', search_analyzer: 'cs_search_analyzer', fields: { raw: { type: 'text', analyzer: 'keylower' } } })
    expect(mapping.properties.dob).toMatchObject({ type: 'date' })
    expect(mapping.properties.organisations.properties.organisationId).toMatchObject({ type: 'keyword' })
    expect(Object.keys(mapping.properties)).toHaveLength(Object.keys((userIndexDefinition().mapping as Json).properties).length)
  })

  it("when Sunbird's index analyzer reads a name, then it yields the 3..10 character grams a partial-name search matches", async () => {
    const { body } = await client.indices.analyze({ index: USER_INDEX, body: { analyzer: 'cs_index_analyzer', text: 'Aarav' } })

    expect((body as Json).tokens.map((t: Json) => t.token)).toEqual(['aar', 'aara', 'aarav', 'ara', 'arav', 'rav'])
  })

  it('when a Sunbird-shaped user document is indexed through user_alias, then it is found by id, by userId term and by part of the name', async () => {
    const id = randomUUID()
    const firstName = `Zeph${suffix}`
    try {
      await client.index({ index: USER_ALIAS, id, body: sunbirdUserDocument(id, firstName), refresh: 'wait_for' })

      const byId = await client.get({ index: USER_ALIAS, id })
      const byUserId = await client.search({ index: USER_ALIAS, body: { query: { term: { userId: id } } } })
      const byPartialName = await client.search({ index: USER_ALIAS, body: { query: { match: { firstName: firstName.slice(0, 6) } } } })

      expect((byId.body as Json)._index).toBe(USER_INDEX)
      expect((byId.body as Json)._source).toMatchObject({ userId: id, firstName, dob: '1999-04-15' })
      expect((byUserId.body as Json).hits.hits.map((h: Json) => h._id)).toEqual([id])
      expect((byPartialName.body as Json).hits.hits.map((h: Json) => h._id)).toContain(id)
    } finally {
      await client.delete({ index: USER_ALIAS, id, refresh: 'wait_for' }).catch(() => undefined)
    }
  })

  it('when a note is indexed in usernotes, then it is found by its userId', async () => {
    const userId = randomUUID()
    const id = randomUUID()
    try {
      await client.index({ index: NOTES_INDEX, id, body: { id, identifier: id, userId, title: 'Lesson plan', note: 'free text', tags: ['math'], isDeleted: false }, refresh: 'wait_for' })

      const found = await client.search({ index: NOTES_INDEX, body: { query: { match: { userId } } } })

      expect((found.body as Json).hits.hits.map((h: Json) => h._id)).toEqual([id])
    } finally {
      await client.delete({ index: NOTES_INDEX, id, refresh: 'wait_for' }).catch(() => undefined)
    }
  })
})

describe('npm run search:migrate', () => {
  const run = (env: Record<string, string | undefined>) => {
    const clean = { ...process.env, sunbird_es_host: undefined, sunbird_es_port: undefined, ...env }
    return spawnSync(join(projectRoot, 'node_modules', '.bin', 'tsx'), ['scripts/search-migrate.ts'], { cwd: projectRoot, env: clean as NodeJS.ProcessEnv, encoding: 'utf8' })
  }

  it('when sunbird_es_host is not set, then it says it skipped the indexes because search is not configured', () => {
    const result = run({})

    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout).toContain('search indexes skipped: search is not configured')
  })

  it('when sunbird_es_host and sunbird_es_port point at the engine, then it reports both indexes current', () => {
    const result = run({ sunbird_es_host: LOCAL_SEARCH.hosts[0], sunbird_es_port: String(LOCAL_SEARCH.port) })

    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout).toContain(`search index ${USER_INDEX} (alias ${USER_ALIAS})`)
    expect(result.stdout).toContain(`search index ${NOTES_INDEX}`)
  })
})
