import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/harness.js'
import { login } from '../support/keycloak.js'
import { personInBoth } from '../support/lifecycle.js'
import { expectRestError } from '../support/rest-answers.js'
import { readUserState } from '../support/user-state.js'

/** A token whose signature no longer matches its content: a character early in the signature changed (the last one may carry only padding bits). */
function tampered(token: string): string {
  const at = token.lastIndexOf('.') + 10
  return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1)
}

/**
 * How the REST routes that take the person's Keycloak token in `Authorization: Bearer` answer
 * credential trouble, with real tokens from the running Keycloak: a client that follows RFC 6750
 * must be able to tell which credential is at fault, and whether a new access token would help.
 */
describe('credential answers of the Bearer REST routes', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ auth: { userToken: { publicKeyDir: '' } } })
  })
  afterAll(async () => {
    await h.close()
  })

  async function personWithToken(options: Parameters<typeof personInBoth>[1] = {}) {
    const person = await personInBoth(h, options)
    const tokens = await login(person)
    if (!tokens) throw new Error('password grant refused')
    return { ...person, token: tokens.access_token }
  }

  describe('when the person’s token is valid but X-Authenticated-For is refused', () => {
    it.each([
      ['DELETE /api/v2/user/{id}/', (id: string) => `/api/v2/user/${id}/?hard=1`],
      ['DELETE /api/users/{user_id}/', (id: string) => `/api/users/${id}/`],
    ])('%s: then 403 naming X-Authenticated-For, no invalid_token challenge on the access token, and the managed user stays', async (_route, pathOf) => {
      const parent = await personWithToken()
      const child = await personWithToken({ parentId: parent.id, managedBy: parent.id })
      const unmanaged = await personWithToken()

      for (const forToken of [tampered(child.token), unmanaged.token]) {
        const response = await h.service.app.request(pathOf(child.id), { method: 'DELETE', headers: { authorization: `Bearer ${parent.token}`, 'x-authenticated-for': forToken } })

        expect(response.headers.get('www-authenticate')).toBeNull()
        await expectRestError('drf-detail', response, 'MANAGED_USER_TOKEN_REFUSED')
      }
      expect((await readUserState(h.db, child.id)).user?.get('status')).toBe(1)
      // The same parent with the child's real token is let through (the refusal above is the token's).
      const allowed = await h.service.app.request(pathOf(child.id), { method: 'DELETE', headers: { authorization: `Bearer ${parent.token}`, 'x-authenticated-for': child.token } })
      expect(allowed.status).toBe(204)
      // The child's token, still unexpired, now names a user deleted for good: refused the same way.
      const again = await h.service.app.request(pathOf(child.id), { method: 'DELETE', headers: { authorization: `Bearer ${parent.token}`, 'x-authenticated-for': child.token } })
      expect(again.headers.get('www-authenticate')).toBeNull()
      await expectRestError('drf-detail', again, 'MANAGED_USER_TOKEN_REFUSED')
    })
  })
})
