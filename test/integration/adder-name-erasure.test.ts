import { randomUUID } from 'node:crypto'
import type { Client as SearchClient } from '@opensearch-project/opensearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StepContext } from '../../src/deletion/steps/step.js'
import { countAdderNamed, searchAddedByName } from '../../src/deletion/steps/search-added-by-name.js'
import { OpenSearchUserIndex } from '../../src/search/opensearch-user-index.js'
import { createSearchClient } from '../../src/search/search-client.js'
import { migrateSearch } from '../../src/search/search-migrations.js'
import { USER_ALIAS, userIndexDefinition } from '../../src/search/sunbird-indexes.js'
import { CassandraUserStore } from '../../src/store/cassandra-user-store.js'
import { expectDeleted } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { lifecycle } from '../support/lifecycle.js'
import { newPerson, seedEverywhere } from '../support/personal-data.js'
import { LOCAL_SEARCH, TEST_KEYSPACE } from '../support/test-env.js'

const ORG = '0137000000000000000031'
const OTHER_ORG = '0137000000000000000032'

type Membership = { organisationId: string; addedBy?: string; addedByName?: string; orgName?: string }

/**
 * Other users the person added to an organisation, as older Sunbird versions wrote them: the adder's
 * id and name in each membership of the added user's search document and user_organisation row.
 */
describe("the deleted person's name in other users' memberships (addedByName), on the real Cassandra and OpenSearch", () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  let search: SearchClient
  beforeAll(async () => {
    h = await startHarness()
    api = lifecycle(h)
    search = createSearchClient({ ...LOCAL_SEARCH, timeoutMs: 10_000 })
  })
  afterAll(async () => {
    await Promise.all([h.close(), search.close()])
  })

  async function seedAdded(userId: string, memberships: Membership[]): Promise<void> {
    await search.index({ index: USER_ALIAS, id: userId, refresh: true, body: { id: userId, userId, firstName: 'Meera', status: 1, isDeleted: false, organisations: memberships } })
    for (const m of memberships) {
      await h.db.execute(
        `INSERT INTO ${TEST_KEYSPACE}.user_organisation (userid, organisationid, addedby, addedbyname, isdeleted) VALUES (?, ?, ?, ?, false)`,
        [userId, m.organisationId, m.addedBy ?? null, m.addedByName ?? null],
        {
          prepare: true,
        },
      )
    }
  }
  /** Refreshes the engine has run on the index (its external refresh stats: each one a run or a client asked for). */
  const refreshCount = async (index: string) => {
    const { body } = await search.indices.stats({ index, metric: 'refresh' })
    return Number((body.indices as Record<string, { primaries: { refresh: { external_total: number } } }>)[index]?.primaries.refresh.external_total)
  }
  const documentOf = async (userId: string) => (await search.get({ index: USER_ALIAS, id: userId })).body
  const rowsOf = async (userId: string) =>
    (await h.db.execute(`SELECT organisationid, addedby, addedbyname, isdeleted FROM ${TEST_KEYSPACE}.user_organisation WHERE userid = ?`, [userId], { prepare: true })).rows.map((row) => ({
      organisationId: row.get('organisationid'),
      addedBy: row.get('addedby'),
      addedByName: row.get('addedbyname'),
      isDeleted: row.get('isdeleted'),
    }))
  /** The step run alone through the real adapters, as a run after the deletion's would. */
  const runStepAgain = (userId: string, index = new OpenSearchUserIndex(search)) =>
    searchAddedByName.run({
      deps: { search: index, users: new CassandraUserStore(h.db, TEST_KEYSPACE), clock: { now: () => new Date() } },
      request: { id: `req-${randomUUID()}`, userId, steps: {} },
      plan: 'sunbird',
    } as unknown as StepContext)

  it("when the person is deleted, then their name leaves the documents and rows of the users they added, a third adder's name and every other field stay, the receipt counts them, and a run again changes nothing", async () => {
    const p = newPerson()
    const adderName = `${p.firstName} ${p.lastName}`
    const third = randomUUID()
    const [a, b] = [randomUUID(), randomUUID()]
    await seedEverywhere(h, search, p, ORG)
    await seedAdded(a, [
      { organisationId: ORG, orgName: 'Demo School', addedBy: p.id, addedByName: adderName },
      { organisationId: OTHER_ORG, orgName: 'Other School', addedBy: third, addedByName: 'Ravi Kumar' },
    ])
    await seedAdded(b, [{ organisationId: ORG, orgName: 'Demo School', addedBy: p.id, addedByName: adderName }])
    const found = await search.search({ index: USER_ALIAS, body: { query: { match: { 'organisations.addedByName': adderName } } } })
    expect(found.body.hits.hits.map((hit) => hit._id)).toEqual(expect.arrayContaining([a, b]))

    await expectDeleted(await api.remove(p.id, {}, api.asUser(p.id)))

    expect((await documentOf(a))._source).toEqual({
      id: a,
      userId: a,
      firstName: 'Meera',
      status: 1,
      isDeleted: false,
      organisations: [
        { organisationId: ORG, orgName: 'Demo School', addedBy: p.id },
        { organisationId: OTHER_ORG, orgName: 'Other School', addedBy: third, addedByName: 'Ravi Kumar' },
      ],
    })
    expect((await documentOf(b))._source.organisations).toEqual([{ organisationId: ORG, orgName: 'Demo School', addedBy: p.id }])
    expect((await rowsOf(a)).sort((x, y) => String(x.organisationId).localeCompare(String(y.organisationId)))).toEqual([
      { organisationId: ORG, addedBy: p.id, addedByName: null, isDeleted: false },
      { organisationId: OTHER_ORG, addedBy: third, addedByName: 'Ravi Kumar', isDeleted: false },
    ])
    expect(await rowsOf(b)).toEqual([{ organisationId: ORG, addedBy: p.id, addedByName: null, isDeleted: false }])
    // No refresh of our own: the step refreshes once after its rewrites, so a search right after sees them.
    const gone = await search.search({ index: USER_ALIAS, body: { query: { match: { 'organisations.addedByName': adderName } } } })
    expect(gone.body.hits.hits.map((hit) => hit._id).filter((id) => id === a || id === b)).toEqual([])
    const [request] = await requestsOf(h.db, p.id)
    expect(request?.state).toBe('completed')
    const stores = (request?.receipt?.stores ?? []) as { store: string; action: string; count?: number }[]
    expect(stores.filter((entry) => entry.store.includes('addedbyname') || entry.store.includes('addedByName'))).toEqual([
      expect.objectContaining({ store: 'search.user_alias (addedByName)', action: 'blanked', count: 2 }),
      expect.objectContaining({ store: 'cassandra.user_organisation (addedbyname)', action: 'blanked', count: 2 }),
    ])
    expect(JSON.stringify(request)).not.toContain(p.firstName)

    const versions = [(await documentOf(a))._seq_no, (await documentOf(b))._seq_no]
    const again = await runStepAgain(p.id)
    expect(again).toMatchObject({ status: 'done', action: 'blanked', count: 0, entries: [{ count: 0 }, { count: 0 }] })
    expect([(await documentOf(a))._seq_no, (await documentOf(b))._seq_no]).toEqual(versions)
  })

  it("when a deletion run rewrote documents, then a search right after (deletion:verify's count) finds none naming the person, even on an index that never refreshes by itself; a run with nothing to rewrite refreshes nothing", async () => {
    // A user index of the case's own, with Sunbird's settings and mapping but no scheduled refresh: only a refresh the step asks for shows its rewrites.
    const suffix = randomUUID().replaceAll('-', '')
    const definition = userIndexDefinition(`userv3_norefresh_${suffix}`, `user_alias_norefresh_${suffix}`)
    const settings = definition.create.settings as { index: Record<string, unknown> }
    definition.create = { ...definition.create, settings: { index: { ...settings.index, number_of_shards: '1', number_of_replicas: '0', refresh_interval: '-1' } } }
    await migrateSearch(search, undefined, [definition])
    try {
      const index = new OpenSearchUserIndex(search, definition.aliases[0])
      const refreshes = () => refreshCount(definition.index)
      const adder = randomUUID()
      const added = [randomUUID(), randomUUID()]
      for (const userId of added) {
        await search.index({
          index: definition.index,
          id: userId,
          refresh: true,
          body: { id: userId, userId, status: 1, organisations: [{ organisationId: ORG, addedBy: adder, addedByName: 'Asha Verma' }] },
        })
      }
      expect(await countAdderNamed(index, adder)).toBe(2)
      const before = await refreshes()

      const outcome = await runStepAgain(adder, index)

      expect(outcome).toMatchObject({ status: 'done', action: 'blanked', count: 2 })
      expect(await countAdderNamed(index, adder)).toBe(0)
      const named = await search.search({ index: definition.index, body: { query: { match: { 'organisations.addedByName': 'Asha Verma' } } } })
      expect(named.body.hits.hits).toEqual([])
      // One refresh for the run, not one per document.
      expect((await refreshes()) - before).toBe(1)

      const afterRun = await refreshes()
      expect(await runStepAgain(adder, index)).toMatchObject({ status: 'done', count: 0 })
      expect(await refreshes()).toBe(afterRun)
    } finally {
      await search.indices.delete({ index: definition.index })
    }
  })

  it('when the engine refuses inline scripts (400), then the memberships are written back without the name under the read sequence number, and a write in between is read again, not overwritten', async () => {
    const adder = randomUUID()
    const added = randomUUID()
    await seedAdded(added, [
      { organisationId: ORG, addedBy: adder, addedByName: 'Asha Verma' },
      { organisationId: OTHER_ORG, addedBy: 'someone-else', addedByName: 'Ravi Kumar' },
    ])
    // The real engine behind a client that refuses scripted updates as `script.allowed_types: none` does,
    // and that lets another writer change the document once between the fallback's read and its write.
    let interleaved = false
    const refusingScripts = new Proxy(search, {
      get(target, property, receiver) {
        if (property !== 'update') return Reflect.get(target, property, receiver)
        return async (params: { id: string; body: { script?: unknown }; if_seq_no?: number }) => {
          if (params.body.script !== undefined) {
            throw Object.assign(new Error('Response Error'), {
              meta: { statusCode: 400, body: { error: { type: 'illegal_argument_exception', reason: 'cannot execute [inline] scripts' }, status: 400 } },
            })
          }
          if (params.if_seq_no !== undefined && !interleaved) {
            interleaved = true
            // Another membership added meanwhile: writing back the memberships as first read would drop it.
            const { body } = await target.get({ index: USER_ALIAS, id: params.id })
            const organisations = [...((body._source?.organisations ?? []) as Membership[]), { organisationId: 'org-added-meanwhile', addedBy: 'someone-else' }]
            await target.update({ index: USER_ALIAS, id: params.id, refresh: true, body: { doc: { organisations } } })
          }
          return target.update(params as Parameters<SearchClient['update']>[0])
        }
      },
    })

    const outcome = await runStepAgain(adder, new OpenSearchUserIndex(refusingScripts as SearchClient))

    expect(interleaved).toBe(true)
    expect(outcome).toMatchObject({ status: 'done', entries: [{ count: 1 }, { count: 1 }] })
    const source = (await documentOf(added))._source
    expect(source.organisations).toEqual([
      { organisationId: ORG, addedBy: adder },
      { organisationId: OTHER_ORG, addedBy: 'someone-else', addedByName: 'Ravi Kumar' },
      { organisationId: 'org-added-meanwhile', addedBy: 'someone-else' },
    ])
    expect((await rowsOf(added)).find((row) => row.organisationId === ORG)?.addedByName).toBeNull()
  })
})
