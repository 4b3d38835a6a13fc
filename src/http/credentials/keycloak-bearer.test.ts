import { describe, expect, it } from 'vitest'
import { appOverFakes } from '../../../test/support/fakes/app-over-fakes.js'
import { expectRestError } from '../../../test/support/rest-answers.js'
import { deleteAccount } from '../../deletion/delete-account.js'

/**
 * The order in which the Bearer REST routes judge the person and the managed user they name: a
 * person deleted for good is locked out whatever else they send, so a refused X-Authenticated-For
 * beside their token is the person's 401 (`invalid_token`), not the managed user's 403.
 */

const PERSON = '2b373937-5a1c-4c1a-9d2e-0a8f1c2b3d41'
const OTHER = '0b1c2d3e-4f50-4617-8899-aabbccddeeff'

// Not managed by PERSON: a hard deletion of PERSON would take a managed user along.
const fakes = appOverFakes({ seed: [{ id: PERSON }, { id: OTHER }] })

/** A call of seed 003 by PERSON on OTHER, with OTHER’s token as the managed user’s: refused (no parentId). */
function callWithRefusedManagedUser(): Promise<Response> {
  return Promise.resolve(
    fakes.app.request(`/api/v2/user/${OTHER}/?hard=1`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${fakes.userToken({ sub: PERSON })}`, 'x-authenticated-for': fakes.userToken({ sub: OTHER }) },
    }),
  )
}

describe('keycloak-bearer: a refused X-Authenticated-For', () => {
  it('when the person is active, then 403 UOS_USRDLT0141 with no challenge (the access token is not at fault)', async () => {
    fakes.reset()

    const response = await callWithRefusedManagedUser()

    expect(response.headers.get('www-authenticate')).toBeNull()
    await expectRestError('drf-detail', response, 'MANAGED_USER_TOKEN_REFUSED')
  })

  it('when the person was deleted for good, then their own lock-out: 401 with the invalid_token challenge, as without X-Authenticated-For', async () => {
    const world = fakes.reset()
    await deleteAccount(world.deps, { requestId: 'hard-1', userId: PERSON, caller: { consumer: 'portal', userId: PERSON, roles: [] }, mode: 'hard' })

    const response = await callWithRefusedManagedUser()

    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"')
    await expectRestError('drf-detail', response, 'UNAUTHORIZED')
    expect(world.users.snapshot(OTHER)).toMatchObject({ status: 1, isDeleted: false })
  })
})
