import { Client } from '@opensearch-project/opensearch'
import { afterEach, describe, expect, it } from 'vitest'
import { type StubServer, startStubServer } from '../../test/support/stub-http-server.js'
import { DependencyUnavailableError } from '../deletion/errors.js'
import { migrateSearch } from './search-migrations.js'

// Against the real OpenSearch: test/integration/search-engine.test.ts. Here, what only a stand-in can be: something that is not an engine.
let stub: StubServer | undefined
afterEach(async () => {
  await stub?.close()
})

describe('migrateSearch over something that is not a search engine', () => {
  it.each([
    ['an HTML page answering 200 to everything', 'text/html', '<html><body>Welcome to nginx!</body></html>'],
    ['JSON without a version', 'application/json', '{"ok":true}'],
  ])('when the host is %s, then nothing is created and it fails as the search dependency, worded', async (_what, contentType, body) => {
    stub = await startStubServer((_request, res) => {
      res.writeHead(200, { 'content-type': contentType })
      res.end(body)
    })
    const client = new Client({ node: stub.url, maxRetries: 0 })

    const failure = await migrateSearch(client).catch((err: unknown) => err)

    expect(failure).toBeInstanceOf(DependencyUnavailableError)
    expect((failure as DependencyUnavailableError).dependency).toBe('search')
    expect(((failure as Error).cause as Error).message).toBe('sunbird_es_host does not answer as a search engine (its root tells no version)')
    expect(stub.requests.map((request) => `${request.method} ${request.path}`)).toEqual(['GET /'])
    await client.close()
  })
})
