import type { OrgAdminScope } from '../../../src/deletion/deletion-policy.js'
import type { DeleteAccountDeps } from '../../../src/deletion/delete-account.js'
import { decryptionWith } from '../../../src/deletion/sunbird-decryption.js'
import { InMemoryAuditTrail } from './in-memory-audit-trail.js'
import { InMemoryDeletionRequests } from './in-memory-deletion-requests.js'
import { InMemoryEventOutbox } from './in-memory-event-outbox.js'
import { InMemoryIdentityProvider, RecordingDeletionListener } from './in-memory-identity.js'
import { InMemoryPersonalTables, InMemoryUserCache, InMemoryUserSearchIndex } from './in-memory-personal-data.js'
import { InMemoryUserDeletionStates } from './in-memory-user-deletion-states.js'
import { InMemoryUserStore, type SeedUser } from './in-memory-user-store.js'
import { ManualClock, Timeline } from './timeline.js'

export const WORLD_NOW = new Date(Date.UTC(2024, 4, 20, 10, 8, 56, 812))
export const WORLD_LEASE_MS = 30_000
export const WORLD_RECEIPT_KEY = 'unit-test-receipt-key'
/** A grace day in the fakes' world: an hour, so schedules read plainly. */
export const WORLD_GRACE_DAY_MS = 60 * 60 * 1000

export interface WorldOptions {
  /** Users in Cassandra. */
  seed?: readonly SeedUser[]
  /** Users with a Keycloak account (default: every seeded user). */
  accounts?: readonly string[]
  orgAdminScope?: OrgAdminScope
  allowedRoles?: string[]
  eventIncludesUserName?: boolean
  /** Sunbird's sunbird_encryption_key: the user fields it stores encrypted are decrypted with it (default: none, values as stored). */
  sunbirdEncryptionKey?: string
  afterStep?: DeleteAccountDeps['afterStep']
  /** Tables of other keyspaces erased too (ERASURE_EXTRA_TARGETS). */
  extraTargets?: DeleteAccountDeps['extraTargets']
  /** Leave the search engine / the cache unconfigured. */
  withoutSearch?: boolean
  withoutCache?: boolean
}

/** Every fake of the deletion workflow over one timeline and one manual clock, and the deps built on them. */
export function deletionWorld(options: WorldOptions = {}) {
  const timeline = new Timeline()
  const clock = new ManualClock(WORLD_NOW)
  const seed = options.seed ?? []
  const users = new InMemoryUserStore(seed, timeline)
  const identity = new InMemoryIdentityProvider(options.accounts ?? seed.map((user) => user.id), timeline)
  const requests = new InMemoryDeletionRequests(timeline, clock)
  const outbox = new InMemoryEventOutbox(timeline)
  const audit = new InMemoryAuditTrail(timeline)
  const listener = new RecordingDeletionListener(timeline)
  const states = new InMemoryUserDeletionStates(timeline)
  const tables = new InMemoryPersonalTables((userId) => users.profileOf(userId))
  const search = new InMemoryUserSearchIndex()
  const cache = new InMemoryUserCache()
  const deps: DeleteAccountDeps = {
    users,
    identity,
    states,
    requests,
    outbox,
    audit,
    listener,
    clock,
    tables,
    ...(!options.withoutSearch && { search }),
    ...(!options.withoutCache && { cache }),
    extraTargets: options.extraTargets ?? [],
    leaseMs: WORLD_LEASE_MS,
    receiptKey: WORLD_RECEIPT_KEY,
    graceDayMs: WORLD_GRACE_DAY_MS,
    eventIncludesUserName: options.eventIncludesUserName ?? false,
    decryptUserField: decryptionWith(options.sunbirdEncryptionKey),
    policy: { orgAdminScope: options.orgAdminScope ?? 'organisation', allowedRoles: options.allowedRoles ?? ['public'] },
    ...(options.afterStep && { afterStep: options.afterStep }),
  }
  return { timeline, clock, users, identity, requests, outbox, audit, listener, states, tables, search, cache, deps }
}

export type DeletionWorld = ReturnType<typeof deletionWorld>
