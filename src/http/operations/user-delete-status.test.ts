import { describe, expect, it } from 'vitest'
import { appOverFakes } from '../../../test/support/fakes/app-over-fakes.js'
import { deleteAccount } from '../../deletion/delete-account.js'
import { userDeleteStatus } from './user-delete-status.js'

const TARGET = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const OTHER = 'b0b0b0b0-1111-4222-8333-444455556666'
const STRANGER = 'c0c0c0c0-1111-4222-8333-444455556666'

describe('POST /api/user/v1/delete/status by user id', () => {
  const fakes = appOverFakes({ seed: [{ id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'] }, { id: OTHER }, { id: STRANGER }] })
  const ask = async (sub: string, userId: string) => {
    const response = await fakes.app.request(userDeleteStatus.paths[0], {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${fakes.apiBearer}`, 'x-authenticated-user-token': fakes.userToken({ sub }) },
      body: JSON.stringify({ request: { userId } }),
    })
    return { status: response.status, text: await response.text() }
  }

  it('when a caller with no right to follow the user asks, then the answer is the same 403 whether the user has a deletion or not: no oracle', async () => {
    await deleteAccount(fakes.world.deps, { requestId: 'soft-1', userId: TARGET, caller: { consumer: 'portal', userId: TARGET, roles: [] }, mode: 'soft' })

    const withDeletion = await ask(STRANGER, TARGET)
    const withoutDeletion = await ask(STRANGER, OTHER)

    expect(withDeletion).toEqual({ status: 403, text: 'You do not have permission to perform this operation' })
    expect(withoutDeletion).toEqual(withDeletion)
  })

  it('when the user asks about themselves and has no deletion, then 404 UOS_USRDLT0013', async () => {
    const own = await ask(OTHER, OTHER)

    expect(own.status).toBe(404)
    expect((JSON.parse(own.text) as { params: { err: string } }).params.err).toBe('UOS_USRDLT0013')
  })
  it('when an ORG_ADMIN of the user asks with the id in upper case, then they follow the deletion (ids are stored in lower case)', async () => {
    const own = appOverFakes({ seed: [{ id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'] }, { id: STRANGER }] })
    await deleteAccount(own.world.deps, { requestId: 'soft-upper', userId: TARGET, caller: { consumer: 'portal', userId: TARGET, roles: [] }, mode: 'soft' })

    const response = await own.app.request(userDeleteStatus.paths[0], {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${own.apiBearer}`,
        'x-authenticated-user-token': own.userToken({ sub: STRANGER, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: 'org-1' }] }] }),
      },
      body: JSON.stringify({ request: { userId: TARGET.toUpperCase() } }),
    })

    expect(response.status).toBe(200)
    expect(((await response.json()) as { result: { request: { requestId: string } } }).result.request.requestId).toBe('soft-upper')
  })
})

describe("POST /api/user/v1/delete/status of a managed user erased by their parent's deletion", () => {
  it('when the managed user had soft-deleted themself and their parent is then deleted, then the managed user’s status names the deletion that erased them (erasedBy)', async () => {
    const fakes = appOverFakes({
      seed: [{ id: OTHER, rootOrgId: 'org-1', organisationIds: ['org-1'] }, { id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'], managedBy: OTHER }, { id: STRANGER }],
    })
    await deleteAccount(fakes.world.deps, { requestId: 'child-soft', userId: TARGET, caller: { consumer: 'portal', userId: TARGET, roles: [] }, mode: 'soft' })
    fakes.world.clock.advance(60_000)
    await deleteAccount(fakes.world.deps, { requestId: 'parent-deletion', userId: OTHER, caller: { consumer: 'portal', userId: OTHER, roles: [] } })

    const response = await fakes.app.request(userDeleteStatus.paths[0], {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${fakes.apiBearer}`,
        'x-authenticated-user-token': fakes.userToken({ sub: STRANGER, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: 'org-1' }] }] }),
      },
      body: JSON.stringify({ request: { userId: TARGET } }),
    })

    expect(response.status).toBe(200)
    expect(((await response.json()) as { result: { request: Record<string, unknown> } }).result.request).toMatchObject({ requestId: 'child-soft', mode: 'soft', erasedBy: 'parent-deletion' })
  })
})

describe('POST /api/user/v1/delete/status: a malformed id is named in the message', () => {
  const fakes = appOverFakes({ seed: [{ id: TARGET }] })
  const ask = async (request: Record<string, unknown>) => {
    const response = await fakes.app.request(userDeleteStatus.paths[0], {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${fakes.apiBearer}`, 'x-authenticated-user-token': fakes.userToken({ sub: TARGET }) },
      body: JSON.stringify({ request }),
    })
    const { params } = (await response.json()) as { params: { err: string; errmsg: string } }
    return { status: response.status, err: params.err, errmsg: params.errmsg }
  }

  it.each([
    [{ requestId: '' }, 'UOS_USRDLT0031', 'Mandatory parameter requestId is empty.'],
    [{ requestId: 5 }, 'UOS_USRDLT0003', 'Data type of requestId should be String.'],
    [{ requestId: null }, 'UOS_USRDLT0003', 'Data type of requestId should be String.'],
    [{ requestId: 'has a space' }, 'UOS_USRDLT0009', 'Invalid format for given requestId.'],
    [{ requestId: 'x'.repeat(256) }, 'UOS_USRDLT0009', 'Invalid format for given requestId.'],
    [{ userId: '' }, 'UOS_USRDLT0031', 'Mandatory parameter userId is empty.'],
    [{ userId: 5 }, 'UOS_USRDLT0003', 'Data type of userId should be String.'],
    [{ userId: 'not-a-user-id' }, 'UOS_USRDLT0009', 'Invalid format for given userId.'],
  ])('when the request is %j, then 400 %s with the message naming that field', async (request, err, errmsg) => {
    expect(await ask(request)).toEqual({ status: 400, err, errmsg })
  })
})
