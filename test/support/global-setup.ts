import type { TestProject } from 'vitest/node'
import { up } from '../../scripts/services.mjs'
import { loadConfig } from '../../src/config/load-config.js'
import { migrate } from '../../src/store/migrations.js'
import { TEST_KEYSPACE } from './test-env.js'

/**
 * Once per run, for the integration and contract projects: the real local servers: Cassandra, Keycloak, Kafka (reused when
 * already up), then the schema in a keyspace of the tests' own, so a demo started with
 * `npm start` keeps its data.
 */
export default async function setup(_project: TestProject): Promise<void> {
  await up(['cassandra', 'keycloak', 'kafka'])
  const config = loadConfig({ cassandra: { keyspace: TEST_KEYSPACE } })
  await migrate(config.cassandra)
}
