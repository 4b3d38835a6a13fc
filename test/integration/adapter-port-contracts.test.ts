import type { Client as SearchClient } from '@opensearch-project/opensearch'
import type { Client } from 'cassandra-driver'
import { afterAll, beforeAll } from 'vitest'
import { createSearchClient } from '../../src/search/search-client.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { describeAuditTrailContract } from '../support/contracts/audit-trail.contract.js'
import { describeBatchJobStoreContract } from '../support/contracts/batch-job-store.contract.js'
import {
  cassandraAuditTrail,
  cassandraBatchJobs,
  cassandraDeletionRequests,
  cassandraEventOutbox,
  cassandraIdempotencyKeys,
  cassandraPersonalDataTables,
  cassandraRequesterDeletionCounts,
  cassandraUserDeletionStates,
  cassandraUserStore,
} from '../support/contracts/cassandra-subjects.js'
import { describeDeletionRequestStoreContract } from '../support/contracts/deletion-request-store.contract.js'
import { describeEventOutboxContract } from '../support/contracts/event-outbox.contract.js'
import { describeIdempotencyKeysContract } from '../support/contracts/idempotency-keys.contract.js'
import { describeIdentityProviderContract } from '../support/contracts/identity-provider.contract.js'
import { keycloakIdentity } from '../support/contracts/keycloak-subject.js'
import { describePersonalDataTablesContract } from '../support/contracts/personal-data-tables.contract.js'
import { describeRequesterDeletionCountsContract } from '../support/contracts/requester-deletion-counts.contract.js'
import { openSearchUserIndex } from '../support/contracts/opensearch-subject.js'
import { redisUserCache } from '../support/contracts/redis-subject.js'
import { describeUserCacheContract } from '../support/contracts/user-cache.contract.js'
import { describeUserDeletionStatesContract } from '../support/contracts/user-deletion-states.contract.js'
import { describeUserSearchIndexContract } from '../support/contracts/user-search-index.contract.js'
import { describeUserStoreContract } from '../support/contracts/user-store.contract.js'
import { startHttpInterposer, type HttpInterposer } from '../support/http-interposer.js'
import { testConfig } from '../support/harness.js'
import { KEYCLOAK_URL, LOCAL_SEARCH } from '../support/test-env.js'

// The real adapters against the real local Cassandra, Keycloak, OpenSearch and Redis, held to the same contracts as
// the in-memory fakes the workflow's unit tests use (test/unit/fake-port-contracts.test.ts).
let db: Client
let keycloak: HttpInterposer
let search: SearchClient
beforeAll(async () => {
  db = createCassandraClient(testConfig().cassandra)
  await db.connect()
  keycloak = await startHttpInterposer(KEYCLOAK_URL)
  search = createSearchClient({ ...LOCAL_SEARCH, timeoutMs: 10_000 })
})
afterAll(async () => {
  await Promise.all([db?.shutdown(), keycloak?.close(), search?.close()])
})

describeUserStoreContract('CassandraUserStore', () => cassandraUserStore(db))
describeDeletionRequestStoreContract('CassandraDeletionRequests', () => cassandraDeletionRequests(db))
describeEventOutboxContract('CassandraEventOutbox', () => cassandraEventOutbox(db))
describeAuditTrailContract('CassandraAuditTrail', () => cassandraAuditTrail(db))
describeIdentityProviderContract('KeycloakIdentity', () => keycloakIdentity(keycloak))
describeUserDeletionStatesContract('CassandraUserDeletionStates', () => cassandraUserDeletionStates(db))
describeIdempotencyKeysContract('CassandraIdempotencyKeys', () => cassandraIdempotencyKeys(db))
describeUserSearchIndexContract('OpenSearchUserIndex', () => openSearchUserIndex(search))
describeUserCacheContract('RedisUserCache', redisUserCache)
describePersonalDataTablesContract('CassandraPersonalTables', () => cassandraPersonalDataTables(db))
describeBatchJobStoreContract('CassandraBatchJobs', () => cassandraBatchJobs(db))
describeRequesterDeletionCountsContract('CassandraRequesterDeletionCounts', () => cassandraRequesterDeletionCounts(db))
