import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { WORLD_RECEIPT_KEY, deletionWorld } from '../../test/support/fakes/deletion-world.js'
import { deleteUser } from './delete-user.js'
import type { DeletionRequest, StepOutcome } from './deletion-request.js'
import { createSchemaRegistry } from '../schemas/schema-registry.js'
import { keyId } from './keyed-hash.js'
import { buildReceipt, erases, pseudonymise } from './receipt.js'

const USER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const ADMIN = 'a0a0a0a0-1111-4222-8333-444455556666'
const CHILD = 'd1d1d1d1-1111-4222-8333-444455556666'
const KEY = 'receipt-key'
const COMPLETED_AT = new Date(Date.UTC(2024, 4, 20, 10, 9, 0, 0))
const at = '2024-05-20T10:08:56.812Z'

const done = (action: string, count?: number): StepOutcome => ({ status: 'done', action, at, ...(count !== undefined && { count }) })

function request(steps: DeletionRequest['steps']): DeletionRequest {
  return {
    id: 'req-1',
    userId: USER,
    requestedBy: ADMIN,
    state: 'in_progress',
    plan: 'sunbird',
    steps,
    target: { rootOrgId: 'org-1', managedBy: null, organisationIds: ['org-1'] },
    createdAt: new Date(0),
    updatedAt: new Date(0),
  }
}

const ALL_STEPS: DeletionRequest['steps'] = {
  lock: done('locked'),
  keycloak: done('deleted'),
  lookups: done('deleted', 3),
  externalIdentities: done('deleted', 2),
  organisations: done('marked-left', 1),
  userRow: done('scrubbed'),
  managedUsers: { status: 'skipped', action: 'scrubbed', count: 0, at },
  event: done('queued'),
}

describe('buildReceipt', () => {
  it('when every step ran, then each store is listed in step order with its action and count, then user_roles kept and the audit trail', () => {
    // Act
    const receipt = buildReceipt(request(ALL_STEPS), 'completed', KEY, COMPLETED_AT)

    // Assert
    expect(receipt.stores.map(({ store, action, count }) => ({ store, action, count }))).toEqual([
      { store: 'cassandra.user (status)', action: 'locked', count: undefined },
      { store: 'keycloak', action: 'deleted', count: undefined },
      { store: 'cassandra.user_lookup', action: 'deleted', count: 3 },
      { store: 'cassandra.usr_external_identity', action: 'deleted', count: 2 },
      { store: 'cassandra.user_organisation', action: 'marked-left', count: 1 },
      { store: 'cassandra.user_consent', action: 'kept', count: undefined },
      { store: 'cassandra.user (profile)', action: 'scrubbed', count: undefined },
      { store: 'cassandra.user (managed users)', action: 'scrubbed', count: 0 },
      { store: 'kafka (delete.user topic)', action: 'queued', count: undefined },
      { store: 'cassandra.user_roles', action: 'kept', count: undefined },
      { store: 'downstream.ml', action: 'left to ml via the delete-user event', count: undefined },
      { store: 'downstream.knowlg', action: 'left to knowlg via the delete-user event', count: undefined },
      { store: 'cassandra.bulk_upload_process', action: 'not reachable by user id', count: undefined },
      { store: 'cassandra.user_deletion_audit', action: 'appended', count: undefined },
    ])
  })

  it('when a step acted on several stores (extra targets), then each has its own entry, named cassandra.<keyspace>.<table>', () => {
    const outcome: StepOutcome = {
      ...done('erased'),
      entries: [
        { store: 'cassandra.sunbird_courses.user_enrolments', action: 'deleted', count: 2 },
        { store: 'cassandra.sunbird_groups.group_member', action: 'table not found' },
      ],
    }

    const receipt = buildReceipt(request({ lock: done('locked'), extraTargets: outcome }), 'completed', KEY, COMPLETED_AT)

    expect(receipt.stores.filter((entry) => entry.store.startsWith('cassandra.sunbird_')).map(({ store, action, count }) => ({ store, action, count }))).toEqual([
      { store: 'cassandra.sunbird_courses.user_enrolments', action: 'deleted', count: 2 },
      { store: 'cassandra.sunbird_groups.group_member', action: 'table not found', count: undefined },
    ])
  })

  it('when a soft deletion is receipted, then the downstream services are not told (kept), and the bulk upload files are said to be out of reach', () => {
    const soft = { ...request({ lock: done('locked') }), plan: 'soft' as const }

    const receipt = buildReceipt(soft, 'completed', KEY, COMPLETED_AT)

    expect(receipt.stores.find((entry) => entry.store === 'downstream.ml')?.action).toBe('kept')
    expect(receipt.stores.find((entry) => entry.store === 'cassandra.bulk_upload_process')?.action).toBe('not reachable by user id')
    expect(receipt.stores.find((entry) => entry.store === 'search.usernotes')?.action).toBe('kept')
  })

  it('when a soft deletion disabled the account and removed the codes, then the receipt says the account was disabled and kept, not removed, and no profile was blanked', () => {
    const soft = {
      ...request({ lock: done('locked'), keycloak: { ...done('disabled'), plan: 'soft' }, otp: { ...done('deleted', 1), plan: 'soft' }, rateLimit: { ...done('deleted', 0), plan: 'soft' } }),
      plan: 'soft' as const,
    }

    const receipt = buildReceipt(soft, 'completed', KEY, COMPLETED_AT)

    const keycloak = receipt.stores.find((entry) => entry.store === 'keycloak')
    expect(keycloak).toMatchObject({ action: 'disabled' })
    expect(keycloak?.why).toContain('disabled')
    expect(keycloak?.why).not.toContain('removed')
    for (const store of ['cassandra.otp', 'cassandra.rate_limit']) expect(receipt.stores.find((entry) => entry.store === store)?.why).not.toContain('blanked')
    // The same steps under an erasing plan keep their own words.
    expect(buildReceipt(request(ALL_STEPS), 'completed', KEY, COMPLETED_AT).stores.find((entry) => entry.store === 'keycloak')?.why).toContain('removed')
  })

  it('when the physical erasure of a store is known, then its entry says by when and how; others say nothing', () => {
    const horizons = { 'cassandra.user_lookup': { by: '2024-05-30T10:09:00.000Z', how: 'after gc_grace_seconds 864000 at the next compaction' } }

    const receipt = buildReceipt(request(ALL_STEPS), 'completed', KEY, COMPLETED_AT, horizons)

    const lookups = receipt.stores.find((entry) => entry.store === 'cassandra.user_lookup')
    expect(lookups).toMatchObject({ physicallyErasedBy: '2024-05-30T10:09:00.000Z', physicalErasure: 'after gc_grace_seconds 864000 at the next compaction' })
    expect(receipt.stores.find((entry) => entry.store === 'keycloak')).not.toHaveProperty('physicalErasure')
  })

  it('when a store kept its values, or nothing was sent or erased there, then its entry names no physical erasure, though the store has a horizon', () => {
    const horizon = { by: '2024-05-30T10:09:00.000Z', how: 'after gc_grace_seconds 864000 at the next compaction' }
    const soft = { ...request({ lock: done('locked'), event: { ...done('not-sent'), plan: 'soft' } }), plan: 'soft' as const }
    const stores = ['cassandra.user (status)', 'cassandra.user (profile)', 'cassandra.user_organisation', 'kafka (delete.user topic)', 'cassandra.user_roles', 'cassandra.user_deletion_audit']
    const horizons = Object.fromEntries(stores.map((store) => [store, horizon]))

    const kept = buildReceipt(soft, 'completed', KEY, COMPLETED_AT, horizons)
    const erased = buildReceipt(request(ALL_STEPS), 'completed', KEY, COMPLETED_AT, horizons)

    const entry = (receipt: typeof kept, store: string) => receipt.stores.find((found) => found.store === store)
    // Locked, kept, not sent, appended: the person's values stay.
    for (const store of stores) expect(entry(kept, store), store).not.toHaveProperty('physicallyErasedBy')
    for (const store of ['cassandra.user (status)', 'cassandra.user_organisation', 'cassandra.user_roles', 'cassandra.user_deletion_audit'])
      expect(entry(erased, store), store).not.toHaveProperty('physicalErasure')
    // A managed users' entry joining its users' actions erased if any did.
    expect(erases({ action: 'deleted, absent' })).toBe(true)
    expect(erases({ action: 'kept, absent' })).toBe(false)
    // Scrubbed, and the event sent: the old values go at the store's horizon.
    for (const store of ['cassandra.user (profile)', 'kafka (delete.user topic)']) expect(entry(erased, store), store).toMatchObject({ physicallyErasedBy: horizon.by, physicalErasure: horizon.how })
  })

  it("when the relay published the event before the receipt was made (a partial deletion completed by a later pass), then its entry says published and keeps the topic's physical horizon", () => {
    const horizon = { by: '2024-05-30T10:09:00.000Z', how: 'after retention.ms 172800000 and segment.ms 604800000' }
    // How a request reads once the relay recorded the publication (recordedSteps: eventpublishedat).
    const published = request({ ...ALL_STEPS, event: done('published') })

    const receipt = buildReceipt(published, 'completed', KEY, COMPLETED_AT, { 'kafka (delete.user topic)': horizon })

    expect(receipt.stores.find((entry) => entry.store === 'kafka (delete.user topic)')).toMatchObject({ action: 'published', physicallyErasedBy: horizon.by, physicalErasure: horizon.how })
  })

  it('when a store is listed, then it says why in words', () => {
    const receipt = buildReceipt(request(ALL_STEPS), 'completed', KEY, COMPLETED_AT)

    for (const entry of receipt.stores) expect(entry.why.length).toBeGreaterThan(10)
    expect(new Set(receipt.stores.map((entry) => entry.why)).size).toBe(receipt.stores.length)
  })

  it('when an outcome has no count, then the entry has no count key at all', () => {
    const receipt = buildReceipt(request({ lock: done('locked') }), 'in_progress', KEY, COMPLETED_AT)

    expect(receipt.stores[0]).not.toHaveProperty('count')
  })

  it('when only some steps ran, then only their stores are listed, with user_roles and the audit trail', () => {
    const receipt = buildReceipt(request({ lock: done('locked'), keycloak: done('absent') }), 'in_progress', KEY, COMPLETED_AT)

    expect(receipt.stores.map((entry) => entry.store)).toEqual([
      'cassandra.user (status)',
      'keycloak',
      'cassandra.user_consent',
      'cassandra.user_roles',
      'downstream.ml',
      'downstream.knowlg',
      'cassandra.bulk_upload_process',
      'cassandra.user_deletion_audit',
    ])
    expect(receipt.stores[1]?.action).toBe('absent')
  })

  it('when a step is pending, then its action reads pending whatever the outcome said', () => {
    const receipt = buildReceipt(request({ ...ALL_STEPS, keycloak: { status: 'pending', action: 'unreachable', at } }), 'partial', KEY, COMPLETED_AT)

    expect(receipt.stores.find((entry) => entry.store === 'keycloak')?.action).toBe('pending')
    expect(receipt.state).toBe('partial')
  })

  it('when a hard deletion removed the memberships, then their line says removed, not marked left and kept for history', () => {
    const hard = { ...request({ ...ALL_STEPS, organisations: { ...done('deleted', 1), plan: 'hard' } }), plan: 'hard' as const }

    const line = buildReceipt(hard, 'completed', KEY, COMPLETED_AT).stores.find((entry) => entry.store === 'cassandra.user_organisation')

    expect(line).toMatchObject({ action: 'deleted', count: 1, why: 'memberships removed: a hard deletion keeps no organisation history of the person' })
  })

  it('when a step is owed (pending), then its why says it is owed, not that it was done', () => {
    const partial = request({ ...ALL_STEPS, keycloak: { status: 'pending', action: 'unreachable', at } })

    const line = buildReceipt(partial, 'partial', KEY, COMPLETED_AT).stores.find((entry) => entry.store === 'keycloak')

    expect(line?.why).toMatch(/^owed, retried until done: every session ended, then the account removed/)
  })

  it('when a step with a line per store owes one store and did the others, then only the owed line says owed', () => {
    const outcome: StepOutcome = {
      ...done('erased'),
      status: 'pending',
      entries: [
        { store: 'cassandra.ks.enrolments', action: 'deleted', count: 3 },
        { store: 'cassandra.ks.notes', action: 'pending' },
      ],
    }

    const stores = buildReceipt(request({ ...ALL_STEPS, extraTargets: outcome }), 'partial', KEY, COMPLETED_AT).stores

    expect(stores.find((entry) => entry.store === 'cassandra.ks.enrolments')?.why).not.toMatch(/^owed/)
    expect(stores.find((entry) => entry.store === 'cassandra.ks.notes')?.why).toMatch(/^owed, retried until done: /)
  })

  it('when a receipt is built, then it names the request, the state and the completion time', () => {
    const receipt = buildReceipt(request(ALL_STEPS), 'completed', KEY, COMPLETED_AT)

    expect(receipt).toMatchObject({ requestId: 'req-1', state: 'completed', completedAt: '2024-05-20T10:09:00.000Z' })
  })

  it('when a receipt is built, then its subject is the HMAC-SHA256 of the user id under the key', () => {
    const receipt = buildReceipt(request(ALL_STEPS), 'completed', KEY, COMPLETED_AT)

    expect(receipt.subject).toBe(createHmac('sha256', KEY).update(USER).digest('hex'))
    expect(receipt.subject).toBe(pseudonymise(KEY, USER))
    expect(receipt.subject).toMatch(/^[0-9a-f]{64}$/)
  })

  it('when a receipt is built, then it names the key its subject was made with by its id (the first 16 hex characters of HMAC(key, "key-id")), never by the key', () => {
    const receipt = buildReceipt(request(ALL_STEPS), 'completed', KEY, COMPLETED_AT)

    expect(receipt.subjectKeyId).toBe(keyId(KEY))
    expect(receipt.subjectKeyId).toBe(createHmac('sha256', KEY).update('key-id').digest('hex').slice(0, 16))
    expect(buildReceipt(request(ALL_STEPS), 'completed', 'another-receipt-key', COMPLETED_AT).subjectKeyId).not.toBe(receipt.subjectKeyId)
    expect(JSON.stringify(receipt)).not.toContain(KEY)
  })

  it('when a receipt is checked against schemas/deletion-receipt.json, then one with the key id passes, and so does one made before it was recorded', () => {
    const validate = createSchemaRegistry().validator('deletion-receipt')
    const receipt = buildReceipt(request(ALL_STEPS), 'completed', KEY, COMPLETED_AT)
    const { subjectKeyId: _recordedSince, ...older } = receipt

    expect(validate(receipt), JSON.stringify(validate.errors)).toBe(true)
    expect(validate(older), JSON.stringify(validate.errors)).toBe(true)
    expect(validate({ ...receipt, subjectKeyId: KEY })).toBe(false)
  })

  it('when the key differs, then the subject differs', () => {
    expect(pseudonymise('key-a', USER)).not.toBe(pseudonymise('key-b', USER))
    expect(pseudonymise(KEY, USER)).not.toBe(pseudonymise(KEY, ADMIN))
  })

  it('when a user is deleted end to end, then the receipt JSON holds neither the user id nor any value from the store', async () => {
    // Arrange: a user with profile values, organisations, an org admin and a managed child.
    const profile = { username: 'asha.k', email: 'asha@example.org', phone: '9876543210', firstName: 'Asha' }
    const w = deletionWorld({
      seed: [
        { id: USER, rootOrgId: 'org-root-01', organisationIds: ['org-root-01', 'org-branch-07'], lookups: 3, externalIdentities: 1, profile },
        { id: ADMIN, adminOf: ['org-root-01'] },
        { id: CHILD, managedBy: USER, profile: { firstName: 'Ravi' } },
      ],
      eventIncludesUserName: true,
    })

    // Act
    await deleteUser(w.deps, { requestId: 'req-1', userId: USER, caller: { consumer: 'portal', userId: ADMIN, roles: [{ role: 'ORG_ADMIN', organisationIds: ['org-root-01'] }] } })

    // Assert
    const receipt = w.requests.peek('req-1')?.receipt
    expect(receipt?.subject).toBe(pseudonymise(WORLD_RECEIPT_KEY, USER))
    const json = JSON.stringify(receipt)
    for (const value of [USER, ADMIN, CHILD, 'org-root-01', 'org-branch-07', ...Object.values(profile), 'Ravi']) expect(json).not.toContain(value)
  })
})
