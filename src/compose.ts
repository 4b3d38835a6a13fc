import { randomUUID } from 'node:crypto'
import type { Client } from 'cassandra-driver'
import type { Hono } from 'hono'
import { createApp } from './app.js'
import { ApiConsumerVerifier } from './auth/api-consumer-verifier.js'
import { LOCK_DECISION_WAIT_MS } from './deletion/commit-gate.js'
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
import type { BatchJobStore, IdentityProvider, UserStore } from './deletion/ports.js'
import { lockOutStanding } from './deletion/user-condition.js'
import { resumeDeletion, resumeDeletionReport, resumeFromEntry, resumeOpenDeletions, type SweepReport } from './deletion/run-deletion.js'
import type { OwedRetry } from './deletion/owed-retry.js'
import { batchJobId, cancelBatch, readBatchStatus, submitBatch } from './deletion/batch-job.js'
import { BatchRunner } from './deletion/batch-runner.js'
import { DependencyUnavailableError, UnreadableDeletionStateError, WordedCause } from './deletion/errors.js'
import { guardMassDeletion } from './deletion/mass-deletion-guard.js'
import { decryptionWith } from './deletion/sunbird-decryption.js'
import { errorEntry } from './http/error-codes.js'
import { codeFor } from './http/render-error.js'
import { CassandraBatchJobs } from './store/cassandra-batch-jobs.js'
import { CassandraRequesterDeletionCounts } from './store/cassandra-requester-deletion-counts.js'
import { type BacklogReport, KafkaRelay } from './events/kafka-relay.js'
import { backoffWaitMs } from './events/retry-backoff.js'
import type { AppEnv } from './http/app-env.js'
import type { ReadinessCheck } from './http/operation.js'
import type { Logger } from './logging/logger.js'
import { countDeletionOutcomes } from './metrics/deletion-outcomes.js'
import { instrumentIdentity } from './metrics/instrumented-identity.js'
import { createServiceMetrics, type ServiceMetrics } from './metrics/service-metrics.js'
import { sharedSchemaRegistry } from './schemas/schema-registry.js'
import { connectSearchAndCache, type SearchAndCache } from './search-and-cache.js'
import { type SchemaGate, schemaGate } from './schema-gate.js'
import { withinMs } from './shared/within-ms.js'
import { createCassandraClient } from './store/cassandra-client.js'
import { recordCassandraCalls } from './metrics/cassandra-call-recorder.js'
import { CassandraAuditTrail } from './store/cassandra-audit-trail.js'
import { CassandraDeletionRequests } from './store/cassandra-deletion-requests.js'
import { CassandraEventOutbox } from './store/cassandra-event-outbox.js'
import { LivePhysicalErasure } from './physical-erasure/live-physical-erasure.js'
import { CassandraPersonalTables } from './store/cassandra-personal-tables.js'
import { OpenSearchUserIndex } from './search/opensearch-user-index.js'
import { RedisUserCache } from './redis/redis-user-cache.js'
import { CassandraIdempotencyKeys } from './store/cassandra-idempotency-keys.js'
import { CassandraUserDeletionStates } from './store/cassandra-user-deletion-states.js'
import { CassandraUserStore } from './store/cassandra-user-store.js'
import { appliedSchemaVersion, currentSchemaVersion } from './store/migrations.js'

/**
 * What the log may say about a step that failed: the error's name, the dependency in trouble, and
 * why only when this service worded the cause itself (WordedCause, UnreadableDeletionStateError): a
 * driver's or an engine's own message may quote a user's values.
 */
function stepErrorFields(err: unknown): { err: string; dependency?: string; why?: string } {
  const name = err instanceof Error ? err.name : 'error'
  // Worded by this service, naming no user value: the operator's cue to repair the row (docs/operating.md).
  if (err instanceof UnreadableDeletionStateError) return { err: name, why: err.message }
  if (!(err instanceof DependencyUnavailableError)) return { err: name }
  const cause = err.cause
  return { err: name, dependency: err.dependency, ...(cause instanceof WordedCause && { why: cause.message }) }
}

export interface Service {
  app: Hono<AppEnv>
  keys: KeySource
  /** This service's Prometheus series (served at /metrics). */
  metrics: ServiceMetrics
  /**
   * One sweeper pass: resumes open deletion requests whose runner is gone or that owe a step; `stopping` ends it between two requests (shutdown).
   * `owedWaitsWithinMs`: owed requests still waiting out a retry delay up to that long too (`npm run deletion:resume`).
   */
  resumeOpen(stopping?: AbortSignal, options?: { owedWaitsWithinMs?: number }): Promise<SweepReport>
  /** Resumes one deletion request (`npm run deletion:resume -- <requestId>`): the state reached, or undefined when another runner holds it or its erasure is not due; `closed` when it was closed already and left as it was. */
  resumeRequest(requestId: string): ReturnType<typeof resumeDeletionReport>
  /** resumeFromEntry: a request whose create never applied, created from its open entry (`npm run deletion:resume -- <requestId>`). */
  resumeFromEntry(requestId: string): ReturnType<typeof resumeFromEntry>
  /** One relay pass: publishes queued delete-user events to Kafka. */
  publishEvents(stopping?: AbortSignal): Promise<number>
  /** Relay passes until one publishes nothing (`npm run deletion:resume`): how many were published, how many are left and why. */
  publishBacklog(): Promise<BacklogReport>
  /** The audit trail: this instance's hash chain, and verification of every chain. */
  audit: CassandraAuditTrail
  requests: CassandraDeletionRequests
  /** Which deletion holds each user. */
  states: CassandraUserDeletionStates
  /** Sunbird's search engine and user cache, when configured. */
  searchAndCache: SearchAndCache
  /** Whether the keyspace has this build's schema: main's background passes wait for it. */
  schema: SchemaGate
  /** This instance's worker of batch deletion jobs (started by main, stopped at shutdown). */
  batches: BatchRunner
  /** Closes the Kafka producer, the Cassandra pool and the search and Redis clients. */
  close(): Promise<void>
}

/** Seams for fault-injection tests: wrap a real adapter, never replace it. */
export interface ServiceOverrides {
  users?: (store: UserStore) => UserStore
  identity?: (identity: IdentityProvider) => IdentityProvider
  batchJobs?: (store: BatchJobStore) => BatchJobStore
}

/** The realm keys: Sunbird's offline PEM folder when configured (it wins), else the realm's JWKS. */
function createKeySource(config: Config): KeySource {
  const { ssoUrl, realm, publicKeyDir, jwksMinRefreshIntervalMs, jwksMaxAgeMs } = config.auth.userToken
  if (publicKeyDir) return new PemKeySource(publicKeyDir)
  return new JwksKeySource({ realmUrl: `${ssoUrl}/realms/${realm}`, minRefreshIntervalMs: jwksMinRefreshIntervalMs, maxAgeMs: jwksMaxAgeMs })
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

/** Each wait of an owed deletion request is shortened by up to this part of it, so requests owed since one outage do not all come back together. */
const OWED_RETRY_JITTER = 0.2

/**
 * The retry delay of deletion requests owed for want of a dependency (DELETION_OWED_RETRY_FIRST_MS,
 * DELETION_OWED_RETRY_MAX_MS; the rule: src/deletion/owed-retry.ts): RetryBackoff's doubling, keyed
 * on the runs in a row the request was owed, with jitter. Undefined for a `maxMs` of 0: due at once.
 */
function owedRetryOf(settings: { firstMs: number; maxMs: number }): OwedRetry | undefined {
  if (settings.maxMs <= 0) return undefined
  return { waitMs: (runs) => backoffWaitMs({ ...settings, jitter: OWED_RETRY_JITTER }, runs) }
}

/** Builds every adapter once and the app over them: the composition root shared by main and the tests. */
export function composeService(config: Config, logger: Logger, overrides: ServiceOverrides = {}): Service {
  const cassandra = createCassandraClient(config.cassandra)
  const store = new CassandraUserStore(cassandra, config.cassandra.keyspace)
  const users = overrides.users ? overrides.users(store) : store
  const metrics = createServiceMetrics()
  const requests = new CassandraDeletionRequests(cassandra, config.cassandra.keyspace, {
    // Request id only: the receipt's text is not logged (it was changed outside the service, and may hold anything).
    onUnreadableReceipt: (requestId) => {
      metrics.countUnreadableReceipt()
      logger.warn({ requestId }, 'deletion request receipt unreadable; the request is answered and resumed without it')
    },
  })
  const outbox = new CassandraEventOutbox(cassandra, config.cassandra.keyspace)
  const audit = new CassandraAuditTrail(cassandra, config.cassandra.keyspace, { anchorIntervalMs: config.audit.anchorIntervalMs })
  const states = new CassandraUserDeletionStates(cassandra, config.cassandra.keyspace)
  // The same provider id the token verifier accepts in a `sub`: Keycloak holds those users as `f:<provider>:<id>`.
  const keycloak = new KeycloakIdentity({ ...config.auth.keycloakAdmin, realm: config.auth.userToken.realm, federationProviderId: config.auth.userToken.federationProviderId })
  recordCassandraCalls(cassandra, metrics)
  const identity = instrumentIdentity(overrides.identity ? overrides.identity(keycloak) : keycloak, metrics)
  const deletedUsers = new DeletedUserGate({
    standingInStore: (userId, follows) => lockOutStanding({ users, states, requests }, userId, follows),
    ttlMs: config.lockout.cacheTtlMs,
    maxEntries: config.lockout.cacheSize,
  })
  const keys = createKeySource(config)
  const searchAndCache = connectSearchAndCache(config)
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
    tables: new CassandraPersonalTables(cassandra, config.cassandra.keyspace),
    search: searchAndCache.search && new OpenSearchUserIndex(searchAndCache.search),
    cache: searchAndCache.redis && new RedisUserCache(searchAndCache.redis, config.redis.maxValueBytes),
    extraTargets: config.deletion.extraTargets,
    physicalErasure: new LivePhysicalErasure({
      cassandra,
      keyspace: config.cassandra.keyspace,
      search: searchAndCache.search,
      events: { brokers: config.events.brokers, topic: config.events.topic, timeoutMs: config.events.timeoutMs },
      redis: searchAndCache.redis !== undefined,
    }),
    policy: { orgAdminScope: config.authorization.orgAdminScope, allowedRoles: config.deletion.allowedRoles },
    leaseMs: config.deletion.leaseMs,
    receiptKey: config.deletion.receiptHashKey,
    decryptUserField: decryptionWith(config.deletion.sunbirdEncryptionKey),
    owedRetry: owedRetryOf(config.deletion.owedRetry),
    graceDayMs: config.deletion.graceDaySeconds * 1000,
    eventIncludesUserName: config.events.includeUserName,
    onStepError: (step, err, requestId) => logger.warn({ requestId, step, ...stepErrorFields(err) }, 'deletion step not done; the sweeper will retry'),
    onLeaseLost: (requestId) => logger.warn({ requestId }, 'deletion run stalled past DELETION_LEASE_MS; another runner took the request over and this run stopped'),
    onSearchNotRefreshed: (requestId, err) =>
      logger.warn({ requestId, ...stepErrorFields(err) }, "search index not refreshed after other users' documents were rewritten; searches show them at the engine's next refresh"),
    onAccountsLeftDisabled: (requestId, count) => logger.warn({ requestId, accounts: count }, 'cancel left Keycloak accounts disabled that the deletion did not disable'),
    // Counts only: never a value, never the key.
    onContactsNotDecrypted: (requestId, notDecrypted, contacts) => logger.warn({ requestId, notDecrypted, contacts }, 'user row contacts not decrypted'),
    onNeverCreated: (requestId) => logger.warn({ requestId }, 'deletion request never created; dropped from the open list'),
    onCreatedFromEntry: (requestId) => logger.warn({ requestId }, 'deletion request created from its open entry; its create never applied'),
    ...(config.faults?.crashAfterStep && {
      // Crash tests: die as abruptly as a killed pod, right after the named step is recorded.
      afterStep: (step) => {
        if (step === config.faults?.crashAfterStep) process.kill(process.pid, 'SIGKILL')
      },
    }),
  }
  const countDeletion = countDeletionOutcomes(metrics, (input: Parameters<typeof deleteAccount>[1]) => deleteAccount(workflow, input))
  // Single deletes only: a batch job has its own pace (BATCH_MAX_DELETIONS_PER_SECOND). A dry run
  // is judged by the guard as the real call would be, but deletes nothing: not counted as a deletion.
  const guardedDeletion = guardMassDeletion(
    { counts: new CassandraRequesterDeletionCounts(cassandra, config.cassandra.keyspace), clock: workflow.clock, maxPerHour: config.deletion.maxPerRequesterPerHour },
    (input) => (input.dryRun ? deleteAccount(workflow, input) : countDeletion(input)),
  )
  const schema = schemaGate({
    appliedVersion: () => appliedSchemaVersion(cassandra, config.cassandra.keyspace),
    required: currentSchemaVersion,
    onBehind: (applied, required) => logger.warn({ applied, required }, 'background work waits for the schema; run npm run db:migrate'),
  })
  const apiConsumers = ApiConsumerVerifier.fromFile(config.auth.apiBearer.consumersFile, { clockSkewSeconds })
  const batchJobStore = new CassandraBatchJobs(cassandra, config.cassandra.keyspace)
  const batchJobs = overrides.batchJobs ? overrides.batchJobs(batchJobStore) : batchJobStore
  const { breaker } = config.batch
  const batches = new BatchRunner({
    jobs: batchJobs,
    requests,
    erasedBy: async (userId) => {
      const [held, user] = await Promise.all([states.get(userId), users.findUser(userId)])
      return { heldBy: held?.requestId, managedBy: user?.managedBy }
    },
    deleteAccount: countDeletion,
    resumeDeletion: (requestId) => resumeDeletion(workflow, requestId),
    // The code a single delete would answer with; a dependency in trouble (or a bug) is retried and counted by the breaker.
    classify: (err) => {
      const code = codeFor(err)
      return { code: errorEntry(code).err, fault: err instanceof DependencyUnavailableError || code === 'SERVER_ERROR' || code === 'SERVICE_UNAVAILABLE' }
    },
    // The lock-out gate of the HTTP routes: a job's creator stands exactly as their token would.
    isLockedOut: (userId) => deletedUsers.isDeleted(userId),
    // The consumers file as the HTTP routes read it: a job runs only while its consumer's bearer would be admitted.
    consumerAdmitted: (caller) => apiConsumers.admits(caller.consumer, caller.deleteAnyUser === true),
    clock: workflow.clock,
    instanceId: randomUUID(),
    settings: {
      maxDeletionsPerSecond: config.batch.maxDeletionsPerSecond,
      concurrency: config.batch.concurrency,
      leaseMs: config.batch.leaseMs,
      pollIntervalMs: config.batch.pollIntervalMs,
      maxAttempts: config.batch.maxAttempts,
      breaker: { windowMs: breaker.windowSeconds * 1000, minAttempts: breaker.minAttempts, failureRate: breaker.failureRate, coolOffMs: breaker.coolOffSeconds * 1000 },
    },
    schemaReady: () => schema.ready(),
    onBreaker: (jobId, change) => {
      metrics.countBatchBreaker(change)
      logger.warn({ jobId, breaker: change }, change === 'opened' ? 'batch job paused: too many deletions met a dependency in trouble' : 'batch job resumed')
    },
    onError: (err) => logger.warn({ err: err instanceof Error ? err.name : 'error' }, 'batch work not done; it is retried'),
  })
  const relay = new KafkaRelay(
    { brokers: [...config.events.brokers], topic: config.events.topic, clientId: 'sunbird-user-delete', timeoutMs: config.events.timeoutMs, maxSendBytes: config.events.relayMaxSendBytes },
    { outbox, published: (requestId, at) => requests.markEventPublished(requestId, at), log: logger, metrics },
  )
  const app = createApp({
    logger,
    checkReadiness: async () => {
      const [core, optional] = await Promise.all([checkReadiness(cassandra, config.cassandra.keyspace, keys), searchAndCache.readiness()])
      return [...core, ...optional]
    },
    schemas: sharedSchemaRegistry(),
    maxBodyBytes: config.http.maxBodyBytes,
    requestTimeoutMs: config.http.requestTimeoutMs,
    retryAfterSeconds: config.http.retryAfterSeconds,
    apiConsumers,
    userTokens: new UserTokenVerifier({ ssoUrl, realm, keys, clockSkewSeconds, federationProviderId }),
    deletedUsers,
    sessions: { startedAt: (userId, sessionId) => keycloak.sessionStartedAt(userId, sessionId), clockSkewSeconds },
    sessionCookie: { name: config.auth.session.cookieName, allowedOrigins: config.auth.session.allowedOrigins, secure: config.auth.session.cookieSecure },
    directTokenClients: config.auth.userToken.directClients,
    metrics,
    idempotency: {
      keys: new CassandraIdempotencyKeys(cassandra, config.cassandra.keyspace),
      // A claimed key blocks a retry (409) for as long as its first request may still be running:
      // past its deadline, an answer waits up to LOCK_DECISION_WAIT_MS for a lock (or a job's write).
      inFlightSeconds: Math.ceil(Math.max(config.http.requestTimeoutMs + LOCK_DECISION_WAIT_MS, config.deletion.leaseMs) / 1000),
    },
    ...(config.deletion.maxAuthAgeSeconds !== undefined && { maxAuthAgeSeconds: config.deletion.maxAuthAgeSeconds }),
    deleteAccount: guardedDeletion,
    submitBatch: async ({ caller, userIds, mode, idempotencyKey, answerBy, onCommit }) => {
      const job = await submitBatch(
        { jobs: batchJobs, clock: workflow.clock, sliceSize: config.batch.sliceSize, minSlices: config.batch.concurrency },
        { jobId: batchJobId(idempotencyKey), keyed: idempotencyKey !== undefined, caller, userIds, ...(mode && { mode }), ...(answerBy && { answerBy }), ...(onCommit && { onCommit }) },
      )
      batches.kick()
      return job
    },
    readBatchStatus: (input) => readBatchStatus({ jobs: batchJobs, clock: workflow.clock }, input),
    cancelBatch: async (input) => {
      const cancelled = await cancelBatch({ jobs: batchJobs, clock: workflow.clock, cancelRecorded: (jobId) => batches.cancelSeen(jobId) }, input)
      // The slices no instance holds are settled at once, not at the next pass.
      batches.kick()
      return cancelled
    },
    cancelDeletion: (input) => cancelDeletion(workflow, input),
    exportUser: (input) => exportUser(workflow, input),
    readDeletionStatus: (input) => readDeletionStatus({ requests, states, orgAdminScope: config.authorization.orgAdminScope }, input),
  })
  return {
    app,
    keys,
    metrics,
    resumeOpen: (stopping, options) => resumeOpenDeletions(workflow, undefined, stopping, options),
    resumeRequest: (requestId) => resumeDeletionReport(workflow, requestId),
    resumeFromEntry: (requestId) => resumeFromEntry(workflow, requestId),
    publishEvents: (stopping) => relay.publishPending(100, stopping),
    publishBacklog: () => relay.publishBacklog(),
    schema,
    audit,
    requests,
    states,
    searchAndCache,
    batches,
    close: async () => {
      await relay.close()
      await audit.close()
      await Promise.all([cassandra.shutdown(), searchAndCache.close()])
    },
  }
}
