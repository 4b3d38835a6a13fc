import { describe, expect, it } from 'vitest'
import type { Caller, ScopedRole } from './caller.js'
import { deletionBasis, orgAdminCovers, rolesAllowDeletion } from './deletion-policy.js'

const CALLER = 'caller-0000-4000-8000-000000000001'
const TARGET = 'target-0000-4000-8000-000000000002'
const OTHER = 'other--0000-4000-8000-000000000003'

function caller(overrides: Partial<Caller> = {}): Caller {
  return { consumer: 'portal', userId: CALLER, roles: [], ...overrides }
}

const orgAdmin = (...organisationIds: string[]): ScopedRole => ({ role: 'ORG_ADMIN', organisationIds })

describe('deletionBasis', () => {
  it('when the caller deletes themselves, then the basis is self', () => {
    expect(deletionBasis(caller(), CALLER)).toBe('self')
  })

  it('when the caller is a consumer trusted with deleteAnyUser, then the basis is any-user for whatever target; without the flag, none', () => {
    const service = caller({ userId: 'consumer:notifier', deleteAnyUser: true })

    expect(deletionBasis(service, TARGET)).toBe('any-user')
    expect(deletionBasis({ ...service, deleteAnyUser: false }, TARGET)).toBe('none')
  })

  it('when the caller is also an ORG_ADMIN deleting themselves, then self still wins', () => {
    expect(deletionBasis(caller({ roles: [orgAdmin('org-1')] }), CALLER)).toBe('self')
  })

  it('when the managed token names the target and its parentId is the caller, then the basis is managed-user', () => {
    const parent = caller({ managedUser: { userId: TARGET, parentId: CALLER } })

    expect(deletionBasis(parent, TARGET)).toBe('managed-user')
  })

  it('when the managed token names the target but another parent, then the caller has no basis', () => {
    const stranger = caller({ managedUser: { userId: TARGET, parentId: OTHER } })

    expect(deletionBasis(stranger, TARGET)).toBe('none')
  })

  it('when the managed token is the caller’s own child but the target is someone else, then the caller has no basis', () => {
    const parent = caller({ managedUser: { userId: OTHER, parentId: CALLER } })

    expect(deletionBasis(parent, TARGET)).toBe('none')
  })

  it('when the caller holds ORG_ADMIN, then the basis is org-admin', () => {
    expect(deletionBasis(caller({ roles: [{ role: 'PUBLIC', organisationIds: [] }, orgAdmin('org-1')] }), TARGET)).toBe('org-admin')
  })

  it('when the caller holds ORG_ADMIN and a managed token for someone else, then org-admin still applies', () => {
    const admin = caller({ roles: [orgAdmin('org-1')], managedUser: { userId: OTHER, parentId: CALLER } })

    expect(deletionBasis(admin, TARGET)).toBe('org-admin')
  })

  it.each([
    ['no roles', []],
    ['only PUBLIC', [{ role: 'PUBLIC', organisationIds: ['org-1'] }]],
    [
      'other admin roles',
      [
        { role: 'SYSTEM_ADMINISTRATION', organisationIds: [] },
        { role: 'ORG_MODERATOR', organisationIds: ['org-1'] },
      ],
    ],
    ['a lower-case org_admin', [{ role: 'org_admin', organisationIds: ['org-1'] }]],
  ])('when the caller has %s and deletes someone else, then the basis is none', (_label, roles) => {
    expect(deletionBasis(caller({ roles }), TARGET)).toBe('none')
  })
})

describe('orgAdminCovers', () => {
  it('when the target belongs to one of the admin’s organisations, then it is covered', () => {
    const admin = caller({ roles: [orgAdmin('org-1', 'org-2')] })

    expect(orgAdminCovers(admin, ['org-9', 'org-2'], 'organisation')).toBe(true)
  })

  it('when the target belongs to none of the admin’s organisations, then it is not covered', () => {
    const admin = caller({ roles: [orgAdmin('org-1')] })

    expect(orgAdminCovers(admin, ['org-2', 'org-3'], 'organisation')).toBe(false)
  })

  it('when the target has no organisation, then it is not covered in organisation scope', () => {
    const admin = caller({ roles: [orgAdmin('org-1')] })

    expect(orgAdminCovers(admin, [], 'organisation')).toBe(false)
  })

  it('when the shared organisation comes from a non-admin role, then it does not count', () => {
    const member = caller({ roles: [{ role: 'PUBLIC', organisationIds: ['org-2'] }, orgAdmin('org-1')] })

    expect(orgAdminCovers(member, ['org-2'], 'organisation')).toBe(false)
  })

  it('when the ORG_ADMIN role has no scope, then nothing is covered in organisation scope', () => {
    const admin = caller({ roles: [orgAdmin()] })

    expect(orgAdminCovers(admin, ['org-1'], 'organisation')).toBe(false)
  })

  it('when the scope is any, then every target is covered, even one in no organisation', () => {
    const admin = caller({ roles: [orgAdmin('org-1')] })

    expect(orgAdminCovers(admin, ['org-2'], 'any')).toBe(true)
    expect(orgAdminCovers(admin, [], 'any')).toBe(true)
  })
})

describe('rolesAllowDeletion', () => {
  it('when every target role is in the allowed list, then deletion is allowed', () => {
    expect(rolesAllowDeletion(['PUBLIC'], ['public'])).toBe(true)
  })

  it('when roles differ only in case and surrounding spaces, then they match', () => {
    expect(rolesAllowDeletion([' Public ', 'TEACHER'], ['public', '  teacher'])).toBe(true)
  })

  it('when one target role is outside the allowed list, then deletion is refused', () => {
    expect(rolesAllowDeletion(['PUBLIC', 'ORG_ADMIN'], ['public'])).toBe(false)
  })

  it('when the target has no roles, then deletion is allowed', () => {
    expect(rolesAllowDeletion([], ['public'])).toBe(true)
  })

  it('when the allowed list is empty and the target has a role, then deletion is refused', () => {
    expect(rolesAllowDeletion(['PUBLIC'], [])).toBe(false)
  })

  it('when a role name only contains an allowed name, then it does not match', () => {
    expect(rolesAllowDeletion(['PUBLIC_ADMIN'], ['public'])).toBe(false)
  })
})
