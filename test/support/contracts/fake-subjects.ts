import { DependencyUnavailableError } from '../../../src/deletion/errors.js'
import { InMemoryAuditTrail } from '../fakes/in-memory-audit-trail.js'
import { InMemoryBatchJobs } from '../fakes/in-memory-batch-jobs.js'
import { InMemoryDeletionRequests } from '../fakes/in-memory-deletion-requests.js'
import { InMemoryEventOutbox } from '../fakes/in-memory-event-outbox.js'
import { InMemoryIdempotencyKeys } from '../fakes/in-memory-idempotency-keys.js'
import { InMemoryIdentityProvider, type FakeSession } from '../fakes/in-memory-identity.js'
import { InMemoryPersonalTables, InMemoryUserCache, InMemoryUserSearchIndex } from '../fakes/in-memory-personal-data.js'
import { InMemoryRequesterDeletionCounts } from '../fakes/in-memory-requester-deletion-counts.js'
import { InMemoryUserDeletionStates } from '../fakes/in-memory-user-deletion-states.js'
import { InMemoryUserStore, type SeedUser } from '../fakes/in-memory-user-store.js'
import { Timeline } from '../fakes/timeline.js'
import type { AuditTrailSubject } from './audit-trail.contract.js'
import type { BatchJobStoreSubject } from './batch-job-store.contract.js'
import type { DeletionRequestStoreSubject } from './deletion-request-store.contract.js'
import type { EventOutboxSubject } from './event-outbox.contract.js'
import type { IdempotencyKeysSubject } from './idempotency-keys.contract.js'
import type { IdentityProviderSubject } from './identity-provider.contract.js'
import type { PersonalDataTablesSubject } from './personal-data-tables.contract.js'
import type { RequesterDeletionCountsSubject } from './requester-deletion-counts.contract.js'
import type { UserCacheSubject } from './user-cache.contract.js'
import type { UserDeletionStatesSubject } from './user-deletion-states.contract.js'
import type { UserSearchIndexSubject } from './user-search-index.contract.js'
import type { UserFixture, UserStoreSubject } from './user-store.contract.js'

/** The fake's seed for a contract user: the same rows Sunbird (and scripts/lib/seed-users) writes. */
function toSeed(user: UserFixture): SeedUser {
  const roles = user.roles ?? [{ role: 'PUBLIC' }]
  const externalIds = user.externalIds ?? []
  return {
    id: user.id,
    status: user.status ?? 1,
    isDeleted: user.isDeleted ?? false,
    rootOrgId: user.rootOrgId ?? null,
    managedBy: user.managedBy ?? null,
    roles: roles.map((role) => role.role),
    adminOf: roles.filter((role) => role.role === 'ORG_ADMIN').flatMap((role) => role.organisationIds ?? []),
    organisationIds: user.organisations ?? (user.rootOrgId ? [user.rootOrgId] : []),
    // A lookup per email, phone and username, and one per external id.
    lookups: 3 + externalIds.length,
    externalIdentities: externalIds.length,
    profile: {
      username: user.username ?? `user_${user.id.slice(0, 8)}`,
      email: `${user.id.slice(0, 8)}@example.org`,
      phone: '9876543210',
      firstname: 'Asha',
      lastname: 'Verma',
      dob: '1990-04-12',
    },
  }
}

export function fakeUserStore(): UserStoreSubject {
  const store = new InMemoryUserStore()
  return {
    store,
    seed: async (user) => void store.add(toSeed(user)),
    update: async (userId, change) => void store.update(userId, change),
    removeRow: async (userId) => void store.removeRow(userId),
    restamp: async (userId, change) => void store.restamp(userId, change),
    editProfile: async (userId, values) => void store.editProfile(userId, values),
    lookupCount: async (userId) => store.remainingLookups(userId),
    externalIdentityCount: async (userId) => store.remainingExternalIdentities(userId),
    personalValues: async (userId) => Object.values(store.profileOf(userId)).filter((value) => value !== ''),
  }
}

export function fakeDeletionRequests(): DeletionRequestStoreSubject {
  const store = new InMemoryDeletionRequests(new Timeline(), { now: () => new Date() })
  return {
    store,
    withFencedCreatesHeld: () => ({ store, ...store.holdFencedCreates() }),
    withFencedUnlistsHeld: () => ({ store, ...store.holdFencedUnlists() }),
    withFencedRelistsHeld: () => ({ store, ...store.holdFencedRelists() }),
    withFencedCreateAnswersLost: () => store.failNext('createFenced', new DependencyUnavailableError('cassandra')),
    loseRow: async (id) => store.loseRow(id),
    // The fake's failed create lists nothing (its entry never lands), which keeps nothing to create from, as the adapter's withdrawal leaves it.
    withEntryAnswerLost: () => ({ store: store.failNext('create', new DependencyUnavailableError('cassandra')), settled: async () => undefined }),
  }
}

export function fakeEventOutbox(): EventOutboxSubject {
  const outbox = new InMemoryEventOutbox()
  return {
    outbox,
    stored: async (requestId) => {
      const mid = outbox.midOf(requestId)
      return mid === undefined ? undefined : { mid, event: outbox.eventOf(requestId) }
    },
    markPublished: async (requestId, at) => void outbox.markPublished(requestId, at),
  }
}

export function fakeAuditTrail(): AuditTrailSubject {
  const trail = new InMemoryAuditTrail()
  const seqOf = (requestId: string, index: number) => {
    const seq = trail.seqsOf(requestId)[index]
    if (seq === undefined) throw new Error(`no record ${index} of ${requestId}`)
    return seq
  }
  return {
    trail,
    verify: () => trail.verify(),
    recordsOf: async (requestId) => trail.records.filter((record) => record.requestId === requestId),
    rewrite: async (requestId, index, change) => {
      const seq = seqOf(requestId, index)
      const undo = trail.rewrite(seq, change)
      return { seq, undo: async () => undo() }
    },
    remove: async (requestId, index) => {
      const seq = seqOf(requestId, index)
      const undo = trail.remove(seq)
      return { seq, undo: async () => undo() }
    },
  }
}

export function fakeIdentityProvider(): IdentityProviderSubject<FakeSession> {
  const identity = new InMemoryIdentityProvider()
  let accounts = 0
  return {
    identity,
    createAccount: async () => {
      const userId = `account-${++accounts}`
      identity.addAccount(userId)
      return userId
    },
    signIn: async (userId) => identity.signIn(userId),
    isSignedIn: async (session) => identity.isSignedIn(session),
    account: async (userId) => {
      const account = identity.accountOf(userId)
      return account && { enabled: account.enabled, personalValues: [account.email, account.firstName, account.lastName].filter((value) => value !== '') }
    },
    disableByAdministrator: async (userId) => void identity.disableByAdministrator(userId),
    refuseRemovalOf: (userId) => void identity.refuseRemovalOf(userId),
    goDown: () => void identity.goDown(),
    stall: () => void identity.hang(),
    comeBack: () => void identity.comeBack(),
    passTimeBound: () => void identity.timeOut(),
    withRefusedCredentials: () => identity.refuseCredentials(),
  }
}

export function fakeUserDeletionStates(): UserDeletionStatesSubject {
  const states = new InMemoryUserDeletionStates()
  // Only the mode tells the fake's unreadable rows apart: a known mode stands for one without a request id.
  return { states, seedUnreadable: async (userId, row) => void states.setUnreadable(userId, row.mode) }
}

export function fakeIdempotencyKeys(): IdempotencyKeysSubject {
  let now = Date.now()
  return {
    keys: new InMemoryIdempotencyKeys(() => now),
    // Past any time in flight the contract gives a claim; a stored answer lives far longer.
    untilExpired: async () => {
      now += 60_000
    },
  }
}

export function fakeUserSearchIndex(): UserSearchIndexSubject {
  const index = new InMemoryUserSearchIndex()
  const down = async () => {
    const down = new InMemoryUserSearchIndex()
    down.down = true
    return down
  }
  return {
    index,
    seedUser: async (userId, document) => void index.users.set(userId, structuredClone(document)),
    seedNote: async (noteId, note) => void index.notes.set(noteId, structuredClone(note)),
    unreachable: down,
    // The adapter meets an error status as it meets no answer.
    refusing: down,
    async refusingWrites(userId) {
      const refusing = new InMemoryUserSearchIndex()
      refusing.users.set(userId, { id: userId, userId, status: 1, isDeleted: false })
      refusing.notes.set(`note-${userId}`, { id: `note-${userId}`, userId })
      refusing.writesRefused = true
      return refusing
    },
    // The same notes: the fake reads them all at once, so only the bound of pageSize × maxPages shows.
    async readingNotesInPages(pageSize, maxPages) {
      index.maxNotesRead = pageSize * maxPages
      return index
    },
    async notesUndeletable(notes) {
      const blocked = new InMemoryUserSearchIndex()
      for (const [id, note] of Object.entries(notes)) blocked.notes.set(id, structuredClone(note))
      blocked.writesRefused = true
      return blocked
    },
  }
}

export function fakeUserCache(): UserCacheSubject {
  const cache = new InMemoryUserCache()
  const down = async () => {
    const down = new InMemoryUserCache()
    down.down = true
    return down
  }
  return {
    cache,
    seed: async (userId, hash) => void cache.hashes.set(userId, { ...hash }),
    seedString: async (userId, value) => void cache.others.set(userId, { type: 'string', value }),
    seedStream: async (userId, entries) => void cache.others.set(userId, { type: 'stream', value: entries.map(({ id, fields }) => ({ id, fields: fields.map(([name, value]) => [name, value]) })) }),
    unreachable: down,
    // The adapter bounds every command (REDIS_TIMEOUT_MS) and meets an unanswered one as no Redis at all.
    unanswering: down,
  }
}

export function fakePersonalDataTables(): PersonalDataTablesSubject {
  const profiles = new Map<string, Record<string, string>>()
  const tables = new InMemoryPersonalTables((userId) => profiles.get(userId) ?? {})
  const extra = { keyspace: 'other_keyspace', table: 'extra_target' }
  const extraName = `${extra.keyspace}.${extra.table}`
  return {
    tables,
    seedContacts: async (userId, contacts) => void profiles.set(userId, { ...contacts }),
    seedCode: async (table, value, kind) => void (table === 'otp' ? tables.addCode('otp', kind, value) : tables.addCode('rate_limit', value, kind)),
    seedRow: async (table, row) => void tables.addRow(table, { ...row }),
    async extraTable() {
      if (!tables.rows.has(extraName)) tables.declareTable(extraName, ['id', 'user_id', 'note'])
      return extra
    },
    seedExtra: async (target, row) => void tables.addRow(`${target.keyspace}.${target.table}`, { ...row }),
    extraRows: async (target, userId) => (tables.rows.get(`${target.keyspace}.${target.table}`) ?? []).filter((row) => row.user_id === userId).map((row) => ({ ...row })),
    // Reads everything at once; the case still checks that a few dozen rows are all erased.
    pageRows: 20,
  }
}

export function fakeBatchJobs(): BatchJobStoreSubject {
  const store = new InMemoryBatchJobs()
  // One in-memory store stands for the cluster: another instance reaches the same jobs through it.
  return { store, otherInstance: () => store }
}

export function fakeRequesterDeletionCounts(): RequesterDeletionCountsSubject {
  return { counts: new InMemoryRequesterDeletionCounts() }
}
