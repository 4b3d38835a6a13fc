import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { projectRoot } from '../../src/config/project-root.js'
import { LOCAL_REDIS, LOCAL_SEARCH, TEST_KEYSPACE } from './test-env.js'

/**
 * `npm run deletion:verify -- <requestId>` as an operator runs it (tsx, to its exit), on the test
 * keyspace, the local search engine and Redis, with `env` on top.
 */
export function runDeletionVerify(requestId: string, env: Record<string, string> = {}) {
  return spawnSync(join(projectRoot, 'node_modules', '.bin', 'tsx'), ['scripts/deletion-verify.ts', requestId], {
    cwd: projectRoot,
    encoding: 'utf8',
    env: {
      ...process.env,
      CASSANDRA_KEYSPACE: TEST_KEYSPACE,
      sunbird_es_host: '127.0.0.1',
      sunbird_es_port: String(LOCAL_SEARCH.port),
      sunbird_redis_host: LOCAL_REDIS.host,
      sunbird_redis_port: String(LOCAL_REDIS.port),
      ...env,
    },
  })
}
