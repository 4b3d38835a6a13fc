import type { Hono } from 'hono'
import { createApp } from '../../../src/app.js'
import { ApiConsumerVerifier } from '../../../src/auth/api-consumer-verifier.js'
import { DeletedUserGate } from '../../../src/auth/deleted-user-gate.js'
import { PemKeySource } from '../../../src/auth/pem-key-source.js'
import { UserTokenVerifier } from '../../../src/auth/user-token-verifier.js'
import { cancelDeletion } from '../../../src/deletion/cancel-deletion.js'
import { deleteAccount } from '../../../src/deletion/delete-account.js'
import { readDeletionStatus } from '../../../src/deletion/deletion-status.js'
import { exportUser } from '../../../src/deletion/export-user.js'
import { lockOutStanding } from '../../../src/deletion/user-condition.js'
import type { AppEnv } from '../../../src/http/app-env.js'
import type { Operation, OperationServices } from '../../../src/http/operation.js'
import { createLogger } from '../../../src/logging/logger.js'
import { createServiceMetrics } from '../../../src/metrics/service-metrics.js'
import { createSchemaRegistry } from '../../../src/schemas/schema-registry.js'
import type { IdempotencyKeys } from '../../../src/shared/idempotency-keys.js'
import { signApiBearer } from '../../../scripts/lib/sign-jwt.js'
import { createRealmKeys, mintUserToken, type RealmKeys, type UserTokenClaims } from '../user-tokens.js'
import { deletionWorld, type DeletionWorld, type WorldOptions } from './deletion-world.js'
import { InMemoryIdempotencyKeys } from './in-memory-idempotency-keys.js'

export const FAKE_SSO_URL = 'http://127.0.0.1:18080'
export const FAKE_ISSUER = `${FAKE_SSO_URL}/realms/sunbird`
export const FAKE_CONSUMER = { key: 'property-consumer', secret: 'property-consumer-gateway-secret' }
export const FAKE_MAX_BODY_BYTES = 4096

const schemas = createSchemaRegistry()
// One realm key for every app built here: RSA key generation is the slow part of building one.
let sharedRealm: RealmKeys | undefined

export interface AppOverFakes {
  app: Hono<AppEnv>
  /** The ports behind the app now; reset() puts fresh ones in. */
  readonly world: DeletionWorld
  /** Fresh in-memory ports (seeded anew, empty timeline) behind the same app: one per property run. */
  reset(options?: WorldOptions): DeletionWorld
  realm: RealmKeys
  apiBearer: string
  userToken(claims: UserTokenClaims, options?: Parameters<typeof mintUserToken>[3]): string
}

/**
 * The whole app as production composes it (real middleware, the operations of the API registered
 * from their declarations, verifiers, schemas, workflow and renderer) over the in-memory ports of
 * deletionWorld, whose shared timeline counts every write. Building the app costs far more than a
 * request, so a property builds it once and resets the ports. `requestTimeoutMs` (default 10 s):
 * the request deadline, for tests of what a route answers when it passes. `batches`: stand-ins for
 * the batch services, for tests of the batch routes' HTTP side (the jobs themselves run on the real
 * servers only). `idempotencyKeys`: the Idempotency-Key store, e.g. one on a clock of the test's own.
 * `operations`: the operations served instead of the API's, for a test of what an operation declared otherwise gets.
 */
export function appOverFakes(
  options: WorldOptions = {},
  settings: {
    requestTimeoutMs?: number
    batches?: Pick<OperationServices, 'submitBatch' | 'readBatchStatus'> & Partial<Pick<OperationServices, 'cancelBatch'>>
    idempotencyKeys?: IdempotencyKeys
    operations?: readonly Operation[]
  } = {},
): AppOverFakes {
  sharedRealm ??= createRealmKeys('property-kid')
  const realm = sharedRealm
  let world = deletionWorld(options)
  const deletedUsers = new DeletedUserGate({
    standingInStore: (userId, follows) => lockOutStanding(world, userId, follows),
    ttlMs: 0,
    maxEntries: 1000,
  })
  const app = createApp(
    {
      logger: createLogger('silent'),
      checkReadiness: async () => [],
      schemas,
      maxBodyBytes: FAKE_MAX_BODY_BYTES,
      requestTimeoutMs: settings.requestTimeoutMs ?? 10_000,
      retryAfterSeconds: 5,
      apiConsumers: new ApiConsumerVerifier([{ key: FAKE_CONSUMER.key, algorithm: 'HS256', secret: FAKE_CONSUMER.secret }]),
      userTokens: new UserTokenVerifier({ ssoUrl: FAKE_SSO_URL, realm: 'sunbird', keys: new PemKeySource(realm.dir) }),
      deletedUsers,
      sessions: { startedAt: async () => undefined, clockSkewSeconds: 60 },
      sessionCookie: { name: 'neptun-session', allowedOrigins: [], secure: false },
      directTokenClients: [],
      metrics: createServiceMetrics(),
      idempotency: { keys: settings.idempotencyKeys ?? new InMemoryIdempotencyKeys(), inFlightSeconds: 30 },
      deleteAccount: (input) => deleteAccount(world.deps, input),
      cancelDeletion: (input) => cancelDeletion(world.deps, input),
      exportUser: (input) => exportUser(world.deps, input),
      readDeletionStatus: (input) => readDeletionStatus({ requests: world.requests, states: world.states, orgAdminScope: 'organisation' }, input),
      // Batch jobs run on the real servers (test/integration/batch-deletion.test.ts); a test of the batch routes' HTTP side passes stand-ins.
      submitBatch: settings.batches?.submitBatch ?? (() => Promise.reject(new Error('batch jobs are not served over fakes'))),
      readBatchStatus: settings.batches?.readBatchStatus ?? (() => Promise.reject(new Error('batch jobs are not served over fakes'))),
      cancelBatch: settings.batches?.cancelBatch ?? (() => Promise.reject(new Error('batch jobs are not served over fakes'))),
    },
    settings.operations,
  )
  return {
    app,
    get world() {
      return world
    },
    reset(next = options) {
      world = deletionWorld(next)
      return world
    },
    realm,
    apiBearer: signApiBearer(FAKE_CONSUMER.key, FAKE_CONSUMER.secret),
    userToken: (claims, tokenOptions) => mintUserToken(realm, FAKE_ISSUER, claims, tokenOptions),
  }
}
