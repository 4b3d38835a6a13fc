import type { TestProject } from 'vitest/node'
import { up } from '../../scripts/services.mjs'
import { loadConfig } from '../../src/config/load-config.js'
import { createSearchClient } from '../../src/search/search-client.js'
import { migrateSearch } from '../../src/search/search-migrations.js'
import { migrate } from '../../src/store/migrations.js'
import { LOCAL_SEARCH, TEST_KEYSPACE } from './test-env.js'

/**
 * Once per run, for the integration and contract projects: the real local servers (reused when
 * already up) — one Cassandra node and one Kafka broker whatever CASSANDRA_NODES / KAFKA_BROKERS
 * say, Keycloak, OpenSearch and Redis — then the schema in a keyspace of the tests' own, so a demo
 * started with `npm start` keeps its data, and Sunbird's search indexes.
 */
export default async function setup(_project: TestProject): Promise<void> {
  await up(['cassandra', 'keycloak', 'kafka', 'opensearch', 'redis'], { cassandraNodes: 1, kafkaBrokers: 1 })
  const config = loadConfig({ cassandra: { keyspace: TEST_KEYSPACE }, search: LOCAL_SEARCH })
  await migrate(config.cassandra)
  const search = createSearchClient(config.search)
  try {
    await migrateSearch(search)
  } finally {
    await search.close()
  }
}
