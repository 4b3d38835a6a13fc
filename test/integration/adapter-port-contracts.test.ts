import type { Client as SearchClient } from '@opensearch-project/opensearch'
import type { Client } from 'cassandra-driver'
import { afterAll, beforeAll } from 'vitest'
import { createSearchClient } from '../../src/search/search-client.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { CassandraEventOutbox } from '../../src/store/cassandra-event-outbox.js'
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
import { describeRelayOutboxContract, type RelayOutboxSubject } from '../support/contracts/relay-outbox.contract.js'
import { describeRequesterDeletionCountsContract } from '../support/contracts/requester-deletion-counts.contract.js'
import { openSearchUserIndex } from '../support/contracts/opensearch-subject.js'
import { redisUserCache } from '../support/contracts/redis-subject.js'
import { describeUserCacheContract } from '../support/contracts/user-cache.contract.js'
import { describeUserDeletionStatesContract } from '../support/contracts/user-deletion-states.contract.js'
import { describeUserSearchIndexContract } from '../support/contracts/user-search-index.contract.js'
import { describeUserStoreContract } from '../support/contracts/user-store.contract.js'
import { startHttpInterposer, type HttpInterposer } from '../support/http-interposer.js'
import { testConfig } from '../support/harness.js'
import { KEYCLOAK_URL, LOCAL_SEARCH, TEST_KEYSPACE } from '../support/test-env.js'

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

/**
 * CassandraEventOutbox's relay side over the tests' keyspace, whose listing may hold other tests'
 * events (passed by); the case's rows are removed afterwards, so no relay publishes them.
 */
function cassandraRelayOutbox(db: Client): RelayOutboxSubject {
  const ks = TEST_KEYSPACE
  const outbox = new CassandraEventOutbox(db, ks)
  const used = new Set<string>()
  const execute = (cql: string, params: unknown[]) => db.execute(cql, params, { prepare: true })
  return {
    outbox,
    append: (requestId, event) => outbox.append(requestId, event),
    async listWithoutEntry(requestId) {
      await execute(`INSERT INTO ${ks}.user_deletion_event_outbox_pending (requestid, createdat) VALUES (?, ?)`, [requestId, new Date()])
    },
    async listedByOthers() {
      const others = new Set<string>()
      let pageState: string | undefined
      do {
        const page = await db.execute(`SELECT requestid FROM ${ks}.user_deletion_event_outbox_pending`, [], { prepare: true, fetchSize: 1000, ...(pageState && { pageState }) })
        for (const row of page.rows) if (!used.has(row.get('requestid'))) others.add(row.get('requestid'))
        pageState = page.pageState ?? undefined
      } while (pageState)
      return others
    },
    uses: (requestId) => void used.add(requestId),
    async dispose() {
      for (const id of used) {
        await execute(`DELETE FROM ${ks}.user_deletion_event_outbox WHERE requestid = ?`, [id])
        await execute(`DELETE FROM ${ks}.user_deletion_event_outbox_pending WHERE requestid = ?`, [id])
      }
    },
  }
}

describeUserStoreContract('CassandraUserStore', () => cassandraUserStore(db))
describeDeletionRequestStoreContract('CassandraDeletionRequests', () => cassandraDeletionRequests(db))
describeEventOutboxContract('CassandraEventOutbox', () => cassandraEventOutbox(db))
describeRelayOutboxContract('CassandraEventOutbox (relay side)', () => cassandraRelayOutbox(db))
describeAuditTrailContract('CassandraAuditTrail', () => cassandraAuditTrail(db))
describeIdentityProviderContract('KeycloakIdentity', () => keycloakIdentity(keycloak))
describeUserDeletionStatesContract('CassandraUserDeletionStates', () => cassandraUserDeletionStates(db))
describeIdempotencyKeysContract('CassandraIdempotencyKeys', () => cassandraIdempotencyKeys(db))
describeUserSearchIndexContract('OpenSearchUserIndex', () => openSearchUserIndex(search))
describeUserCacheContract('RedisUserCache', redisUserCache)
describePersonalDataTablesContract('CassandraPersonalTables', () => cassandraPersonalDataTables(db))
describeBatchJobStoreContract('CassandraBatchJobs', () => cassandraBatchJobs(db))
describeRequesterDeletionCountsContract('CassandraRequesterDeletionCounts', () => cassandraRequesterDeletionCounts(db))
