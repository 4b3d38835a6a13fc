import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signJwt } from '../../scripts/lib/sign-jwt.js'
import { userDeleteStatus } from '../../src/http/operations/user-delete-status.js'
import { type ContractServer, startContractServer } from '../support/contract-server.js'
import { type HttpInterposer, startHttpInterposer } from '../support/http-interposer.js'
import { masterAdminToken } from '../support/keycloak.js'
import { KEYCLOAK_URL } from '../support/test-env.js'

/**
 * JWKS mode against the real Keycloak while its realm rotates its signing key the way an operator
 * does it (a new RSA provider with a higher priority, the old one made passive, then removed), with
 * the service's default JWKS settings and traffic flowing the whole time: the user's tokens, and a
 * stream of tokens naming made-up kids. The service reaches Keycloak through an HTTP interposer
 * that records every request, so JWKS fetches are counted from the outside. The realm is the
 * test's own (its frontendUrl is the interposer, so tokens carry the issuer the service expects)
 * and is removed afterwards.
 */

const REALM = `rotation-${randomUUID().slice(0, 8)}`
const MINUTE_MS = 60_000
/** Proxy and service stamp a fetch a little apart; a gap this much under a minute is still "once a minute". */
const STAMP_TOLERANCE_MS = 1000
/**
 * A change shows at the first fetch the minute allows, which the next request to need a key sets
 * off; on a loaded 2-core machine that request and the poll that sees the answer can lag by seconds.
 */
const NEXT_FETCH_WITHIN_MS = MINUTE_MS + 5000
const CERTS = `/realms/${REALM}/protocol/openid-connect/certs`

async function admin(path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  const response = await fetch(`${KEYCLOAK_URL}/admin/realms${path}`, {
    method: init.method ?? 'GET',
    // The master realm's admin tokens live a minute; this test runs longer, so each call gets a fresh one.
    headers: { authorization: `Bearer ${await masterAdminToken()}`, 'content-type': 'application/json' },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  })
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${await response.text()}`)
  return response
}

interface RealmKey {
  kid: string
  algorithm: string
  status: string
  providerId: string
}

async function signingKeys(): Promise<RealmKey[]> {
  const { keys } = (await (await admin(`/${REALM}/keys`)).json()) as { keys: RealmKey[] }
  return keys.filter((key) => key.algorithm === 'RS256')
}

const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString('utf8')) as { kid: string }).kid

type Outcome = { status: number; err: string | null }

describe('JWKS mode while the realm rotates its signing key', () => {
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const password = `pw-${randomUUID()}`
  let proxy: HttpInterposer
  let server: ContractServer
  let userId: string
  let issuer: string
  let streamStop = false
  let stream: Promise<void> | undefined
  const unknownKidOutcomes: Outcome[] = []

  const result = {
    oldKid: '',
    newKid: '',
    oldAcceptedBefore: undefined as Outcome | undefined,
    newRefusedRightAfterRotation: undefined as Outcome | undefined,
    newAcceptedAfterMs: Number.NaN,
    oldAcceptedWhilePassive: undefined as Outcome | undefined,
    oldRefusedAfterRemovalMs: Number.NaN,
    newAcceptedAtEnd: undefined as Outcome | undefined,
    fetchesAt: [] as number[],
    durationMs: 0,
    pidBefore: 0,
    pidAfter: 0,
  }

  async function login(): Promise<string> {
    const response = await fetch(`${proxy.url}/realms/${REALM}/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', client_id: 'portal', username: 'rotating-user', password }),
    })
    if (!response.ok) throw new Error(`login: ${response.status}`)
    return ((await response.json()) as { access_token: string }).access_token
  }

  /** The status route for the user's own id: accepted credentials answer 404 UOS_USRDLT0013 (no request yet), refused ones 401 UOS_0070. Nothing is written. */
  async function ask(userToken: string): Promise<Outcome> {
    const response = await fetch(`${server.url}${userDeleteStatus.paths[0]}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.apiBearer}`, 'x-authenticated-user-token': userToken },
      body: JSON.stringify({ request: { userId } }),
    })
    const body = (await response.json()) as { params: { err: string | null } }
    return { status: response.status, err: body.params.err }
  }
  const accepted = (outcome: Outcome) => outcome.status === 404 && outcome.err === 'UOS_USRDLT0013'
  const refused = (outcome: Outcome) => outcome.status === 401 && outcome.err === 'UOS_0070'

  /** Polls until `done` holds; returns the milliseconds it took. Fails after `withinMs`. */
  async function until(token: string, done: (outcome: Outcome) => boolean, withinMs: number): Promise<number> {
    const started = performance.now()
    for (;;) {
      if (done(await ask(token))) return performance.now() - started
      if (performance.now() - started > withinMs) throw new Error(`no change within ${withinMs} ms`)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }

  /** Tokens signed by a key of our own under a fresh random kid each, about 20 a second, until stopped. */
  async function unknownKidStream(): Promise<void> {
    while (!streamStop) {
      const now = Math.floor(Date.now() / 1000)
      const forged = signJwt({ alg: 'RS256', typ: 'JWT', kid: randomUUID() }, { iss: issuer, sub: userId, typ: 'Bearer', azp: 'portal', iat: now, exp: now + 300 }, { rs256: attacker.privateKey })
      unknownKidOutcomes.push(await ask(forged))
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  beforeAll(async () => {
    // Arrange: the proxy, a realm of the test's own behind it, one user.
    proxy = await startHttpInterposer(KEYCLOAK_URL)
    issuer = `${proxy.url}/realms/${REALM}`
    await admin('', {
      method: 'POST',
      body: {
        realm: REALM,
        enabled: true,
        attributes: { frontendUrl: proxy.url },
        accessTokenLifespan: 900,
        clients: [{ clientId: 'portal', publicClient: true, directAccessGrantsEnabled: true, standardFlowEnabled: false }],
        users: [
          {
            username: 'rotating-user',
            enabled: true,
            email: 'rotating.user@example.org',
            emailVerified: true,
            firstName: 'Ro',
            lastName: 'Tation',
            credentials: [{ type: 'password', value: password, temporary: false }],
          },
        ],
      },
    })
    const [user] = (await (await admin(`/${REALM}/users?username=rotating-user&exact=true`)).json()) as { id: string }[]
    userId = (user as { id: string }).id
    // The PEM folder emptied: keys come from the realm's JWKS, with the default refresh settings.
    server = await startContractServer({ env: { 'accesstoken.publickey.basepath': '', sunbird_sso_url: proxy.url, sunbird_sso_realm: REALM } })
    result.pidBefore = server.process.pid ?? 0
    const started = performance.now()

    // The token of the key in force, accepted (the service's first JWKS fetch).
    const oldToken = await login()
    result.oldKid = kidOf(oldToken)
    result.oldAcceptedBefore = await ask(oldToken)
    stream = unknownKidStream()

    // Rotate: a new RSA provider with a higher priority signs from now on.
    const { id: realmId } = (await (await admin(`/${REALM}`)).json()) as { id: string }
    const oldProvider = (await signingKeys()).find((key) => key.kid === result.oldKid)?.providerId as string
    await admin(`/${REALM}/components`, {
      method: 'POST',
      body: {
        name: 'rotated-rsa',
        providerId: 'rsa-generated',
        providerType: 'org.keycloak.keys.KeyProvider',
        parentId: realmId,
        config: { priority: ['200'], enabled: ['true'], active: ['true'], keySize: ['2048'], algorithm: ['RS256'] },
      },
    })
    const newToken = await login()
    result.newKid = kidOf(newToken)
    result.newRefusedRightAfterRotation = await ask(newToken)
    // Accepted at the next fetch the minute allows, by the same process.
    result.newAcceptedAfterMs = await until(newToken, accepted, MINUTE_MS + 15_000)

    // The old key made passive: it signs nothing new but still verifies.
    const component = (await (await admin(`/${REALM}/components/${oldProvider}`)).json()) as { config: Record<string, string[]> }
    await admin(`/${REALM}/components/${oldProvider}`, { method: 'PUT', body: { ...component, config: { ...component.config, active: ['false'] } } })
    result.oldAcceptedWhilePassive = await ask(oldToken)

    // Removed: the old key's tokens are refused once the service fetches the keys again.
    await admin(`/${REALM}/components/${oldProvider}`, { method: 'DELETE' })
    result.oldRefusedAfterRemovalMs = await until(oldToken, refused, MINUTE_MS + 15_000)
    result.newAcceptedAtEnd = await ask(newToken)

    streamStop = true
    await stream
    result.durationMs = performance.now() - started
    result.fetchesAt = proxy.seen.filter((seen) => seen.method === 'GET' && seen.path === CERTS).map((seen) => seen.at)
    result.pidAfter = server.process.pid ?? 0
    const gaps = result.fetchesAt.slice(1).map((at, i) => Math.round(at - (result.fetchesAt[i] as number)))
    console.log(
      `JWKS rotation: new kid accepted ${Math.round(result.newAcceptedAfterMs)} ms after rotation, removed kid refused ${Math.round(result.oldRefusedAfterRemovalMs)} ms after removal; ` +
        `${unknownKidOutcomes.length} unknown-kid tokens, ${result.fetchesAt.length} JWKS fetches in ${Math.round(result.durationMs)} ms (gaps ${gaps.join(', ')} ms)`,
    )
  }, 300_000)

  afterAll(async () => {
    streamStop = true
    await stream
    await server?.stop()
    await proxy?.close()
    await admin(`/${REALM}`, { method: 'DELETE' }).catch(() => undefined)
  })

  it('when the realm still signs with its first key, then its tokens are accepted', () => {
    expect(result.oldAcceptedBefore).toEqual({ status: 404, err: 'UOS_USRDLT0013' })
  })

  it('when a new key with a higher priority signs, then its tokens are accepted without a restart, within a minute of the last fetch', () => {
    expect(result.newKid).not.toBe(result.oldKid)
    // The price of the rate limit: the keys were fetched seconds before, so the new kid waits for the minute to pass.
    expect(result.newRefusedRightAfterRotation).toEqual({ status: 401, err: 'UOS_0070' })
    expect(result.newAcceptedAfterMs).toBeLessThan(NEXT_FETCH_WITHIN_MS)
    expect(result.pidAfter).toBe(result.pidBefore)
    expect(server.process.exitCode).toBeNull()
  })

  it('when the old key is passive, then tokens it signed still verify', () => {
    expect(result.oldAcceptedWhilePassive).toEqual({ status: 404, err: 'UOS_USRDLT0013' })
  })

  it('when the old key is removed, then its tokens are refused with 401 UOS_0070, and the new key keeps working', () => {
    expect(result.oldRefusedAfterRemovalMs).toBeLessThan(NEXT_FETCH_WITHIN_MS)
    expect(result.newAcceptedAtEnd).toEqual({ status: 404, err: 'UOS_USRDLT0013' })
  })

  it('when tokens with random unknown kids keep coming, then every one is refused and the JWKS is fetched at most once a minute', () => {
    expect(unknownKidOutcomes.length).toBeGreaterThan(500)
    expect(unknownKidOutcomes.every(refused)).toBe(true)
    const gaps = result.fetchesAt.slice(1).map((at, i) => at - (result.fetchesAt[i] as number))
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(MINUTE_MS - STAMP_TOLERANCE_MS)
    expect(result.fetchesAt.length).toBeLessThanOrEqual(1 + Math.floor(result.durationMs / MINUTE_MS))
    // The rotation needed fetches of its own: the first, the new kid, the removal.
    expect(result.fetchesAt.length).toBeGreaterThanOrEqual(3)
  })
})
