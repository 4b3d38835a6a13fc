import { describeAuditTrailContract } from '../support/contracts/audit-trail.contract.js'
import { describeBatchJobStoreContract } from '../support/contracts/batch-job-store.contract.js'
import { describeDeletionRequestStoreContract } from '../support/contracts/deletion-request-store.contract.js'
import { describeEventOutboxContract } from '../support/contracts/event-outbox.contract.js'
import {
  fakeAuditTrail,
  fakeBatchJobs,
  fakeDeletionRequests,
  fakeEventOutbox,
  fakeIdempotencyKeys,
  fakeIdentityProvider,
  fakePersonalDataTables,
  fakeRequesterDeletionCounts,
  fakeUserCache,
  fakeUserDeletionStates,
  fakeUserSearchIndex,
  fakeUserStore,
} from '../support/contracts/fake-subjects.js'
import { describeIdempotencyKeysContract } from '../support/contracts/idempotency-keys.contract.js'
import { describeIdentityProviderContract } from '../support/contracts/identity-provider.contract.js'
import { describePersonalDataTablesContract } from '../support/contracts/personal-data-tables.contract.js'
import { describeRelayOutboxContract, type RelayOutboxSubject } from '../support/contracts/relay-outbox.contract.js'
import { describeRequesterDeletionCountsContract } from '../support/contracts/requester-deletion-counts.contract.js'
import { describeUserCacheContract } from '../support/contracts/user-cache.contract.js'
import { describeUserDeletionStatesContract } from '../support/contracts/user-deletion-states.contract.js'
import { describeUserSearchIndexContract } from '../support/contracts/user-search-index.contract.js'
import { describeUserStoreContract } from '../support/contracts/user-store.contract.js'
import { InMemoryRelayOutbox } from '../support/fakes/in-memory-relay-outbox.js'

/** The relay's outbox fake (src/events/kafka-relay.test.ts): its listing holds only what the case lists. */
function fakeRelayOutbox(): RelayOutboxSubject {
  const outbox = new InMemoryRelayOutbox()
  return {
    outbox,
    append: (requestId, event) => outbox.append(requestId, event),
    listWithoutEntry: async (requestId) => outbox.listWithoutEntry(requestId),
    listedByOthers: async () => new Set(),
  }
}

// The in-memory fakes the workflow's unit tests run on, held to the same contracts as the real
// adapters (test/integration/adapter-port-contracts.test.ts): a fake that passes here behaves as
// Cassandra and Keycloak do wherever the workflow looks.
describeUserStoreContract('InMemoryUserStore', fakeUserStore)
describeDeletionRequestStoreContract('InMemoryDeletionRequests', fakeDeletionRequests)
describeEventOutboxContract('InMemoryEventOutbox', fakeEventOutbox)
describeRelayOutboxContract('InMemoryRelayOutbox', fakeRelayOutbox)
describeAuditTrailContract('InMemoryAuditTrail', fakeAuditTrail)
describeIdentityProviderContract('InMemoryIdentityProvider', fakeIdentityProvider)
describeUserDeletionStatesContract('InMemoryUserDeletionStates', fakeUserDeletionStates)
describeIdempotencyKeysContract('InMemoryIdempotencyKeys', fakeIdempotencyKeys)
describeUserSearchIndexContract('InMemoryUserSearchIndex', fakeUserSearchIndex)
describeUserCacheContract('InMemoryUserCache', fakeUserCache)
describePersonalDataTablesContract('InMemoryPersonalTables', fakePersonalDataTables)
describeBatchJobStoreContract('InMemoryBatchJobs', fakeBatchJobs)
describeRequesterDeletionCountsContract('InMemoryRequesterDeletionCounts', fakeRequesterDeletionCounts)
