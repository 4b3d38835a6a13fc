import { describe, expect, it } from 'vitest'
import { WORLD_GRACE_DAY_MS, WORLD_LEASE_MS, deletionWorld, type WorldOptions } from '../../../test/support/fakes/deletion-world.js'
import type { SeedUser } from '../../../test/support/fakes/in-memory-user-store.js'
import { cancelDeletion } from '../cancel-deletion.js'
import { type DeletionInput, deleteAccount } from '../delete-account.js'
import { deleteUser } from '../delete-user.js'
import type { ReceiptEntry } from '../deletion-request.js'
import { DependencyUnavailableError } from '../errors.js'
import type { ExtraTarget } from '../ports.js'
import { resumeDeletion, resumeOpenDeletions } from '../run-deletion.js'
import { ABSENT_ON_RESUME, ABSENT_ON_RESUME_WHY } from './absent-on-resume.js'

const USER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const CHILD = 'c0c0c0c0-1111-4222-8333-444455556666'
const EMAIL = 'asha@example.org'
const HORIZON = { by: '2024-05-30T10:09:00.000Z', how: 'at the next compaction' }
const self = { consumer: 'portal', userId: USER, roles: [] }

/** The person of the reviewer's case: 3 lookups, 2 external identities, a Keycloak account, an organisation, and codes sent to their email. */
const person = (overrides: Partial<SeedUser> = {}): SeedUser => ({
  id: USER,
  lookups: 3,
  externalIdentities: 2,
  organisationIds: ['org-1'],
  profile: { email: EMAIL, username: 'asha.k' },
  ...overrides,
})

/** A world whose physical erasure knows every store's horizon (so a line that erased says by when), with an OTP and a rate-limit counter for the email. */
function world(seed: SeedUser[], options: Omit<WorldOptions, 'seed'> = {}) {
  const w = deletionWorld({ seed, ...options })
  w.tables.addCode('otp', 'email', EMAIL)
  w.tables.addCode('rate_limit', EMAIL, 'hour')
  w.deps.physicalErasure = { horizons: async (stores) => Object.fromEntries(stores.map((store) => [store, HORIZON])) }
  return w
}

/** An afterStep hook that kills the run once, right after `step` ran (its outcome not written unless a checkpoint came first). */
function killOnceAfter(step: string, when: () => boolean = () => true) {
  let killed = false
  return (hook: string) => {
    if (hook === step && !killed && when()) {
      killed = true
      throw new Error('killed')
    }
  }
}

async function receiptOf(w: ReturnType<typeof world>, requestId: string): Promise<ReceiptEntry[]> {
  return (await w.requests.get(requestId))?.receipt?.stores ?? []
}

const line = (stores: readonly ReceiptEntry[], store: string) => stores.find((entry) => entry.store === store)
const actionsOf = (stores: readonly ReceiptEntry[]) => Object.fromEntries(stores.map((entry) => [entry.store, `${entry.action}${entry.count === undefined ? '' : ` ${entry.count}`}`]))

describe('a resumed run finds nothing where the run it resumes may have erased', () => {
  it('when Sunbird’s deletion is killed after the organisations step (nothing recorded since the lock) and resumed, then the receipt says absent on resume, never absent or deleted 0, for what that run erased, with the physical horizon', async () => {
    // Arrange: killed before the first checkpoint after the lock (the one before userRow).
    const w = world([person()], { afterStep: killOnceAfter('organisations') })
    await expect(deleteAccount(w.deps, { requestId: 'r1', userId: USER, caller: self })).rejects.toThrow('killed')
    expect(Object.keys((await w.requests.get('r1'))?.steps ?? {})).toEqual(['lock'])
    expect(w.identity.hasAccount(USER)).toBe(false)
    w.clock.advance(WORLD_LEASE_MS + 1)

    // Act
    expect(await resumeDeletion(w.deps, 'r1')).toBe('completed')

    // Assert
    const stores = await receiptOf(w, 'r1')
    expect(actionsOf(stores)).toMatchObject({
      keycloak: ABSENT_ON_RESUME,
      'cassandra.otp': `${ABSENT_ON_RESUME} 0`,
      'cassandra.rate_limit': `${ABSENT_ON_RESUME} 0`,
      'cassandra.user_lookup': `${ABSENT_ON_RESUME} 0`,
      'cassandra.usr_external_identity': `${ABSENT_ON_RESUME} 0`,
      // Marking memberships left keeps the rows: the run again finds and counts them.
      'cassandra.user_organisation': 'marked-left 1',
      'cassandra.user (profile)': 'scrubbed',
    })
    for (const store of ['keycloak', 'cassandra.otp', 'cassandra.user_lookup', 'cassandra.usr_external_identity']) {
      expect(line(stores, store), store).toMatchObject({ physicallyErasedBy: HORIZON.by, physicalErasure: HORIZON.how })
      expect(line(stores, store)?.why, store).toContain(ABSENT_ON_RESUME_WHY)
    }
    expect(line(stores, 'cassandra.user_organisation')?.why).not.toContain(ABSENT_ON_RESUME_WHY)
    // deletion:verify still finds the codes by the hashes the resumed run kept.
    expect((await w.requests.get('r1'))?.steps.otp).toMatchObject({ action: ABSENT_ON_RESUME, count: 0, hashes: [expect.any(String)], hashKeyId: expect.any(String) })
  })

  it('when the same deletions run uninterrupted, then their receipts are as before: deleted with counts, and absent for an account the person never had', async () => {
    const w = world([person(), person({ id: CHILD, profile: {} })], { accounts: [USER] })

    await deleteUser(w.deps, { requestId: 'r1', userId: USER, caller: self })
    await deleteUser(w.deps, { requestId: 'r2', userId: CHILD, caller: { ...self, userId: CHILD } })

    const erased = await receiptOf(w, 'r1')
    expect(actionsOf(erased)).toMatchObject({ keycloak: 'deleted', 'cassandra.otp': 'deleted 1', 'cassandra.user_lookup': 'deleted 3', 'cassandra.usr_external_identity': 'deleted 2' })
    const never = await receiptOf(w, 'r2')
    expect(actionsOf(never)).toMatchObject({ keycloak: 'absent', 'cassandra.otp': 'deleted 0', 'cassandra.user_notes': 'deleted 0' })
    expect(line(never, 'keycloak')).not.toHaveProperty('physicallyErasedBy')
    expect(JSON.stringify([erased, never])).not.toContain(ABSENT_ON_RESUME)
  })

  it('when a run dies before it locked the user, then the run that locks it is not a resumed one: nothing had been erased, and absent stays absent', async () => {
    const w = world([person({ lookups: 0 })], { accounts: [], afterStep: killOnceAfter('accept') })
    await expect(deleteUser(w.deps, { requestId: 'r1', userId: USER, caller: self })).rejects.toThrow('killed')
    w.clock.advance(WORLD_LEASE_MS + 1)

    expect(await resumeDeletion(w.deps, 'r1')).toBe('completed')

    expect(actionsOf(await receiptOf(w, 'r1'))).toMatchObject({ keycloak: 'absent', 'cassandra.user_lookup': 'deleted 0', 'cassandra.otp': 'deleted 1' })
  })

  it('when a partial deletion is retried and Keycloak had removed the account though its answer was lost, then the retry says absent on resume', async () => {
    const w = world([person()])
    const erase = w.identity.eraseAccount.bind(w.identity)
    let lost = false
    w.identity.eraseAccount = async (userId) => {
      const erased = await erase(userId)
      if (lost) return erased
      lost = true
      throw new DependencyUnavailableError('keycloak')
    }
    await deleteUser(w.deps, { requestId: 'r1', userId: USER, caller: self })
    expect((await w.requests.get('r1'))?.state).toBe('partial')

    expect(await resumeDeletion(w.deps, 'r1')).toBe('completed')

    const stores = await receiptOf(w, 'r1')
    expect(line(stores, 'keycloak')).toMatchObject({ action: ABSENT_ON_RESUME, physicallyErasedBy: HORIZON.by })
    // What the first attempt recorded stands.
    expect(actionsOf(stores)).toMatchObject({ 'cassandra.user_lookup': 'deleted 3', 'cassandra.otp': 'deleted 1' })
  })

  it('when a partial deletion owed its Keycloak step because Keycloak refused the call (no attempt made) and the person has no account, then the retry says absent, not absent on resume', async () => {
    const w = world([person()], { accounts: [] })
    w.identity.refuseCredentials()
    await deleteUser(w.deps, { requestId: 'r1', userId: USER, caller: self })
    expect((await w.requests.get('r1'))?.steps.keycloak).toMatchObject({ status: 'pending', action: 'refused' })

    w.identity.acceptCredentials()
    expect(await resumeDeletion(w.deps, 'r1')).toBe('completed')

    expect(line(await receiptOf(w, 'r1'), 'keycloak')).toMatchObject({ action: 'absent' })
  })

  it('when a soft deletion is killed after its codes went and resumed, then the codes say absent on resume, the account stays disabled (a soft deletion never removes it), and a cancel enables it', async () => {
    const w = world([person()], { afterStep: killOnceAfter('rateLimit') })
    await expect(deleteAccount(w.deps, { requestId: 'r1', userId: USER, caller: self, mode: 'soft' })).rejects.toThrow('killed')
    w.clock.advance(WORLD_LEASE_MS + 1)

    expect(await resumeDeletion(w.deps, 'r1')).toBe('completed')

    const stores = await receiptOf(w, 'r1')
    expect(actionsOf(stores)).toMatchObject({ keycloak: 'disabled', 'cassandra.otp': `${ABSENT_ON_RESUME} 0`, 'cassandra.rate_limit': `${ABSENT_ON_RESUME} 0`, 'cassandra.user_lookup': 'kept' })
    expect(line(stores, 'keycloak')).not.toHaveProperty('physicallyErasedBy')
    await cancelDeletion(w.deps, { userId: USER, caller: self })
    expect(w.identity.isDisabled(USER)).toBe(false)
  })

  it('when a soft deletion of a person without an account is resumed, then the account is absent, not absent on resume: the run it resumes could not have removed one', async () => {
    const w = world([person()], { accounts: [], afterStep: killOnceAfter('otp') })
    await expect(deleteAccount(w.deps, { requestId: 'r1', userId: USER, caller: self, mode: 'soft' })).rejects.toThrow('killed')
    w.clock.advance(WORLD_LEASE_MS + 1)

    expect(await resumeDeletion(w.deps, 'r1')).toBe('completed')

    expect(actionsOf(await receiptOf(w, 'r1'))).toMatchObject({ keycloak: 'absent', 'cassandra.otp': `${ABSENT_ON_RESUME} 0` })
  })

  it('when extra targets were erased by the killed run, then a table whose rows it deleted says absent on resume, and one whose columns it blanked counts its kept rows again', async () => {
    const enrolments: ExtraTarget = { keyspace: 'sunbird_courses', table: 'user_enrolments', userColumn: 'userid', action: 'delete' }
    const feed: ExtraTarget = { keyspace: 'sunbird_notifications', table: 'notification_feed', userColumn: 'userid', action: 'blank', columns: ['message'] }
    const w = world([person()], { extraTargets: [enrolments, feed], afterStep: killOnceAfter('extraTargets') })
    w.tables.addRow('sunbird_courses.user_enrolments', { userid: USER, courseid: 'c-1' })
    w.tables.addRow('sunbird_notifications.notification_feed', { userid: USER, id: 'n-1', message: 'Asha, your certificate is ready' })
    await expect(deleteAccount(w.deps, { requestId: 'r1', userId: USER, caller: self })).rejects.toThrow('killed')
    w.clock.advance(WORLD_LEASE_MS + 1)

    expect(await resumeDeletion(w.deps, 'r1')).toBe('completed')

    const stores = await receiptOf(w, 'r1')
    expect(actionsOf(stores)).toMatchObject({ 'cassandra.sunbird_courses.user_enrolments': `${ABSENT_ON_RESUME} 0`, 'cassandra.sunbird_notifications.notification_feed': 'blanked 1' })
    expect(line(stores, 'cassandra.sunbird_courses.user_enrolments')?.why).toContain(ABSENT_ON_RESUME_WHY)
  })

  describe('a grace period', () => {
    const grace = (extra: Partial<DeletionInput> = {}): DeletionInput => ({ requestId: 'r1', userId: USER, caller: self, gracePeriodDays: 1, ...extra })

    it('when its erasure runs uninterrupted, then the receipt is as before: the erasure is not a resumed run', async () => {
      const w = world([person()])
      await deleteAccount(w.deps, grace())
      w.clock.advance(WORLD_GRACE_DAY_MS + 1)

      expect(await resumeOpenDeletions(w.deps)).toMatchObject({ completed: 1 })

      const stores = await receiptOf(w, 'r1')
      expect(actionsOf(stores)).toMatchObject({ keycloak: 'deleted', 'cassandra.user_lookup': 'deleted 3', 'cassandra.otp': 'deleted 0' })
      expect(JSON.stringify(stores)).not.toContain(ABSENT_ON_RESUME)
    })

    it('when its erasure is killed after the lookups and resumed, then what it erased says absent on resume, and a store it had not reached yet says what the resumed run erased', async () => {
      let erasing = false
      const kill = killOnceAfter('lookups', () => erasing)
      const w = world([person()], {
        afterStep: (hook) => {
          if (hook === 'erasure') erasing = true
          kill(hook)
        },
      })
      await deleteAccount(w.deps, grace({ mode: 'hard' }))
      w.clock.advance(WORLD_GRACE_DAY_MS + 1)
      await resumeOpenDeletions(w.deps)
      expect((await w.requests.get('r1'))?.state).toBe('in_progress')
      w.deps.afterStep = undefined

      expect(await resumeDeletion(w.deps, 'r1')).toBe('completed')

      expect(actionsOf(await receiptOf(w, 'r1'))).toMatchObject({
        keycloak: ABSENT_ON_RESUME,
        'cassandra.user_lookup': `${ABSENT_ON_RESUME} 0`,
        'cassandra.usr_external_identity': 'deleted 2',
        'cassandra.user_organisation': 'deleted 1',
        'cassandra.user (profile)': 'tombstoned',
      })
    })
  })

  it.each(['sunbird', 'hard'] as const)(
    'when a deletion (%s) finds no search document and no cached copy, then the receipt says absent for the document, as Sunbird’s deletion says it, with no physical horizon; one that is there is counted',
    async (plan) => {
      const w = world([person(), person({ id: CHILD, profile: {} })])
      w.search.users.set(CHILD, { id: CHILD, userId: CHILD, status: 1 })
      const mode = plan === 'hard' ? { mode: 'hard' as const } : {}

      await deleteAccount(w.deps, { requestId: 'r1', userId: USER, caller: self, ...mode })
      await deleteAccount(w.deps, { requestId: 'r2', userId: CHILD, caller: { ...self, userId: CHILD }, ...mode })

      const nothing = await receiptOf(w, 'r1')
      // The cache's line is Sunbird's own for a key that was not there (deleted 0), in both plans.
      expect(actionsOf(nothing)).toMatchObject({ 'search.user_alias': 'absent 0', 'redis.user': 'deleted 0' })
      expect(line(nothing, 'search.user_alias')).not.toHaveProperty('physicallyErasedBy')
      expect(actionsOf(await receiptOf(w, 'r2'))).toMatchObject({ 'search.user_alias': plan === 'hard' ? 'deleted 1' : 'tombstoned 1' })
    },
  )

  it('when a hard deletion is killed after it deleted the search document and resumed, then the document’s line says absent on resume, not absent', async () => {
    const w = world([person()], { afterStep: killOnceAfter('searchUser') })
    w.search.users.set(USER, { id: USER, userId: USER, status: 1 })
    await expect(deleteAccount(w.deps, { requestId: 'r1', userId: USER, caller: self, mode: 'hard' })).rejects.toThrow('killed')
    expect(w.search.users.has(USER)).toBe(false)
    w.clock.advance(WORLD_LEASE_MS + 1)

    expect(await resumeDeletion(w.deps, 'r1')).toBe('completed')

    expect(actionsOf(await receiptOf(w, 'r1'))).toMatchObject({ 'search.user_alias': `${ABSENT_ON_RESUME} 0` })
  })

  it('when a hard deletion is killed while erasing a managed user and resumed, then the managed users’ lines say absent on resume for what the killed run erased of theirs, and the person’s own lines stand', async () => {
    const w = world([person(), { id: CHILD, managedBy: USER, lookups: 2, externalIdentities: 1 }])
    const eraseIdentities = w.users.eraseExternalIdentities.bind(w.users)
    let killed = false
    w.users.eraseExternalIdentities = async (userId) => {
      if (userId === CHILD && !killed) {
        killed = true
        throw new Error('killed')
      }
      return eraseIdentities(userId)
    }
    await expect(deleteAccount(w.deps, { requestId: 'r1', userId: USER, caller: self, mode: 'hard' })).rejects.toThrow('killed')
    expect(w.identity.hasAccount(CHILD)).toBe(false)
    w.clock.advance(WORLD_LEASE_MS + 1)

    expect(await resumeDeletion(w.deps, 'r1')).toBe('completed')

    const stores = await receiptOf(w, 'r1')
    expect(actionsOf(stores)).toMatchObject({
      keycloak: 'deleted',
      'cassandra.user_lookup': 'deleted 3',
      'keycloak (managed users)': ABSENT_ON_RESUME,
      'cassandra.user_lookup (managed users)': `${ABSENT_ON_RESUME} 0`,
      'cassandra.usr_external_identity (managed users)': 'deleted 1',
      'cassandra.user (managed users)': 'hard-deleted 1',
    })
    expect(line(stores, 'keycloak (managed users)')).toMatchObject({ physicallyErasedBy: HORIZON.by })
  })
})
