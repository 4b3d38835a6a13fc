import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditEventsOf, requestsOf, type StoredRequest } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { keycloakAccountOf } from '../support/keycloak.js'
import { columnsBeyondTombstone, deletionStateOf, envelopeOf, personInBoth } from '../support/lifecycle.js'
import { expectRestError } from '../support/rest-answers.js'
import { readUserState } from '../support/user-state.js'

const ORG = '0137000000000000000012'
/**
 * How late Sunbird's deletion is sent, round by round. It locks in fewer round trips than a hard
 * one, so sent at once it wins nearly always; sent later it loses some rounds, and both orders are
 * met on most machines. The assertions hold whichever wins.
 */
const SUNBIRD_LATE_MS = [0, 0, 0, 25, 50, 75, 100, 150, 200]

type Sent = 'sunbird' | 'cookie-hard' | 'v2-hard'
/** Each hard route's dialect, for its refusal. */
const DIALECT: Record<Exclude<Sent, 'sunbird'>, string> = { 'cookie-hard': 'nuxt-error', 'v2-hard': 'drf-detail' }

/**
 * One person deleting themself by several routes at the same instant, on the real Cassandra,
 * Keycloak and search engine: Sunbird's deletion (no mode) and the REST routes' hard ones. One after
 * the other, the second is refused (the person's token is locked out once either has landed); at
 * once, exactly one of them deletes, and the others are refused as the documents say: Sunbird's
 * route `UOS_USRDLT0008` (the loser of concurrent deletes; 401 once its lock-out sees the deletion),
 * a REST route 401 in its dialect. The loser writes nothing of the user: one event, one
 * `deletion.completed`, and the winner's receipt counts what it erased.
 */
describe('a person’s own deletions sent at once by Sunbird’s route and the REST routes', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ auth: { session: { cookieName: 'neptun-session', allowedOrigins: [], cookieSecure: false } } })
  })
  afterAll(async () => {
    await h.close()
  })

  function send(route: Sent, userId: string, token: string): Promise<Response> {
    if (route === 'sunbird') return h.deleteRequest({ request: { userId } }, { 'x-authenticated-user-token': token })
    const [path, headers] = route === 'cookie-hard' ? [`/api/users/${userId}`, { cookie: `neptun-session=${token}` }] : [`/api/v2/user/${userId}/?hard=1`, { authorization: `Bearer ${token}` }]
    return Promise.resolve(h.service.app.request(path, { method: 'DELETE', headers }))
  }

  /** The refusal `route` answers when another of the person's deletions won: the documented one for that moment. */
  async function expectRefused(route: Sent, response: Response): Promise<void> {
    if (route !== 'sunbird') return expectRestError(DIALECT[route], response, 'UNAUTHORIZED')
    const answer = await envelopeOf(response)
    // The loser of concurrent deletes; 401 when its lock-out already saw the winner's lock, as one after the other.
    if (answer.status === 401) expect(answer.params.err).toBe('UOS_0070')
    else expect([answer.status, answer.params.err]).toEqual([400, 'UOS_USRDLT0008'])
  }

  /** Receipt entries by store. */
  const receiptOf = (request: StoredRequest) => new Map(((request.receipt?.stores ?? []) as { store: string; action: string; count?: number }[]).map((entry) => [entry.store, entry]))

  const later = async <T>(ms: number, act: () => Promise<T>): Promise<T> => {
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms))
    return act()
  }

  /** One round: a new person sends `routes` together; asserts one winner, the others' refusals, and what the stores hold. */
  async function raceOnce(routes: readonly Sent[], sunbirdLateMs: number): Promise<void> {
    const person = await personInBoth(h, { rootOrgId: ORG, organisations: [ORG] })
    const token = h.userToken({ sub: person.id })
    const lookupsBefore = (await readUserState(h.db, person.id)).lookups.length
    expect(lookupsBefore).toBeGreaterThan(0)

    const responses = await Promise.all(routes.map(async (route) => (route === 'sunbird' ? later(sunbirdLateMs, () => send(route, person.id, token)) : send(route, person.id, token))))

    const won = routes.filter((_, i) => (responses[i]?.status ?? 500) < 300)
    expect(won, `answers ${responses.map((r) => r.status).join(', ')}`).toHaveLength(1)
    const winner = won[0]
    for (const [i, route] of routes.entries()) if (route !== winner) await expectRefused(route, responses[i] as Response)

    // The losers wrote nothing of the user: one request completed, with the one event; a loser's failed (superseded),
    // or none when it was refused before its request was created.
    const requests = await requestsOf(h.db, person.id)
    expect(requests.filter((request) => request.state === 'completed')).toHaveLength(1)
    expect(requests.filter((request) => request.state !== 'completed').map((request) => request.state)).toEqual(requests.slice(1).map(() => 'failed'))
    const completed = requests.find((request) => request.state === 'completed') as StoredRequest
    expect(requests.filter((request) => request.steps.event !== undefined).map((request) => request.id)).toEqual([completed.id])
    const ends = (await Promise.all(requests.map((request) => auditEventsOf(h, request.id)))).flat().filter((event) => event === 'deletion.completed')
    expect(ends).toEqual(['deletion.completed'])

    // The winner's receipt is what it erased, not what the loser took from under it.
    const receipt = receiptOf(completed)
    expect(receipt.get('keycloak')).toMatchObject({ action: 'deleted' })
    expect(receipt.get('cassandra.user_lookup')).toMatchObject({ count: lookupsBefore })
    expect(await keycloakAccountOf(person.id)).toBeUndefined()
    if (winner === 'sunbird') {
      expect(await deletionStateOf(h.db, person.id)).toBeUndefined()
      expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(2)
    } else {
      expect((await deletionStateOf(h.db, person.id))?.mode).toBe('hard')
      expect(await columnsBeyondTombstone(h.db, person.id)).toEqual([])
    }
  }

  it.each([['cookie-hard'], ['v2-hard']] as const)('when Sunbird’s deletion and the %s route’s are sent at once, then exactly one deletes and the other is refused, in every round', async (hard) => {
    for (const lateMs of SUNBIRD_LATE_MS) await raceOnce(['sunbird', hard], lateMs)
  })

  it('when Sunbird’s deletion and both hard routes’ are sent at once, then exactly one of the three deletes, in every round', async () => {
    for (const lateMs of SUNBIRD_LATE_MS) await raceOnce(['sunbird', 'cookie-hard', 'v2-hard'], lateMs)
  })

  it('when an ORG_ADMIN’s hard deletion follows the person’s Sunbird deletion, then it still goes on over it (204)', async () => {
    const person = await personInBoth(h, { rootOrgId: ORG, organisations: [ORG] })
    const admin = h.userToken({ sub: '7c0c0c0c-1111-4222-8333-444455556666', roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
    expect((await send('sunbird', person.id, h.userToken({ sub: person.id }))).status).toBe(200)

    const response = await send('v2-hard', person.id, admin)

    expect(response.status).toBe(204)
    expect(await columnsBeyondTombstone(h.db, person.id)).toEqual([])
  })
})
