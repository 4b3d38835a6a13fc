import { testConfig } from './harness.js'
import { LOCAL_REDIS, LOCAL_SEARCH, TEST_KEYSPACE } from './test-env.js'

/** Env for the built server over the tests' keyspace, the local gateway consumer and a PEM key folder. */
export function builtServerEnv(keysDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'accesstoken.publickey.basepath': keysDir,
    API_BEARER_CONSUMERS_FILE: 'config/local/api-consumers.json',
    CASSANDRA_KEYSPACE: TEST_KEYSPACE,
    sunbird_cassandra_port: String(testConfig().cassandra.port),
    sunbird_es_host: LOCAL_SEARCH.hosts.join(','),
    sunbird_es_port: String(LOCAL_SEARCH.port),
    sunbird_redis_host: LOCAL_REDIS.host,
    sunbird_redis_port: String(LOCAL_REDIS.port),
    LOG_LEVEL: 'info',
    ...extra,
  }
}
