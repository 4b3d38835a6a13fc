import { describe, expect, it } from 'vitest'
import { signApiBearer } from '../../../scripts/lib/sign-jwt.js'
import { appOverFakes } from '../../../test/support/fakes/app-over-fakes.js'
import { deletionWorld, type DeletionWorld } from '../../../test/support/fakes/deletion-world.js'
import { InMemoryIdempotencyKeys } from '../../../test/support/fakes/in-memory-idempotency-keys.js'
import { expectRestError } from '../../../test/support/rest-answers.js'
import { unusedServices } from '../../../test/support/unused-services.js'
import { createApp } from '../../app.js'
import { ApiConsumerVerifier } from '../../auth/api-consumer-verifier.js'
import { deleteAccount } from '../../deletion/delete-account.js'
import { createLogger } from '../../logging/logger.js'
import { createServiceMetrics } from '../../metrics/service-metrics.js'
import { createSchemaRegistry } from '../../schemas/schema-registry.js'
import type { Verifiers } from '../credentials/credential-scheme.js'
import { storedUserId } from './rest-deletion.js'

/**
 * The REST routes of seeds 001, 002 and 003 through the whole app over the in-memory ports: the id
 * in the path as the stores hold it (lower case), the soft-deleted person's session, and a
 * repeated `hard` as Django REST framework reads it.
 */

// Stored in lower case, as Sunbird and Keycloak write ids; hex letters in every group.
const ME = '2b373937-5a1c-4c1a-9d2e-0a8f1c2b3d41'
const OTHER = '0b1c2d3e-4f50-4617-8899-aabbccddeeff'

const fakes = appOverFakes({ seed: [{ id: ME }, { id: OTHER }] })

// Seed 001's caller: a gateway consumer trusted with deleteAnyUser (the fakes' own consumer is not).
const NOTIFIER = { key: 'notifier', secret: 'notifier-gateway-secret-0123456789' }
let consumerWorld: DeletionWorld = deletionWorld()
const consumerApp = createApp({
  ...unusedServices,
  ...({
    apiConsumers: new ApiConsumerVerifier([{ key: NOTIFIER.key, algorithm: 'HS256', secret: NOTIFIER.secret, deleteAnyUser: true }]),
    sessionCookie: { name: 'neptun-session', allowedOrigins: [], secure: false },
  } as unknown as Verifiers),
  deleteAccount: (input) => deleteAccount(consumerWorld.deps, input),
  logger: createLogger('silent'),
  schemas: createSchemaRegistry(),
  maxBodyBytes: 4096,
  requestTimeoutMs: 10_000,
  retryAfterSeconds: 5,
  metrics: createServiceMetrics(),
  idempotency: { keys: new InMemoryIdempotencyKeys(), inFlightSeconds: 30 },
})

/** One route's call on a fresh world, as its client makes it (the caller is always ME, or the consumer). */
interface RouteCall {
  route: string
  call(pathId: string, headers?: Record<string, string>): Response | Promise<Response>
  fresh(): DeletionWorld
}

const seed001: RouteCall = {
  route: 'seed 001: DELETE /api/v1/users/{id}',
  call: (pathId, headers = {}) =>
    consumerApp.request(`/api/v1/users/${pathId}`, { method: 'DELETE', headers: { authorization: `Bearer ${signApiBearer(NOTIFIER.key, NOTIFIER.secret)}`, ...headers } }),
  fresh: () => {
    consumerWorld = deletionWorld({ seed: [{ id: ME }, { id: OTHER }] })
    return consumerWorld
  },
}
const seed003: RouteCall = {
  route: 'seed 003: DELETE /api/v2/user/{id}/',
  call: (pathId, headers = {}) => fakes.app.request(`/api/v2/user/${pathId}/`, { method: 'DELETE', headers: { authorization: `Bearer ${fakes.userToken({ sub: ME })}`, ...headers } }),
  fresh: () => fakes.reset(),
}
const seed002: RouteCall = {
  route: 'seed 002: DELETE /api/users/{user_id}',
  call: (pathId, headers = {}) => fakes.app.request(`/api/users/${pathId}`, { method: 'DELETE', headers: { cookie: `neptun-session=${fakes.userToken({ sub: ME })}`, ...headers } }),
  fresh: () => fakes.reset(),
}
const seed000: RouteCall = {
  route: 'seed 000: DELETE /api/users/{user_id}/',
  call: (pathId, headers = {}) => fakes.app.request(`/api/users/${pathId}/`, { method: 'DELETE', headers: { authorization: `Bearer ${fakes.userToken({ sub: ME })}`, ...headers } }),
  fresh: () => fakes.reset(),
}

/** What a call did: its answer, and what the stores hold of ME and of the requests afterwards. */
async function outcomeOf(route: RouteCall, pathId: string) {
  const world = route.fresh()
  const response = await route.call(pathId, { 'x-request-id': 'probe-request-1' })
  return {
    status: response.status,
    body: await response.text(),
    requestIdHeader: response.headers.get('x-request-id'),
    user: world.users.snapshot(ME),
    requests: world.requests.all().map(({ id, userId, plan, state }) => ({ id, userId, plan, state })),
  }
}

describe('storedUserId', () => {
  it.each([
    ['an upper-case UUID', '2B373937-5A1C-4C1A-9D2E-0A8F1C2B3D41', ME],
    ['a mixed-case UUID', '2b373937-5A1c-4c1a-9D2E-0a8f1c2b3d41', ME],
    ['a lower-case UUID', ME, ME],
    ['a federated id: the prefix kept as sent, the UUID lowered', `f:Sunbird-SSO:${ME.toUpperCase()}`, `f:Sunbird-SSO:${ME}`],
  ])('when the path holds %s, then the id is the stored one', (_name, pathId, stored) => {
    expect(storedUserId(pathId)).toBe(stored)
  })
})

describe('the REST routes with upper-case hex digits in the path id', () => {
  it.each([seed001, seed003, seed002, seed000])('$route: when the id is upper-cased, then the same user is deleted as with the lower-case id, by the same answer', async (route) => {
    const lower = await outcomeOf(route, ME)
    const upper = await outcomeOf(route, ME.toUpperCase())

    expect(lower.status).toBeLessThan(300)
    expect(lower.requests).toEqual([expect.objectContaining({ id: 'probe-request-1', userId: ME, state: 'completed' })])
    expect(upper).toEqual(lower)
  })

  it.each([seed003, seed002, seed000])('$route: when the caller sends their own id upper-cased, then they are themselves (not 403)', async (route) => {
    route.fresh()

    const response = await route.call(ME.toUpperCase())

    expect(response.status).toBeLessThan(300)
  })

  it('seed 002: when the owner sends another user’s id upper-cased, then still 403 (the self check compares the stored ids)', async () => {
    const world = fakes.reset()

    const response = await seed002.call(OTHER.toUpperCase())

    await expectRestError('nuxt-error', response, 'FORBIDDEN')
    expect(world.requests.all()).toEqual([])
  })
})

describe('a soft-deleted person on the person routes', () => {
  /** ME soft-deleted themselves before; their token is still valid. */
  async function softDeletedMe(): Promise<DeletionWorld> {
    const world = fakes.reset()
    await deleteAccount(world.deps, { requestId: 'soft-1', userId: ME, caller: { consumer: 'portal', userId: ME, roles: [] }, mode: 'soft' })
    return world
  }

  it.each([
    ['seed 002 (session cookie)', 'nuxt-error', seed002],
    ['seed 003', 'drf-detail', seed003],
  ])('%s: when their session names another user, then 401 in the route’s shape (as the other person routes), and nothing is deleted', async (_name, dialect, route) => {
    const world = await softDeletedMe()

    const response = await route.call(OTHER)

    await expectRestError(dialect, response, 'UNAUTHORIZED')
    expect(world.requests.all().map(({ id }) => id)).toEqual(['soft-1'])
    expect(world.users.snapshot(OTHER)).toMatchObject({ status: 1, isDeleted: false })
  })

  it('seed 002: when their session names their own account (upper-cased too), then it finishes their deletion (200 true)', async () => {
    for (const pathId of [ME, ME.toUpperCase()]) {
      const world = await softDeletedMe()

      const response = await seed002.call(pathId)

      expect([response.status, await response.json()]).toEqual([200, true])
      expect(world.requests.all().map(({ userId, plan, state }) => ({ userId, plan, state }))).toContainEqual({ userId: ME, plan: 'hard', state: 'completed' })
    }
  })
})

describe('seed 003: a repeated `hard`, as Django REST framework’s request.query_params.get reads it (the last value)', () => {
  it.each([
    ['?hard=0&hard=1', 'hard'],
    ['?hard=1&hard=0', 'soft'],
    ['?hard=true&hard=', 'soft'],
    ['?hard=1', 'hard'],
    // Python's requests sends a bool parameter as `True`: a client asking for erasure is not soft-deleted.
    ['?hard=True', 'hard'],
    ['?hard=TRUE', 'hard'],
    ['?hard=False', 'soft'],
    ['?hard=yes', 'soft'],
    ['', 'soft'],
  ])('when the query is %j, then the deletion is %s', async (query, plan) => {
    const world = fakes.reset()

    const response = await fakes.app.request(`/api/v2/user/${ME}/${query}`, { method: 'DELETE', headers: { authorization: `Bearer ${fakes.userToken({ sub: ME })}` } })

    expect(response.status).toBe(204)
    expect(world.requests.all().map((request) => ({ userId: request.userId, plan: request.plan }))).toEqual([{ userId: ME, plan }])
  })
})

describe('an Idempotency-Key on the person routes, the path id in another case', () => {
  it.each([seed003, seed002, seed000])(
    '$route: when a key first sent with the id upper-cased comes again with it in lower case, then it is the same request: the first answer replayed, one deletion',
    async (route) => {
      const world = route.fresh()
      // A key of this route's own: the fakes keep every key the app was sent, across fresh worlds.
      const key = { 'idempotency-key': `case-retry ${route.route}` }

      const first = await route.call(ME.toUpperCase(), key)
      const retry = await route.call(ME, key)

      expect(first.status).toBeLessThan(300)
      expect([retry.status, retry.headers.get('idempotent-replayed'), await retry.text()]).toEqual([first.status, 'true', await first.text()])
      expect(world.requests.all().map((request) => request.userId)).toEqual([ME])
    },
  )
})

describe('seed 003: an Idempotency-Key and a repeated `hard`', () => {
  it('when a key first sent with ?hard=0 comes again with ?hard=0&hard=1, then it is another request (422), not a replay of the soft answer', async () => {
    const world = fakes.reset()
    const call = (query: string) =>
      fakes.app.request(`/api/v2/user/${ME}/${query}`, { method: 'DELETE', headers: { authorization: `Bearer ${fakes.userToken({ sub: ME })}`, 'idempotency-key': 'repeat-hard-1' } })

    const first = await call('?hard=0')
    const second = await call('?hard=0&hard=1')
    const replay = await call('?hard=0')

    expect([first.status, second.status, replay.status]).toEqual([204, 422, 204])
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(world.requests.all().map((request) => request.plan)).toEqual(['soft'])
  })
})

describe('a person’s own soft deletion holding them as their hard deletion reads them (the lock-out before it saw them active)', () => {
  /** ME's soft deletion has taken the hold and not locked the row yet: the lock-out reads the row, active. */
  function softHoldOnMe(): DeletionWorld {
    const world = fakes.reset()
    const createdAt = new Date(world.clock.now().getTime() - 1_000)
    world.requests.seed({
      id: 'soft-1',
      userId: ME,
      requestedBy: ME,
      state: 'accepted',
      plan: 'soft',
      steps: {},
      target: { rootOrgId: null, managedBy: null, organisationIds: [] },
      createdAt,
      updatedAt: createdAt,
    })
    world.states.set(ME, { mode: 'soft', requestId: 'soft-1' })
    return world
  }

  it('Sunbird’s route (it refuses a soft-deleted person): when they ask for mode hard, then 401 UOS_0070 as once the soft deletion has landed, and the hold stays the soft one', async () => {
    const world = softHoldOnMe()

    const response = await fakes.app.request('/api/user/v1/delete', {
      method: 'POST',
      headers: { authorization: `Bearer ${fakes.apiBearer}`, 'x-authenticated-user-token': fakes.userToken({ sub: ME }), 'content-type': 'application/json' },
      body: JSON.stringify({ request: { userId: ME, mode: 'hard' } }),
    })

    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ params: { err: 'UOS_0070' } })
    expect(world.states.peek(ME)).toEqual({ mode: 'soft', requestId: 'soft-1' })
    expect(world.requests.all().map(({ id }) => id)).toEqual(['soft-1'])
  })

  it('seed 003 (it admits a soft-deleted person to finish their deletion): when they ask ?hard=1, then it goes on over the soft deletion (204)', async () => {
    const world = softHoldOnMe()

    const response = await fakes.app.request(`/api/v2/user/${ME}/?hard=1`, { method: 'DELETE', headers: { authorization: `Bearer ${fakes.userToken({ sub: ME })}` } })

    expect(response.status).toBe(204)
    expect(world.states.peek(ME)).toMatchObject({ mode: 'hard' })
  })
})

describe('seed 001 without a credential (its seed names none; integrating.md says why one is needed)', () => {
  it.each([
    ['a UUID', ME],
    ['a malformed id (the seed’s 400 case)', 'not-a-uuid'],
  ])(
    'when %s comes with no JWT, then 401 Unauthorized with the bare Bearer challenge (authentication first, as a NestJS guard runs before its pipes), and nothing is deleted',
    async (_name, pathId) => {
      const world = seed001.fresh()

      const response = await consumerApp.request(`/api/v1/users/${pathId}`, { method: 'DELETE' })

      expect(response.headers.get('www-authenticate')).toBe('Bearer')
      await expectRestError('nest-error', response, 'UNAUTHORIZED')
      expect(world.requests.all()).toEqual([])
      expect(world.users.snapshot(ME)).toMatchObject({ status: 1, isDeleted: false })
    },
  )
})
