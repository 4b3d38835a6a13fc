import { signApiBearer } from '../../scripts/lib/sign-jwt.js'
import { LOCAL_CONSUMER, testConfig } from './harness.js'
import { type SpawnedServer, startBuiltServer } from './spawned-server.js'
import { ISSUER, LOCAL_REDIS, LOCAL_SEARCH, TEST_KEYSPACE } from './test-env.js'
import { createRealmKeys, mintUserToken, type RealmKeys, type UserTokenClaims } from './user-tokens.js'

export interface ContractServer extends SpawnedServer {
  /** The realm keys the server trusts (a PEM folder of the test's own). */
  keys: RealmKeys
  /** A gateway consumer JWT of the local consumer. */
  apiBearer: string
  userToken(claims: UserTokenClaims, options?: Parameters<typeof mintUserToken>[3]): string
}

/**
 * The env the built server runs with in the contract tier (and the bench): the tests' keyspace, the
 * local search engine and Redis, the local gateway consumer, and realm keys from a PEM folder, so
 * tokens are minted offline. The one place it is spelled out; `extra` adds or overrides variables.
 * The server runs with NODE_ENV=production, which refuses the shipped receipt key: the tests bring
 * their own.
 */
export function contractServerEnv(keysDir: string, extra: Record<string, string> = {}): Record<string, string> {
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
    DELETION_RECEIPT_HASH_KEY: 'contract-tests-receipt-hash-key',
    ...extra,
  }
}

/** The built server (the contract project's one build) as its own process, with contractServerEnv(), on `options.port` or a free port; `startTimeoutMs` bounds its start (startBuiltServer). */
export async function startContractServer(options: { env?: Record<string, string>; keys?: RealmKeys; port?: number; startTimeoutMs?: number } = {}): Promise<ContractServer> {
  const keys = options.keys ?? createRealmKeys()
  const server = await startBuiltServer(contractServerEnv(keys.dir, options.env), { port: options.port, startTimeoutMs: options.startTimeoutMs })
  return {
    ...server,
    keys,
    apiBearer: signApiBearer(LOCAL_CONSUMER.key, LOCAL_CONSUMER.secret),
    userToken: (claims, tokenOptions) => mintUserToken(keys, ISSUER, claims, tokenOptions),
  }
}
