import type { TestProject } from 'vitest/node'
import { up } from '../../../scripts/services.mjs'
import { loadConfig } from '../../../src/config/load-config.js'
import { createSearchClient } from '../../../src/search/search-client.js'
import { migrateSearch } from '../../../src/search/search-migrations.js'
import { migrate } from '../../../src/store/migrations.js'
import { LOCAL_SEARCH, TEST_KEYSPACE } from '../../support/test-env.js'
import { clusterEnv, CLUSTER_SIZE } from './cluster-env.js'

/**
 * Once per `npm run test:cluster`: the 3-node Cassandra and the 3-broker Kafka (the single-node
 * servers on the same ports are stopped first; their data stays), Keycloak, the tests' keyspace
 * with replication factor 3 (NetworkTopologyStrategy), the delete-user topic with replication
 * factor 3 and min.insync.replicas 2 (made by `up`), OpenSearch with Sunbird's indexes and Redis
 * as in the single-node suites. The built server for spawned instances comes from the contract
 * tier's one build per run (test/support/build-once.ts, the next global setup).
 */
export default async function setup(_project: TestProject): Promise<void> {
  Object.assign(process.env, clusterEnv())
  const started = Date.now()
  await up(['cassandra', 'kafka', 'keycloak', 'opensearch', 'redis'], { cassandraNodes: CLUSTER_SIZE, kafkaBrokers: CLUSTER_SIZE })
  // A minute per search request: creating Sunbird's index timed out at the default 3 s beside the clusters on a loaded machine.
  const config = loadConfig({ cassandra: { keyspace: TEST_KEYSPACE }, search: { ...LOCAL_SEARCH, timeoutMs: 60_000 } })
  await migrate(config.cassandra, (line) => process.stderr.write(`${line}\n`))
  const search = createSearchClient(config.search)
  try {
    await migrateSearch(search)
  } finally {
    await search.close()
  }
  process.stderr.write(`cluster ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
}
