import type { Server } from 'node:http'
import { type ServerType, serve } from '@hono/node-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Harness, startHarness, trustedConsumerApiBearer } from '../support/harness.js'
import { login } from '../support/keycloak.js'
import { personInBoth } from '../support/lifecycle.js'
import { converse, type WireAnswer } from '../support/raw-http.js'
import { expectRestError } from '../support/rest-answers.js'
import { readUserState } from '../support/user-state.js'

/** A token whose signature no longer matches its content: a character early in the signature changed (the last one may carry only padding bits). */
function tampered(token: string): string {
  const at = token.lastIndexOf('.') + 10
  return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1)
}

/** A DELETE as it goes on the wire, each header line as given (a header may come twice). */
const rawDelete = (path: string, headerLines: readonly string[]) => `DELETE ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headerLines.map((line) => `${line}\r\n`).join('')}Connection: close\r\n\r\n`

/** A wire answer as a fetch Response, for the dialect assertions. */
const asResponse = (answer: WireAnswer | undefined) => new Response(answer?.body ?? null, { status: answer?.status ?? 500, headers: answer?.headers ?? {} })

/**
 * How the REST routes that take the person's Keycloak token in `Authorization: Bearer` answer
 * credential trouble, with real tokens from the running Keycloak: a client that follows RFC 6750
 * must be able to tell which credential is at fault, and whether a new access token would help.
 */
describe('credential answers of the Bearer REST routes', () => {
  let h: Harness
  let server: Server
  let port: number
  beforeAll(async () => {
    h = await startHarness({ auth: { userToken: { publicKeyDir: '' } } })
    // Served on a real port: two Authorization headers reach the app as the Node server joins them.
    port = await new Promise<number>((resolve) => {
      server = serve({ fetch: h.service.app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port)) as ServerType as Server
    })
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await h.close()
  })
  const send = async (path: string, headerLines: readonly string[]) => asResponse((await converse(port, rawDelete(path, headerLines))).answers.at(-1))

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

  describe('when two Authorization headers are sent', () => {
    it('DELETE /api/v2/user/{id}/ with the person’s own token twice: then 400 invalid_request in {"detail"}, not a bare challenge, and nothing is deleted', async () => {
      const person = await personWithToken()

      const response = await send(`/api/v2/user/${person.id}/?hard=1`, [`Authorization: Bearer ${person.token}`, `Authorization: Bearer ${person.token}`])

      expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_request"')
      await expectRestError('drf-detail', response, 'MALFORMED_AUTHORIZATION')
      expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
    })

    it('DELETE /api/users/{user_id}/ with the person’s token and a gateway JWT: then the same 400', async () => {
      const person = await personWithToken()

      const response = await send(`/api/users/${person.id}/`, [`Authorization: Bearer ${person.token}`, `Authorization: Bearer ${trustedConsumerApiBearer()}`])

      expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_request"')
      await expectRestError('drf-detail', response, 'MALFORMED_AUTHORIZATION')
      expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
    })

    it('DELETE /api/v1/users/{id} with the trusted consumer’s JWT twice: then 400 invalid_request in NestJS’s shape, and nothing is deleted', async () => {
      const person = await personWithToken()
      const jwt = trustedConsumerApiBearer()

      const response = await send(`/api/v1/users/${person.id}`, [`Authorization: Bearer ${jwt}`, `Authorization: Bearer ${jwt}`])

      expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_request"')
      await expectRestError('nest-error', response, 'MALFORMED_AUTHORIZATION')
      expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
    })

    it('when the one header is of another scheme or Bearer without a token, then it is still a missing token: 401 with the bare challenge', async () => {
      const person = await personWithToken()

      for (const header of ['Authorization: Basic dXNlcjpwYXNz', 'Authorization: Bearer ']) {
        const response = await send(`/api/v2/user/${person.id}/`, [header])

        expect(response.headers.get('www-authenticate'), header).toBe('Bearer')
        await expectRestError('drf-detail', response, 'UNAUTHORIZED')
      }
    })
  })
})
