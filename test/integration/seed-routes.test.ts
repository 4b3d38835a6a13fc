import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signApiBearer } from '../../scripts/lib/sign-jwt.js'
import { requestsOf } from '../support/deletion-requests.js'
import { type Harness, LOCAL_CONSUMER, LOCAL_DELETE_ANY_USER_CONSUMER, startHarness, trustedConsumerApiBearer } from '../support/harness.js'
import { readTopic } from '../support/kafka.js'
import { createKeycloakUser, keycloakAccountOf, login, refresh } from '../support/keycloak.js'
import { columnsBeyondTombstone, deletionStateOf, envelopeOf, personInBoth } from '../support/lifecycle.js'
import { expectRestError } from '../support/rest-answers.js'
import { readUserState } from '../support/user-state.js'
import { waitUntil } from '../support/wait-until.js'

const ORG = '0137000000000000000011'
const APP_ORIGIN = 'https://app.example'
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const cookie = (token: string) => ({ cookie: `neptun-session=${token}` })
const notifier = () => bearer(trustedConsumerApiBearer())

/** A person in Keycloak and the store, and their access token from a real password grant. */
async function personWithToken(h: Harness, options: Parameters<typeof personInBoth>[1] = {}) {
  const person = await personInBoth(h, { rootOrgId: ORG, ...options })
  const tokens = await login(person)
  if (!tokens) throw new Error('password grant refused')
  return { ...person, tokens, token: tokens.access_token }
}

async function orgAdminToken(): Promise<string> {
  const admin = await createKeycloakUser({ roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
  const tokens = await login(admin)
  if (!tokens) throw new Error('password grant refused')
  return tokens.access_token
}

async function expectErased(h: Harness, userId: string): Promise<void> {
  expect(await columnsBeyondTombstone(h.db, userId)).toEqual([])
  expect((await deletionStateOf(h.db, userId))?.mode).toBe('hard')
  expect(await keycloakAccountOf(userId)).toBeUndefined()
}

/**
 * The REST routes of the seed clients, on the real Cassandra, Keycloak (tokens from a password
 * grant, verified through the realm's JWKS) and Kafka: each dialect's success and errors exactly,
 * seed 003's repeat rules through its own route, the cookie route's CSRF refusal and clearing.
 */
describe('the seed clients’ REST deletion routes', () => {
  let h: Harness
  let admin: string
  beforeAll(async () => {
    h = await startHarness({ auth: { userToken: { publicKeyDir: '' }, session: { cookieName: 'neptun-session', allowedOrigins: [APP_ORIGIN], cookieSecure: false } } })
    admin = await orgAdminToken()
  })
  afterAll(async () => {
    await h.close()
  })
  const call = (path: string, headers: Record<string, string>, method = 'DELETE') => Promise.resolve(h.service.app.request(path, { method, headers }))

  describe('seed 003: DELETE /api/v2/user/{id}/ with the person’s Keycloak token', () => {
    it('when the user soft-deletes themselves, then 204 with no body, X-Request-Id is theirs, and the Sunbird status route follows that request', async () => {
      const person = await personWithToken(h)
      const requestId = `v2-soft-${person.id}`

      const response = await call(`/api/v2/user/${person.id}/`, { ...bearer(person.token), 'x-request-id': requestId })

      expect(response.status).toBe(204)
      expect(await response.text()).toBe('')
      expect(response.headers.get('content-type')).toBeNull()
      expect(response.headers.get('x-request-id')).toBe(requestId)
      expect(response.headers.get('access-control-allow-origin')).toBe('*')
      expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(2)
      expect(await keycloakAccountOf(person.id)).toMatchObject({ enabled: false })
      const status = await envelopeOf(await h.deleteRequest({ request: { requestId } }, { 'x-authenticated-user-token': admin }, '/api/user/v1/delete/status'))
      expect(status.status).toBe(200)
      expect(status.result).toMatchObject({ request: { requestId, userId: person.id, state: 'completed', mode: 'soft' } })
    })

    it('when ?hard=1 is sent on the path without the trailing slash, then the same route hard-deletes (no redirect) and the event reaches Kafka', async () => {
      const person = await personWithToken(h)
      const requestId = `v2-hard-${person.id}`

      const response = await call(`/api/v2/user/${person.id}?hard=1`, { ...bearer(person.token), 'x-request-id': requestId })

      expect(response.status).toBe(204)
      expect(response.headers.get('location')).toBeNull()
      await expectErased(h, person.id)
      await h.service.publishEvents()
      const event = await waitUntil('the event', async () => (await readTopic(h.config.events.topic)).find((message) => message.value.includes(requestId)))
      expect(JSON.parse(event.value)).toMatchObject({ edata: { userId: person.id, action: 'delete-user' } })
    })

    it.each([
      ['soft', 'soft', 400, { detail: 'The user has already been soft deleted' }],
      ['soft', 'hard', 404, { detail: 'User not found' }],
      ['hard', 'soft', 204, undefined],
      ['hard', 'hard', 404, { detail: 'User not found' }],
    ] as const)('when a %s request meets a user %s-deleted before (seed 003’s repeat rules), then %s', async (request, deletedBy, status, body) => {
      const person = await personInBoth(h, { rootOrgId: ORG })
      const query = (mode: string) => (mode === 'hard' ? '?hard=true' : '')
      expect((await call(`/api/v2/user/${person.id}/${query(deletedBy)}`, bearer(admin))).status).toBe(204)

      const response = await call(`/api/v2/user/${person.id}/${query(request)}`, bearer(admin))

      expect(response.status).toBe(status)
      if (body) expect(await response.json()).toStrictEqual(body)
      else await expectErased(h, person.id)
    })

    it('when someone else’s, an unknown, a non-issued id or no token is sent, then 403, 404, 404 and 401 as {"detail"} and nothing changes', async () => {
      const person = await personWithToken(h)
      const other = await personWithToken(h, { rootOrgId: '0137000000000000000099' })

      await expectRestError('drf-detail', await call(`/api/v2/user/${other.id}/`, bearer(person.token)), 'FORBIDDEN')
      await expectRestError('drf-detail', await call(`/api/v2/user/${randomUUID()}/`, bearer(admin)), 'USER_NOT_FOUND')
      await expectRestError('drf-detail', await call('/api/v2/user/42/', bearer(person.token)), 'USER_NOT_FOUND')
      await expectRestError('drf-detail', await call(`/api/v2/user/${person.id}/`, {}), 'UNAUTHORIZED')
      expect((await readUserState(h.db, other.id)).user?.get('status')).toBe(1)
      expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
    })

    it('when the same Idempotency-Key is sent again, then the first answer is replayed and nothing runs twice', async () => {
      const person = await personInBoth(h, { rootOrgId: ORG })
      const key = randomUUID()

      const first = await call(`/api/v2/user/${person.id}/`, { ...bearer(admin), 'idempotency-key': key })
      const again = await call(`/api/v2/user/${person.id}/`, { ...bearer(admin), 'idempotency-key': key })

      expect([first.status, again.status]).toEqual([204, 204])
      expect(again.headers.get('idempotent-replayed')).toBe('true')
      expect(again.headers.get('x-request-id')).toBe(first.headers.get('x-request-id'))
      expect(await requestsOf(h.db, person.id)).toHaveLength(1)
    })
  })

  describe('seed 001: DELETE /api/v1/users/{id} with a gateway consumer JWT', () => {
    it('when the consumer has deleteAnyUser, then 204 and the user is hard-deleted; again, 404 {"statusCode","message"}', async () => {
      const person = await personInBoth(h, { rootOrgId: ORG })

      const response = await call(`/api/v1/users/${person.id}`, notifier())

      expect(response.status).toBe(204)
      expect(await response.text()).toBe('')
      expect(response.headers.get('x-request-id')).toBeTruthy()
      await expectErased(h, person.id)
      expect((await requestsOf(h.db, person.id))[0]).toMatchObject({ requestedBy: `consumer:${LOCAL_DELETE_ANY_USER_CONSUMER.key}` })
      await expectRestError('nest-error', await call(`/api/v1/users/${person.id}`, notifier()), 'USER_NOT_FOUND')
    })

    it('when the consumer follows its deletion on /delete/status with its JWT alone, then it reads it by X-Request-Id and by user id; another consumer without a user token gets 401', async () => {
      const person = await personInBoth(h, { rootOrgId: ORG })
      const deleted = await call(`/api/v1/users/${person.id}`, notifier())
      const requestId = deleted.headers.get('x-request-id') ?? ''
      const follow = (headers: Record<string, string>, request: Record<string, string>) =>
        h.service.app.request('/api/user/v1/delete/status', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ request }) })

      const byId = await envelopeOf(await follow(notifier(), { requestId }))
      const byUser = await envelopeOf(await follow(notifier(), { userId: person.id }))
      const untrusted = await follow(bearer(signApiBearer(LOCAL_CONSUMER.key, LOCAL_CONSUMER.secret)), { requestId })

      expect(deleted.status).toBe(204)
      expect(byId.status).toBe(200)
      expect(byId.result).toMatchObject({ request: { requestId, userId: person.id, state: 'completed' } })
      expect(byUser.result).toMatchObject({ request: { requestId } })
      expect(untrusted.status).toBe(401)
    })

    it('when the user was soft-deleted, then the consumer’s call hard-deletes it (204)', async () => {
      const person = await personInBoth(h, { rootOrgId: ORG })
      expect((await call(`/api/v2/user/${person.id}/`, bearer(admin))).status).toBe(204)

      expect((await call(`/api/v1/users/${person.id}`, notifier())).status).toBe(204)
      await expectErased(h, person.id)
    })

    it('when the id is no UUID, the consumer lacks deleteAnyUser, or no JWT is sent, then 400, 403 and 401 in NestJS’s shape and nothing changes', async () => {
      const person = await personInBoth(h, { rootOrgId: ORG })

      await expectRestError('nest-error', await call('/api/v1/users/123', notifier()), 'INVALID_USER_ID')
      await expectRestError('nest-error', await call(`/api/v1/users/${person.id}`, bearer(signApiBearer(LOCAL_CONSUMER.key, LOCAL_CONSUMER.secret))), 'FORBIDDEN')
      await expectRestError('nest-error', await call(`/api/v1/users/${person.id}`, {}), 'UNAUTHORIZED')
      expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
    })
  })

  describe('seed 002: DELETE /api/users/{user_id} with the session cookie', () => {
    it('when the person deletes their own account from an allowed origin, then 200 true, the cookie is expired, credentialed CORS, and the account and its sessions are gone', async () => {
      const person = await personWithToken(h)

      const response = await call(`/api/users/${person.id}`, { ...cookie(person.token), origin: APP_ORIGIN, 'sec-fetch-site': 'same-site' })

      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toMatch(/^application\/json/)
      expect(await response.text()).toBe('true')
      const cleared = response.headers.get('set-cookie') ?? ''
      expect(cleared).toMatch(/^neptun-session=;/)
      for (const attribute of ['Max-Age=0', 'Path=/', 'HttpOnly', 'SameSite=Lax']) expect(cleared.split('; ')).toContain(attribute)
      expect(cleared).not.toMatch(/Secure/)
      expect(response.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN)
      expect(response.headers.get('access-control-allow-credentials')).toBe('true')
      expect(response.headers.get('vary')).toMatch(/Origin/)
      await expectErased(h, person.id)
      expect(await refresh(person.tokens)).toBe(400)
    })

    it.each([
      ['an Origin not allowed', { origin: 'https://evil.example' }],
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ])('when the cookie comes with %s, then 403 as CSRF, no CORS grant, and nothing is deleted', async (_name, headers) => {
      const person = await personWithToken(h)

      const response = await call(`/api/users/${person.id}`, { ...cookie(person.token), ...headers })

      expect(response.headers.get('access-control-allow-origin')).toBeNull()
      expect(response.headers.get('set-cookie')).toBeNull()
      await expectRestError('nuxt-error', response, 'CROSS_SITE_REQUEST')
      expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
      expect(await keycloakAccountOf(person.id)).toMatchObject({ enabled: true })
    })

    it('when the id is malformed, someone else’s, unknown to the store or the cookie is missing, then 400, 403, 404 and 401 in the {statusCode,statusMessage,data} shape', async () => {
      const person = await personWithToken(h)
      const other = await personInBoth(h, { rootOrgId: ORG })
      const stranger = await createKeycloakUser()
      const strangerToken = (await login(stranger))?.access_token ?? ''

      await expectRestError('nuxt-error', await call('/api/users/not-a-uuid', cookie(person.token)), 'INVALID_USER_ID')
      await expectRestError('nuxt-error', await call(`/api/users/${other.id}`, cookie(person.token)), 'FORBIDDEN')
      await expectRestError('nuxt-error', await call(`/api/users/${stranger.id}`, cookie(strangerToken)), 'USER_NOT_FOUND')
      await expectRestError('nuxt-error', await call(`/api/users/${person.id}`, {}), 'UNAUTHORIZED')
      expect((await readUserState(h.db, other.id)).user?.get('status')).toBe(1)
    })

    it('when the person soft-deleted their account before, then their session still finishes the deletion, hard (200)', async () => {
      const person = await personWithToken(h)
      expect((await call(`/api/v2/user/${person.id}/`, bearer(admin))).status).toBe(204)
      const again = await login(person)
      expect(again).toBeUndefined()

      const response = await call(`/api/users/${person.id}`, cookie(person.token))

      expect([response.status, await response.text()]).toEqual([200, 'true'])
      await expectErased(h, person.id)
    })
  })

  describe('seed 000: DELETE /api/users/{user_id}/ with the person’s Keycloak token', () => {
    it('when the person deletes themselves, then 204 and everything goes; only the trailing-slash form is this route', async () => {
      const person = await personWithToken(h)

      const response = await call(`/api/users/${person.id}/`, bearer(person.token))

      expect(response.status).toBe(204)
      expect(response.headers.get('set-cookie')).toBeNull()
      await expectErased(h, person.id)
    })

    it('when the seed’s hole is tried (another user’s id), an unknown id or no token, then 403, 404 and 401 as {"detail"}', async () => {
      const person = await personWithToken(h)
      const other = await personWithToken(h, { rootOrgId: '0137000000000000000099' })

      await expectRestError('drf-detail', await call(`/api/users/${other.id}/`, bearer(person.token)), 'FORBIDDEN')
      await expectRestError('drf-detail', await call(`/api/users/${randomUUID()}/`, bearer(admin)), 'USER_NOT_FOUND')
      await expectRestError('drf-detail', await call(`/api/users/${person.id}/`, {}), 'UNAUTHORIZED')
      expect((await readUserState(h.db, other.id)).user?.get('status')).toBe(1)
    })
  })
})

describe('step-up on the person-facing REST routes (DELETION_MAX_AUTH_AGE_SECONDS)', () => {
  let strict: Harness
  beforeAll(async () => {
    strict = await startHarness({ auth: { userToken: { publicKeyDir: '' } }, deletion: { maxAuthAgeSeconds: 1 } })
  })
  afterAll(async () => {
    await strict.close()
  })

  it.each([
    ['DELETE /api/v2/user/{id}/', 'drf-detail', (id: string, token: string) => ({ path: `/api/v2/user/${id}/`, headers: bearer(token) })],
    ['DELETE /api/users/{user_id}', 'nuxt-error', (id: string, token: string) => ({ path: `/api/users/${id}`, headers: cookie(token) })],
    ['DELETE /api/users/{user_id}/', 'drf-detail', (id: string, token: string) => ({ path: `/api/users/${id}/`, headers: bearer(token) })],
  ] as const)('when the login behind the token is older than allowed, then %s answers 401 in its dialect with the RFC 9470 challenge, and nothing is deleted', async (_route, dialect, build) => {
    const person = await personInBoth(strict, { rootOrgId: ORG })
    const token = (await login(person))?.access_token ?? ''
    const loggedInAt = Date.now()
    await waitUntil('the login to be more than a second old', () => Date.now() - loggedInAt > 2100, { intervalMs: 200 })
    const { path, headers } = build(person.id, token)

    const response = await strict.service.app.request(path, { method: 'DELETE', headers })

    expect(response.headers.get('www-authenticate')).toBe('Bearer error="insufficient_user_authentication", max_age=1')
    await expectRestError(dialect, response, 'STEP_UP_REQUIRED')
    expect((await readUserState(strict.db, person.id)).user?.get('status')).toBe(1)
  })
})
