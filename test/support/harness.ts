import { randomUUID } from 'node:crypto'
import type { Client } from 'cassandra-driver'
import { signApiBearer } from '../../scripts/lib/sign-jwt.js'
import { seedUser, type SeedUser } from '../../scripts/lib/seed-users.js'
import { composeService, type Service, type ServiceOverrides } from '../../src/compose.js'
import type { Config, DeepPartial } from '../../src/config/config.js'
import { loadConfig } from '../../src/config/load-config.js'
import { createLogger } from '../../src/logging/logger.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { ISSUER, LOCAL_REDIS, LOCAL_SEARCH, TEST_KEYSPACE } from './test-env.js'
import { createRealmKeys, mintUserToken, type RealmKeys, type UserTokenClaims } from './user-tokens.js'

export const LOCAL_CONSUMER = { key: 'local-portal', secret: 'local-portal-gateway-secret-change-me' }
/** The local consumer trusted with `"deleteAnyUser": true` (config/local/api-consumers.json): the service-to-service route's caller. */
export const LOCAL_DELETE_ANY_USER_CONSUMER = { key: 'local-notifications', secret: 'local-notifications-gateway-secret-change-me' }
/** A fresh API bearer of LOCAL_DELETE_ANY_USER_CONSUMER: the JWT such a service sends alone. */
export const trustedConsumerApiBearer = (): string => signApiBearer(LOCAL_DELETE_ANY_USER_CONSUMER.key, LOCAL_DELETE_ANY_USER_CONSUMER.secret)

/**
 * Test configuration: the real local Cassandra, search engine and Redis, the tests' keyspace, and the
 * given overrides. Owed requests are due again at every sweeper pass unless a test sets
 * `deletion.owedRetry` (test/integration/owed-retry.test.ts): the others sweep right after the
 * dependency they stopped comes back.
 */
export function testConfig(overrides: DeepPartial<Config> = {}): Config {
  return loadConfig({
    ...overrides,
    cassandra: { keyspace: TEST_KEYSPACE, ...overrides.cassandra },
    deletion: { ...overrides.deletion, owedRetry: { maxMs: 0, ...overrides.deletion?.owedRetry } },
    search: { ...LOCAL_SEARCH, ...overrides.search },
    redis: { ...LOCAL_REDIS, ...overrides.redis },
    logging: { level: 'silent', ...overrides.logging },
  })
}

export interface Harness {
  config: Config
  service: Service
  keys: RealmKeys
  /** A direct driver session for arranging and asserting state. */
  db: Client
  apiBearer: string
  userToken(claims: UserTokenClaims, options?: Parameters<typeof mintUserToken>[3]): string
  seed(user?: Partial<SeedUser>): Promise<SeedUser>
  /** POST a body (object or raw string) to the delete route in-process. */
  deleteRequest(body: unknown, headers?: Record<string, string>, path?: string): Promise<Response>
  close(): Promise<void>
}

/**
 * The service in-process over the real Cassandra, with offline-verifiable user tokens (a realm key
 * pair of the test's own in a PEM folder) and the local gateway consumer.
 */
export async function startHarness(overrides: DeepPartial<Config> = {}, serviceOverrides: ServiceOverrides = {}): Promise<Harness> {
  const keys = createRealmKeys()
  // The test's own PEM keys, unless the test asks for other keys (publicKeyDir '' for the realm's JWKS).
  const config = testConfig({ ...overrides, auth: { ...overrides.auth, userToken: { publicKeyDir: keys.dir, ...overrides.auth?.userToken } } })
  const service = composeService(config, createLogger(config.logging.level), serviceOverrides)
  const db = createCassandraClient(testConfig().cassandra)
  await db.connect()
  const apiBearer = signApiBearer(LOCAL_CONSUMER.key, LOCAL_CONSUMER.secret)
  return {
    config,
    service,
    keys,
    db,
    apiBearer,
    userToken: (claims, options) => mintUserToken(keys, ISSUER, claims, options),
    async seed(user = {}) {
      const full: SeedUser = { id: randomUUID(), ...user }
      await seedUser(db, TEST_KEYSPACE, full)
      return full
    },
    deleteRequest(body, headers = {}, path = '/api/user/v1/delete') {
      return Promise.resolve(
        service.app.request(path, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${apiBearer}`, ...headers },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        }),
      )
    },
    async close() {
      await Promise.all([service.close(), db.shutdown()])
    },
  }
}
