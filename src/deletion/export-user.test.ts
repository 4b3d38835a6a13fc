import { describe, expect, it } from 'vitest'
import { deletionWorld } from '../../test/support/fakes/deletion-world.js'
import type { Caller } from './caller.js'
import { deleteAccount } from './delete-account.js'
import { NotPermittedError, UserNotFoundError } from './errors.js'
import { exportUser } from './export-user.js'
import { encryptAsSunbird } from '../../test/support/sunbird-encryption.js'

const TARGET = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const STRANGER = 'c0c0c0c0-1111-4222-8333-444455556666'
const self = (): Caller => ({ consumer: 'portal', userId: TARGET, roles: [] })
const seed = () => deletionWorld({ seed: [{ id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'], lookups: 2, profile: { email: 'asha@example.org' } }] })

describe('exportUser', () => {
  it('when a user exports their data, then every store contributes its section, the deletion requests come along, and the export is audited by id', async () => {
    const w = seed()

    const { sections, deletionRequests } = await exportUser(w.deps, { requestId: 'exp-1', userId: TARGET, caller: self() })

    expect(Object.keys(sections).sort()).toEqual([
      'address',
      'cache',
      'externalIdentities',
      'keycloak',
      'lookups',
      'managedUserIds',
      'organisations',
      'roles',
      'row',
      'searchDocument',
      'searchNotes',
      'shadow_user',
      'user_cert',
      'user_consent',
      'user_declarations',
      'user_feed',
      'user_notes',
    ])
    expect(sections.row).toMatchObject({ id: TARGET, email: 'asha@example.org' })
    expect(sections.lookups).toHaveLength(2)
    expect(sections.keycloak).toMatchObject({ enabled: true })
    expect(deletionRequests).toEqual([])
    expect(w.audit.records.map(({ event, requestId, userId, requestedBy }) => ({ event, requestId, userId, requestedBy }))).toEqual([
      { event: 'user.exported', requestId: 'exp-1', userId: TARGET, requestedBy: TARGET },
    ])
  })

  it('when the user is soft-deleted, then the export still works, with the deletion request in it', async () => {
    const w = seed()
    await deleteAccount(w.deps, { requestId: 'del-1', userId: TARGET, caller: self(), mode: 'soft' })

    const { sections, deletionRequests } = await exportUser(w.deps, { requestId: 'exp-1', userId: TARGET, caller: self() })

    expect(sections.keycloak).toMatchObject({ enabled: false })
    expect(deletionRequests.map((request) => request.id)).toEqual(['del-1'])
  })

  it.each(['none', 'hard'] as const)('when the user was erased (%s mode), then the user does not exist for an export', async (mode) => {
    const w = seed()
    await deleteAccount(w.deps, { requestId: 'del-1', userId: TARGET, caller: self(), ...(mode === 'hard' && { mode }) })

    await expect(exportUser(w.deps, { requestId: 'exp-1', userId: TARGET, caller: self() })).rejects.toBeInstanceOf(UserNotFoundError)
  })

  it('when the export reads values Sunbird encrypts that the key does not decrypt (a wrong key, or stored plain), then it tells it once for its call, with counts only, as a deletion does; an export whose values all decrypt tells nothing', async () => {
    const key = 'a-deployment-encryption-key'
    // A blank contact (Sunbird writes '' for one never given) is no value the key failed on.
    const person = (email: string, phone: string) =>
      deletionWorld({ seed: [{ id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'], lookups: 0, profile: { email, phone, recoveryemail: '' } }], sunbirdEncryptionKey: key })
    const told: [string, number, number][] = []
    const tell = (requestId: string, notDecrypted: number, contacts: number) => told.push([requestId, notDecrypted, contacts])
    const wrongKey = person(encryptAsSunbird('asha@example.org', 'another-deployments-key'), encryptAsSunbird('9876543210', key))
    const allDecrypt = person(encryptAsSunbird('asha@example.org', key), encryptAsSunbird('9876543210', key))
    wrongKey.deps.onContactsNotDecrypted = tell
    allDecrypt.deps.onContactsNotDecrypted = tell

    const { sections } = await exportUser(wrongKey.deps, { requestId: 'exp-1', userId: TARGET, caller: self() })
    await exportUser(allDecrypt.deps, { requestId: 'exp-2', userId: TARGET, caller: self() })

    expect(sections.row).toMatchObject({ email: encryptAsSunbird('asha@example.org', 'another-deployments-key'), phone: '9876543210' })
    expect(told).toEqual([['exp-1', 1, 2]])
  })

  it('when a stranger asks, then NotPermitted and nothing is read beyond the deletion state', async () => {
    const w = seed()

    await expect(exportUser(w.deps, { requestId: 'exp-1', userId: TARGET, caller: { consumer: 'portal', userId: STRANGER, roles: [] } })).rejects.toBeInstanceOf(NotPermittedError)
    expect(w.audit.records).toEqual([])
  })
})
