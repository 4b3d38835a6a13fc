import type { Client } from 'cassandra-driver'
import type { Hono } from 'hono'
import { createApp } from './app.js'
import { ApiConsumerVerifier } from './auth/api-consumer-verifier.js'
import { DeletedUserGate } from './auth/deleted-user-gate.js'
import { JwksKeySource } from './auth/jwks-key-source.js'
import type { KeySource } from './auth/key-source.js'
import { KeycloakIdentity } from './store/keycloak-identity.js'
import { PemKeySource } from './auth/pem-key-source.js'
import { UserTokenVerifier } from './auth/user-token-verifier.js'
import type { Config } from './config/config.js'
import { cancelDeletion } from './deletion/cancel-deletion.js'
import { type DeleteAccountDeps, deleteAccount } from './deletion/delete-account.js'
import { readDeletionStatus } from './deletion/deletion-status.js'
import { exportUser } from './deletion/export-user.js'
import type { IdentityProvider, UserStore } from './deletion/ports.js'
import { lockOutStanding } from './deletion/user-condition.js'
import { resumeOpenDeletions } from './deletion/run-deletion.js'
import { KafkaRelay } from './events/kafka-relay.js'
import type { AppEnv } from './http/app-env.js'
import type { ReadinessCheck } from './http/operation.js'
import type { Logger } from './logging/logger.js'
import { countDeletionOutcomes } from './metrics/deletion-outcomes.js'
import { instrumentIdentity } from './metrics/instrumented-identity.js'
import { createServiceMetrics, type ServiceMetrics } from './metrics/service-metrics.js'
import { createSchemaRegistry } from './schemas/schema-registry.js'
import { connectSearchAndCache, type SearchAndCache } from './search-and-cache.js'
import { createCassandraClient } from './store/cassandra-client.js'
import { CassandraAuditTrail } from './store/cassandra-audit-trail.js'
import { CassandraDeletionRequests } from './store/cassandra-deletion-requests.js'
import { CassandraEventOutbox } from './store/cassandra-event-outbox.js'
import { CassandraIdempotencyKeys } from './store/cassandra-idempotency-keys.js'
import { CassandraUserDeletionStates } from './store/cassandra-user-deletion-states.js'
import { CassandraUserStore } from './store/cassandra-user-store.js'
import { appliedSchemaVersion, currentSchemaVersion } from './store/migrations.js'

export interface Service {
  app: Hono<AppEnv>
  keys: KeySource
  /** This service's Prometheus series (served at /metrics). */
  metrics: ServiceMetrics
  /** One sweeper pass: resumes open deletion requests whose runner is gone or that owe a step. */
  resumeOpen(): Promise<{ resumed: number; completed: number; partial: number }>
  /** One relay pass: publishes queued delete-user events to Kafka. */
  publishEvents(): Promise<number>
  /** Verifies the audit hash chain. */
  audit: CassandraAuditTrail
  requests: CassandraDeletionRequests
  /** Which deletion holds each user. */
  states: CassandraUserDeletionStates
  /** Sunbird's search engine and user cache, when configured. */
  searchAndCache: SearchAndCache
  /** Closes the Kafka producer, the Cassandra pool and the search and Redis clients. */
  close(): Promise<void>
}

/** Seams for fault-injection tests: wrap a real adapter, never replace it. */
export interface ServiceOverrides {
  users?: (store: UserStore) => UserStore
  identity?: (identity: IdentityProvider) => IdentityProvider
}

/** The realm keys: Sunbird's offline PEM folder when configured (it wins), else the realm's JWKS. */
function createKeySource(config: Config): KeySource {
  const { ssoUrl, realm, publicKeyDir, jwksMinRefreshIntervalMs, jwksMaxAgeMs } = config.auth.userToken
  if (publicKeyDir) return new PemKeySource(publicKeyDir)
  return new JwksKeySource({ realmUrl: `${ssoUrl}/realms/${realm}`, minRefreshIntervalMs: jwksMinRefreshIntervalMs, maxAgeMs: jwksMaxAgeMs })
}

async function withinMs<T>(ms: number, work: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms)
  })
  try {
    return await Promise.race([work.catch(() => fallback), late])
  } finally {
    clearTimeout(timer)
  }
}

/** Ready = Cassandra answers with the current schema, and realm keys are loaded (JWKS fetched if needed). */
async function checkReadiness(cassandra: Client, keyspace: string, keys: KeySource): Promise<ReadinessCheck[]> {
  const [version, keysLoaded] = await Promise.all([
    withinMs(2000, appliedSchemaVersion(cassandra, keyspace), -1),
    keys.size() > 0 ? Promise.resolve(true) : withinMs(3000, keys instanceof JwksKeySource ? keys.refresh().then(() => keys.size() > 0) : Promise.resolve(false), false),
  ])
  return [
    { name: 'cassandra', healthy: version >= 0 },
    { name: 'cassandra schema', healthy: version >= currentSchemaVersion },
    { name: 'realm keys', healthy: keysLoaded },
  ]
}

/** Builds every adapter once and the app over them: the composition root shared by main and the tests. */
export function composeService(config: Config, logger: Logger, overrides: ServiceOverrides = {}): Service {
  const cassandra = createCassandraClient(config.cassandra)
  const store = new CassandraUserStore(cassandra, config.cassandra.keyspace)
  const users = overrides.users ? overrides.users(store) : store
  const requests = new CassandraDeletionRequests(cassandra, config.cassandra.keyspace)
  const outbox = new CassandraEventOutbox(cassandra, config.cassandra.keyspace)
  const audit = new CassandraAuditTrail(cassandra, config.cassandra.keyspace)
  const states = new CassandraUserDeletionStates(cassandra, config.cassandra.keyspace)
  const keycloak = new KeycloakIdentity({ ...config.auth.keycloakAdmin, realm: config.auth.userToken.realm })
  const metrics = createServiceMetrics()
  const identity = instrumentIdentity(overrides.identity ? overrides.identity(keycloak) : keycloak, metrics)
  const deletedUsers = new DeletedUserGate({
    standingInStore: (userId) => lockOutStanding({ users, states }, userId),
    ttlMs: config.lockout.cacheTtlMs,
    maxEntries: config.lockout.cacheSize,
  })
  const keys = createKeySource(config)
  const { ssoUrl, realm, federationProviderId } = config.auth.userToken
  const { clockSkewSeconds } = config.auth
  const workflow: DeleteAccountDeps = {
    users,
    identity,
    states,
    requests,
    outbox,
    audit,
    listener: deletedUsers,
    clock: { now: () => new Date() },
    policy: { orgAdminScope: config.authorization.orgAdminScope, allowedRoles: config.deletion.allowedRoles },
    leaseMs: config.deletion.leaseMs,
    receiptKey: config.deletion.receiptHashKey,
    graceDayMs: config.deletion.graceDaySeconds * 1000,
    eventIncludesUserName: config.events.includeUserName,
    onStepError: (step, err) => logger.warn({ step, err: err instanceof Error ? err.name : 'error' }, 'deletion step not done; the sweeper will retry'),
    ...(config.faults.crashAfterStep && {
      // Crash tests: die as abruptly as a killed pod, right after the named step is recorded.
      afterStep: (step) => {
        if (step === config.faults.crashAfterStep) process.kill(process.pid, 'SIGKILL')
      },
    }),
  }
  const countDeletion = countDeletionOutcomes(metrics, (input: Parameters<typeof deleteAccount>[1]) => deleteAccount(workflow, input))
  const relay = new KafkaRelay(
    { brokers: [...config.events.brokers], topic: config.events.topic, clientId: 'sunbird-user-delete', timeoutMs: config.events.timeoutMs },
    { outbox, published: (requestId, at) => requests.markEventPublished(requestId, at), log: logger },
  )
  const searchAndCache = connectSearchAndCache(config)
  const app = createApp({
    logger,
    checkReadiness: async () => {
      const [core, optional] = await Promise.all([checkReadiness(cassandra, config.cassandra.keyspace, keys), searchAndCache.readiness()])
      return [...core, ...optional]
    },
    schemas: createSchemaRegistry(),
    maxBodyBytes: config.http.maxBodyBytes,
    requestTimeoutMs: config.http.requestTimeoutMs,
    retryAfterSeconds: config.http.retryAfterSeconds,
    apiConsumers: ApiConsumerVerifier.fromFile(config.auth.apiBearer.consumersFile, { clockSkewSeconds }),
    userTokens: new UserTokenVerifier({ ssoUrl, realm, keys, clockSkewSeconds, federationProviderId }),
    deletedUsers,
    sessions: { startedAt: (userId, sessionId) => keycloak.sessionStartedAt(userId, sessionId) },
    sessionCookie: { name: config.auth.session.cookieName, allowedOrigins: config.auth.session.allowedOrigins, secure: config.auth.session.cookieSecure },
    metrics,
    idempotency: {
      keys: new CassandraIdempotencyKeys(cassandra, config.cassandra.keyspace),
      // A claimed key blocks a retry (409) for as long as its first request may still be running.
      inFlightSeconds: Math.ceil(Math.max(config.http.requestTimeoutMs, config.deletion.leaseMs) / 1000),
    },
    ...(config.deletion.maxAuthAgeSeconds !== undefined && { maxAuthAgeSeconds: config.deletion.maxAuthAgeSeconds }),
    // A dry run deletes nothing: it is not counted as a deletion.
    deleteAccount: (input) => (input.dryRun ? deleteAccount(workflow, input) : countDeletion(input)),
    cancelDeletion: (input) => cancelDeletion(workflow, input),
    exportUser: (input) => exportUser(workflow, input),
    readDeletionStatus: (input) => readDeletionStatus({ requests, orgAdminScope: config.authorization.orgAdminScope }, input),
  })
  return {
    app,
    keys,
    metrics,
    resumeOpen: () => metrics.measure(() => resumeOpenDeletions(workflow)),
    publishEvents: () => metrics.measure(() => relay.publishPending()),
    audit,
    requests,
    states,
    searchAndCache,
    close: async () => {
      await relay.close()
      await Promise.all([cassandra.shutdown(), searchAndCache.close()])
    },
  }
}
