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
})
