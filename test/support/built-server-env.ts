import { testConfig } from './harness.js'
import { TEST_KEYSPACE } from './test-env.js'

/**
 * Env for the built server over the tests' keyspace, the local gateway consumer and a PEM key folder.
 * It runs with NODE_ENV=production, which refuses the shipped receipt key: the tests bring their own.
 */
export function builtServerEnv(keysDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'accesstoken.publickey.basepath': keysDir,
    API_BEARER_CONSUMERS_FILE: 'config/local/api-consumers.json',
    CASSANDRA_KEYSPACE: TEST_KEYSPACE,
    sunbird_cassandra_port: String(testConfig().cassandra.port),
    LOG_LEVEL: 'info',
    DELETION_RECEIPT_HASH_KEY: 'contract-tests-receipt-hash-key',
    ...extra,
  }
}
