import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signJwt } from '../../scripts/lib/sign-jwt.js'
import type { ErrorCode } from '../../src/http/error-codes.js'
import { expectError } from '../support/assertions.js'
import { startHarness, type Harness } from '../support/harness.js'
import { ISSUER } from '../support/test-env.js'
import { createRealmKeys, mintUserToken } from '../support/user-tokens.js'
import { readUserState } from '../support/user-state.js'

describe('error answers of the delete route, against the real Cassandra', () => {
  let h: Harness
  let userId: string
  beforeAll(async () => {
    h = await startHarness()
    userId = (await h.seed()).id
  })
  afterAll(async () => {
    // Nothing in this file may have touched the user.
    const state = await readUserState(h.db, userId)
    expect(state.user?.get('status')).toBe(1)
    expect(state.lookups).toHaveLength(3)
    await h.close()
  })

  const self = () => ({ 'x-authenticated-user-token': h.userToken({ sub: userId }) })

  describe('when the body is not what the schema asks for', () => {
    const cases: [string, unknown, ErrorCode][] = [
      ['malformed JSON', '{"request": {"userId": ', 'INVALID_REQUEST_DATA'],
      ['an empty body', '', 'INVALID_REQUEST_DATA'],
      ['a JSON array', [], 'INVALID_REQUEST_DATA'],
      ['a JSON string', '"hello"', 'INVALID_REQUEST_DATA'],
      ['no request object', { params: {} }, 'INVALID_REQUEST_DATA'],
      ['request not an object', { request: 'x' }, 'INVALID_REQUEST_DATA'],
      ['userId missing', { request: {} }, 'MANDATORY_PARAM_MISSING'],
      ['userId null', { request: { userId: null } }, 'MANDATORY_PARAM_MISSING'],
      ['userId empty', { request: { userId: '' } }, 'MANDATORY_PARAM_EMPTY'],
      ['userId blank', { request: { userId: '   ' } }, 'MANDATORY_PARAM_EMPTY'],
      ['userId a number', { request: { userId: 42 } }, 'DATA_TYPE_ERROR'],
      ['userId an array', { request: { userId: ['a'] } }, 'DATA_TYPE_ERROR'],
      ['userId an object', { request: { userId: { id: 'a' } } }, 'DATA_TYPE_ERROR'],
      ['userId not an id', { request: { userId: 'robert; DROP TABLE user' } }, 'INVALID_USER_ID'],
      ['userId far too long', { request: { userId: 'a'.repeat(5000) } }, 'INVALID_USER_ID'],
    ]
    it.each(cases)('%s → the matching Sunbird code', async (_label, body, code) => {
      await expectError(await h.deleteRequest(body, self()), code)
    })
  })

  describe('when the body is larger than the limit', () => {
    it('then a declared Content-Length over the limit is refused with 413 before reading', async () => {
      const body = JSON.stringify({ request: { userId, padding: 'x'.repeat(70_000) } })
      const response = await expectError(await h.deleteRequest(body, self()), 'PAYLOAD_TOO_LARGE')
      expect(response).toMatchObject({ params: { errmsg: 'Maximum upload data size should be 65536' } })
    })

    it('then a streamed body without Content-Length is cut off at the limit with 413', async () => {
      const chunk = new TextEncoder().encode('x'.repeat(16_384))
      let sent = 0
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 20) controller.enqueue(chunk)
          else controller.close()
        },
      })
      const response = await h.service.app.request('/api/user/v1/delete', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${h.apiBearer}`, ...self() },
        body: stream,
        duplex: 'half',
      } as RequestInit)
      await expectError(response, 'PAYLOAD_TOO_LARGE')
      expect(sent).toBeLessThan(20)
    })
  })

  describe('when a credential is missing or forged', () => {
    const body = () => ({ request: { userId } })
    const now = () => Math.floor(Date.now() / 1000)

    it('no Authorization header → 401 UOS_0070', async () => {
      const response = await h.service.app.request('/api/user/v1/delete', { method: 'POST', body: JSON.stringify(body()), headers: self() })
      await expectError(response, 'UNAUTHORIZED')
    })

    it('an API bearer signed with the wrong secret → 401', async () => {
      const forged = signJwt({ alg: 'HS256', typ: 'JWT' }, { iss: 'local-portal', exp: now() + 60 }, { hs256: 'not-the-consumer-secret-at-all' })
      await expectError(await h.deleteRequest(body(), { ...self(), authorization: `Bearer ${forged}` }), 'UNAUTHORIZED')
    })

    it('an API bearer without exp → 401', async () => {
      const noExp = signJwt({ alg: 'HS256', typ: 'JWT' }, { iss: 'local-portal' }, { hs256: 'local-portal-gateway-secret-change-me' })
      await expectError(await h.deleteRequest(body(), { ...self(), authorization: `Bearer ${noExp}` }), 'UNAUTHORIZED')
    })

    it('no user token → 401', async () => {
      await expectError(await h.deleteRequest(body(), {}), 'UNAUTHORIZED')
    })

    const forgeries: [string, () => string][] = [
      [
        'alg none',
        () => {
          const payload = h.userToken({ sub: userId }).split('.')[1]
          const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: h.keys.kid })).toString('base64url')
          return `${none}.${payload}.`
        },
      ],
      [
        'HS256 signed with the realm public key',
        () => signJwt({ alg: 'HS256', typ: 'JWT', kid: h.keys.kid }, { sub: userId, iss: ISSUER, typ: 'Bearer', exp: now() + 60 }, { hs256: h.keys.publicKeyPem }),
      ],
      ['unknown kid', () => h.userToken({ sub: userId }, { header: { kid: 'no-such-kid' } })],
      ['signed by another key under our kid', () => mintUserToken(createRealmKeys(h.keys.kid), ISSUER, { sub: userId })],
      ['expired', () => h.userToken({ sub: userId, exp: now() - 5 })],
      ['not yet valid (nbf in the future)', () => h.userToken({ sub: userId, nbf: now() + 300 })],
      ['wrong issuer', () => mintUserToken(h.keys, 'http://127.0.0.1:18080/realms/other', { sub: userId })],
      [
        'tampered payload',
        () => {
          const [header, , signature] = h.userToken({ sub: randomUUID() }).split('.')
          const payload = Buffer.from(JSON.stringify({ sub: userId, iss: ISSUER, typ: 'Bearer', exp: now() + 600 })).toString('base64url')
          return `${header}.${payload}.${signature}`
        },
      ],
      ['garbage', () => 'abc.def.ghi'],
    ]
    it.each(forgeries)('user token %s → 401 and nothing deleted', async (_label, token) => {
      await expectError(await h.deleteRequest(body(), { 'x-authenticated-user-token': token() }), 'UNAUTHORIZED')
    })

    it('a forged X-Authenticated-For token → 401', async () => {
      const forged = mintUserToken(createRealmKeys(h.keys.kid), ISSUER, { sub: userId, parentId: randomUUID() })
      await expectError(await h.deleteRequest(body(), { ...self(), 'x-authenticated-for': forged }), 'UNAUTHORIZED')
    })
  })

  describe('when the path or method is wrong', () => {
    it('an unknown path → 404 envelope', async () => {
      await expectError(await h.deleteRequest({}, self(), '/api/user/v1/remove'), 'API_NOT_FOUND')
    })

    it('GET on the delete path → 405 envelope with Allow', async () => {
      const response = await h.service.app.request('/api/user/v1/delete', { method: 'GET' })
      expect(response.headers.get('allow')).toBe('POST, OPTIONS')
      await expectError(response, 'METHOD_NOT_ALLOWED')
    })

    it('a CORS preflight → 204 with the allowed headers', async () => {
      const response = await h.service.app.request('/api/user/v1/delete', { method: 'OPTIONS' })
      expect(response.status).toBe(204)
      expect(response.headers.get('access-control-allow-origin')).toBe('*')
      expect(response.headers.get('access-control-allow-headers')).toContain('X-Authenticated-User-Token')
    })
  })
})
