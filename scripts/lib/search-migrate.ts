import type { Config } from '../../src/config/config.js'
import { createSearchClient, isSearchConfigured, searchNodeUrls } from '../../src/search/search-client.js'
import { migrateSearch } from '../../src/search/search-migrations.js'

/** Creates Sunbird's search indexes on the configured engine, or says plainly that it skipped them. */
export async function migrateConfiguredSearch(config: Config['search'], log: (line: string) => void): Promise<void> {
  if (!isSearchConfigured(config)) {
    log('search indexes skipped: search is not configured (set sunbird_es_host, and sunbird_es_port if not 9200)')
    return
  }
  const client = createSearchClient(config)
  try {
    log(`search engine ${searchNodeUrls(config).join(', ')}`)
    await migrateSearch(client, log)
  } finally {
    await client.close()
  }
}
