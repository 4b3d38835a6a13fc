import { afterEach, describe, expect, it, vi } from 'vitest'
import { startStubServer } from '../../test/support/stub-http-server.js'
import { DependencyUnavailableError } from '../deletion/errors.js'
import { KeycloakIdentity, type KeycloakAdminOptions } from './keycloak-identity.js'

const REALM = 'sunbird'
const TOKEN_PATH = `/realms/${REALM}/protocol/openid-connect/token`
const USERS_PATH = `/admin/realms/${REALM}/users/`

type Route = 'token' | 'logout' | 'delete' | 'update' | 'read' | 'sessions' | 'links'
/** A status code to answer with, or 'hang' to accept the request and never answer. */
type Scripted = number | 'hang'

interface Seen {
  route: Route | 'other'
  method: string
  path: string
  authorization?: string
  body: string
}

interface FakeKeycloak {
  baseUrl: string
  seen: Seen[]
  /** Requests per route, in order. */
  routes(): (Route | 'other')[]
  /** The next requests to `route` get these answers, in order, instead of the normal behaviour. */
  script(route: Route, ...answers: Scripted[]): void
  /** As `script`, for the requests to `route` of one Keycloak id only (these go before the route's own script). */
  scriptFor(route: Route, keycloakId: string, ...answers: Scripted[]): void
  /** Every token issued so far stops being accepted by the admin API (answers 401). */
  revokeTokens(): void
  hasAccount(userId: string): boolean
  /** Whether the account can sign in; undefined when there is none. */
  isEnabled(userId: string): boolean | undefined
  close(): Promise<void>
}

const servers: FakeKeycloak[] = []
afterEach(async () => {
  vi.useRealTimers()
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

/** The one session every account of the fake has unless told otherwise, and when it began. */
const SESSION = { id: 'session-1', start: Date.parse('2024-05-20T09:58:00Z') }
type Session = typeof SESSION

/**
 * Just enough of Keycloak on 127.0.0.1 (port 0): the client_credentials token endpoint and the
 * admin user endpoints (logout, delete, update, read, sessions, identity links), which demand a
 * bearer token it issued. Accounts are held by their Keycloak id, which may be `f:<provider>:<id>`.
 */
async function startKeycloak(options: { accounts?: string[]; expiresIn?: number; disabled?: string[]; sessionsOf?: Record<string, Session[]> } = {}): Promise<FakeKeycloak> {
  const accounts = new Map((options.accounts ?? []).map((userId) => [userId, { enabled: !options.disabled?.includes(userId) }]))
  const valid = new Set<string>()
  const scripted = new Map<string, Scripted[]>()
  const seen: Seen[] = []
  let issued = 0

  const routeOf = (method: string, path: string): { route: Route | 'other'; userId?: string } => {
    if (method === 'POST' && path === TOKEN_PATH) return { route: 'token' }
    if (!path.startsWith(USERS_PATH)) return { route: 'other' }
    const [encodedId, action] = path.slice(USERS_PATH.length).split('/')
    const userId = decodeURIComponent(encodedId ?? '')
    if (method === 'POST' && action === 'logout') return { route: 'logout', userId }
    if (method === 'DELETE' && action === undefined) return { route: 'delete', userId }
    if (method === 'PUT' && action === undefined) return { route: 'update', userId }
    if (method === 'GET' && action === undefined) return { route: 'read', userId }
    if (method === 'GET' && action === 'sessions') return { route: 'sessions', userId }
    if (method === 'GET' && action === 'federated-identity') return { route: 'links', userId }
    return { route: 'other' }
  }

  const stub = await startStubServer((request, res) => {
    const { route, userId } = routeOf(request.method, request.path)
    seen.push({ route, method: request.method, path: request.path, body: request.body, ...(request.headers.authorization && { authorization: request.headers.authorization }) })
    const next = route === 'other' ? undefined : (scripted.get(`${route} ${userId}`)?.shift() ?? scripted.get(route)?.shift())
    if (next === 'hang') return
    if (typeof next === 'number') {
      res.writeHead(next, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'scripted' }))
      return
    }
    if (route === 'token') {
      const token = `token-${++issued}`
      valid.add(token)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, expires_in: options.expiresIn ?? 300, token_type: 'Bearer' }))
      return
    }
    if (route === 'other' || userId === undefined) {
      res.writeHead(404).end()
      return
    }
    if (!valid.has((request.headers.authorization ?? '').replace(/^Bearer /, ''))) {
      res.writeHead(401).end()
      return
    }
    const account = accounts.get(userId)
    if (!account) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'User not found' }))
      return
    }
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    if (route === 'read') return json({ username: `name-of-${userId}`, enabled: account.enabled })
    if (route === 'sessions') return json(options.sessionsOf?.[userId] ?? [SESSION])
    if (route === 'links') return json([])
    if (route === 'delete') accounts.delete(userId)
    if (route === 'update') {
      const { enabled } = JSON.parse(request.body || '{}') as { enabled?: unknown }
      if (typeof enabled === 'boolean') account.enabled = enabled
    }
    res.writeHead(204).end()
  })
  const handle: FakeKeycloak = {
    baseUrl: stub.url,
    seen,
    routes: () => seen.map((request) => request.route),
    script: (route, ...answers) => scripted.set(route, [...(scripted.get(route) ?? []), ...answers]),
    scriptFor: (route, keycloakId, ...answers) => scripted.set(`${route} ${keycloakId}`, [...(scripted.get(`${route} ${keycloakId}`) ?? []), ...answers]),
    revokeTokens: () => valid.clear(),
    hasAccount: (userId) => accounts.has(userId),
    isEnabled: (userId) => accounts.get(userId)?.enabled,
    close: () => stub.close(),
  }
  servers.push(handle)
  return handle
}

function clientFor(keycloak: FakeKeycloak, overrides: Partial<KeycloakAdminOptions> = {}): KeycloakIdentity {
  return new KeycloakIdentity({ baseUrl: keycloak.baseUrl, realm: REALM, clientId: 'user-delete', clientSecret: 's3cret', timeoutMs: 2_000, retries: 0, ...overrides })
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  )
}

describe('KeycloakIdentity, the service token', () => {
  it('when the first call is made, then a client_credentials token is fetched with the service client’s credentials', async () => {
    const keycloak = await startKeycloak({ accounts: ['user-1'] })

    await clientFor(keycloak).eraseAccount('user-1')

    const token = keycloak.seen.find((request) => request.route === 'token')
    expect(Object.fromEntries(new URLSearchParams(token?.body))).toEqual({ grant_type: 'client_credentials', client_id: 'user-delete', client_secret: 's3cret' })
  })

  it('when several accounts are erased, then the token is fetched once and reused for every admin call', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: ['user-1', 'user-2'] })
    const identity = clientFor(keycloak)

    // Act
    await identity.eraseAccount('user-1')
    await identity.eraseAccount('user-2')

    // Assert
    expect(keycloak.routes().filter((route) => route === 'token')).toHaveLength(1)
    const admin = keycloak.seen.filter((request) => request.route !== 'token')
    expect(admin).toHaveLength(4)
    expect(new Set(admin.map((request) => request.authorization))).toEqual(new Set(['Bearer token-1']))
  })

  it('when many calls start at once with no token, then one token is fetched and every call uses it', async () => {
    // Arrange
    const users = ['user-1', 'user-2', 'user-3', 'user-4', 'user-5']
    const keycloak = await startKeycloak({ accounts: users })
    const identity = clientFor(keycloak)

    // Act
    await Promise.all(users.map((userId) => identity.eraseAccount(userId)))

    // Assert
    expect(keycloak.routes().filter((route) => route === 'token')).toHaveLength(1)
    expect(users.every((userId) => !keycloak.hasAccount(userId))).toBe(true)
    expect(new Set(keycloak.seen.filter((request) => request.route !== 'token').map((request) => request.authorization))).toEqual(new Set(['Bearer token-1']))
  })

  it('when the token request fails, then the next call asks for a token again', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: ['user-1'] })
    keycloak.script('token', 503)
    const identity = clientFor(keycloak)
    expect(await failureOf(identity.eraseAccount('user-1'))).toBeInstanceOf(DependencyUnavailableError)

    // Act
    await identity.eraseAccount('user-1')

    // Assert
    expect(keycloak.routes()).toEqual(['token', 'token', 'logout', 'delete'])
  })

  it('when the token is within 30 seconds of expiry, then a fresh one is fetched before the next call', async () => {
    // Arrange: expires_in 60 → trusted for 30 s.
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2024-05-20T10:00:00Z'))
    const keycloak = await startKeycloak({ accounts: ['user-1', 'user-2', 'user-3'], expiresIn: 60 })
    const identity = clientFor(keycloak)
    await identity.eraseAccount('user-1')

    // Act
    vi.setSystemTime(new Date('2024-05-20T10:00:29Z'))
    await identity.eraseAccount('user-2')
    vi.setSystemTime(new Date('2024-05-20T10:00:31Z'))
    await identity.eraseAccount('user-3')

    // Assert
    expect(keycloak.routes()).toEqual(['token', 'logout', 'delete', 'logout', 'delete', 'token', 'logout', 'delete'])
    expect(keycloak.seen.at(-1)?.authorization).toBe('Bearer token-2')
  })

  it('when an admin call answers 401, then the token is refreshed once and the call is made again with the new token', async () => {
    // Arrange: the cached token is revoked behind the client's back.
    const keycloak = await startKeycloak({ accounts: ['user-1', 'user-2'] })
    const identity = clientFor(keycloak)
    await identity.eraseAccount('user-1')
    keycloak.revokeTokens()

    // Act
    const result = await identity.eraseAccount('user-2')

    // Assert
    expect(result).toBe('deleted')
    expect(keycloak.seen.slice(3).map((request) => [request.route, request.authorization])).toEqual([
      ['logout', 'Bearer token-1'],
      ['token', undefined],
      ['logout', 'Bearer token-2'],
      ['delete', 'Bearer token-2'],
    ])
  })

  it('when the admin API keeps answering 401, then the token is refreshed only once and the call fails', async () => {
    const keycloak = await startKeycloak({ accounts: ['user-1'] })
    keycloak.script('logout', 401, 401, 401)

    const error = await failureOf(clientFor(keycloak).eraseAccount('user-1'))

    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(DependencyUnavailableError)
    expect(keycloak.routes()).toEqual(['token', 'logout', 'token', 'logout'])
  })

  it('when the token endpoint keeps failing with 5xx, then DependencyUnavailableError(keycloak) is raised', async () => {
    const keycloak = await startKeycloak({ accounts: ['user-1'] })
    keycloak.script('token', 503, 503)

    const error = await failureOf(clientFor(keycloak, { retries: 1 }).eraseAccount('user-1'))

    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect((error as DependencyUnavailableError).dependency).toBe('keycloak')
    expect(keycloak.routes()).toEqual(['token', 'token'])
  })
})

describe('KeycloakIdentity.eraseAccount', () => {
  it('when the account exists, then the sessions are ended first, then the account is removed, and deleted is answered', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: ['user-1'] })

    // Act
    const result = await clientFor(keycloak).eraseAccount('user-1')

    // Assert
    expect(result).toBe('deleted')
    expect(keycloak.seen.map((request) => `${request.method} ${request.path}`)).toEqual([`POST ${TOKEN_PATH}`, `POST ${USERS_PATH}user-1/logout`, `DELETE ${USERS_PATH}user-1`])
    expect(keycloak.hasAccount('user-1')).toBe(false)
  })

  it('when the user id holds URL characters, then it is encoded into a single path segment', async () => {
    const keycloak = await startKeycloak({ accounts: ['f:abc/def'] })

    const result = await clientFor(keycloak).eraseAccount('f:abc/def')

    expect(result).toBe('deleted')
    expect(keycloak.seen[1]?.path).toBe(`${USERS_PATH}f%3Aabc%2Fdef/logout`)
  })

  it('when logout answers 404, then absent is answered and no removal is attempted', async () => {
    const keycloak = await startKeycloak({ accounts: [] })

    const result = await clientFor(keycloak).eraseAccount('user-1')

    expect(result).toBe('absent')
    expect(keycloak.routes()).toEqual(['token', 'logout'])
  })

  it('when the account disappears between logout and removal, then absent is answered', async () => {
    const keycloak = await startKeycloak({ accounts: ['user-1'] })
    keycloak.script('delete', 404)

    const result = await clientFor(keycloak).eraseAccount('user-1')

    expect(result).toBe('absent')
    expect(keycloak.routes()).toEqual(['token', 'logout', 'delete'])
  })

  it('when removal is refused, then the account is disabled and blanked, and disabled is answered', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: ['user-1'] })
    keycloak.script('delete', 403)

    // Act
    const result = await clientFor(keycloak).eraseAccount('user-1')

    // Assert
    expect(result).toBe('disabled')
    expect(keycloak.routes()).toEqual(['token', 'logout', 'delete', 'update'])
    const update = keycloak.seen.at(-1)
    expect(update?.path).toBe(`${USERS_PATH}user-1`)
    expect(JSON.parse(update?.body ?? '{}')).toEqual({ enabled: false, email: '', firstName: '', lastName: '', emailVerified: false })
  })

  it('when removal is refused and disabling is refused too, then the call fails without claiming Keycloak is unreachable', async () => {
    const keycloak = await startKeycloak({ accounts: ['user-1'] })
    keycloak.script('delete', 403)
    keycloak.script('update', 403)

    const error = await failureOf(clientFor(keycloak).eraseAccount('user-1'))

    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(DependencyUnavailableError)
  })

  it('when logout answers another 4xx, then it is not retried and the call fails', async () => {
    const keycloak = await startKeycloak({ accounts: ['user-1'] })
    keycloak.script('logout', 403)

    const error = await failureOf(clientFor(keycloak, { retries: 2 }).eraseAccount('user-1'))

    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(DependencyUnavailableError)
    expect(keycloak.routes()).toEqual(['token', 'logout'])
    expect(keycloak.hasAccount('user-1')).toBe(true)
  })
})

describe('KeycloakIdentity, outages', () => {
  it('when an admin call answers 5xx every time, then it is retried `retries` times and DependencyUnavailableError(keycloak) is raised', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: ['user-1'] })
    keycloak.script('logout', 503, 502, 500)

    // Act
    const error = await failureOf(clientFor(keycloak, { retries: 2 }).eraseAccount('user-1'))

    // Assert
    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect((error as DependencyUnavailableError).dependency).toBe('keycloak')
    expect(keycloak.routes()).toEqual(['token', 'logout', 'logout', 'logout'])
    expect(keycloak.hasAccount('user-1')).toBe(true)
  })

  it('when a 5xx is followed by a good answer, then the retry succeeds', async () => {
    const keycloak = await startKeycloak({ accounts: ['user-1'] })
    keycloak.script('delete', 503)

    const result = await clientFor(keycloak, { retries: 1 }).eraseAccount('user-1')

    expect(result).toBe('deleted')
    expect(keycloak.routes()).toEqual(['token', 'logout', 'delete', 'delete'])
  })

  it('when Keycloak accepts the connection but never answers, then the call gives up after timeoutMs with DependencyUnavailableError', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: ['user-1'] })
    keycloak.script('logout', 'hang')
    const started = performance.now()

    // Act
    const error = await failureOf(clientFor(keycloak, { timeoutMs: 200, retries: 0 }).eraseAccount('user-1'))

    // Assert
    const elapsed = performance.now() - started
    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect(elapsed).toBeGreaterThanOrEqual(150)
    expect(elapsed).toBeLessThan(2_000)
    expect(keycloak.routes()).toEqual(['token', 'logout'])
  })

  it('when nothing listens at the address, then DependencyUnavailableError(keycloak) is raised', async () => {
    const keycloak = await startKeycloak()
    const baseUrl = keycloak.baseUrl
    await keycloak.close()

    const error = await failureOf(new KeycloakIdentity({ baseUrl, realm: REALM, clientId: 'c', clientSecret: 's', timeoutMs: 500, retries: 0 }).eraseAccount('user-1'))

    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect((error as DependencyUnavailableError).dependency).toBe('keycloak')
  })
})

describe('KeycloakIdentity with a federation provider id (Sunbird’s f:<provider>:<id> accounts)', () => {
  const PROVIDER = 'sunbird-fed'
  const FEDERATED = `f:${PROVIDER}:user-1`
  const FEDERATED_PATH = `${USERS_PATH}f%3A${PROVIDER}%3Auser-1`
  const PLAIN_PATH = `${USERS_PATH}user-1`
  const federated = (keycloak: FakeKeycloak) => clientFor(keycloak, { federationProviderId: PROVIDER })
  const adminCalls = (keycloak: FakeKeycloak) => keycloak.seen.filter((request) => request.route !== 'token').map((request) => `${request.method} ${request.path}`)

  it('when no provider id is set, then only the plain id is called, once', async () => {
    const keycloak = await startKeycloak({ accounts: [] })

    const result = await clientFor(keycloak).eraseAccount('user-1')

    expect(result).toBe('absent')
    expect(adminCalls(keycloak)).toEqual([`POST ${PLAIN_PATH}/logout`])
  })

  it('when the provider id is empty, then only the plain id is called, as with none', async () => {
    const keycloak = await startKeycloak({ accounts: ['user-1'] })

    expect(await clientFor(keycloak, { federationProviderId: '' }).eraseAccount('user-1')).toBe('deleted')

    expect(adminCalls(keycloak)).toEqual([`POST ${PLAIN_PATH}/logout`, `DELETE ${PLAIN_PATH}`])
  })

  it('when Keycloak holds the user as f:<provider>:<id> only, then its sessions are ended and it is deleted under that id, after the plain id answered 404', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: [FEDERATED] })

    // Act
    const result = await federated(keycloak).eraseAccount('user-1')

    // Assert: ':' goes %3A-encoded into the one path segment; the plain id is asked for a second account.
    expect(result).toBe('deleted')
    expect(adminCalls(keycloak)).toEqual([`POST ${FEDERATED_PATH}/logout`, `POST ${PLAIN_PATH}/logout`, `DELETE ${FEDERATED_PATH}`])
    expect(keycloak.hasAccount(FEDERATED)).toBe(false)
  })

  it('when Keycloak answers 404 for the federated id, then the plain id is tried, signed out and deleted', async () => {
    // Arrange: a native account in a deployment that also federates users.
    const keycloak = await startKeycloak({ accounts: ['user-1'] })

    // Act
    const result = await federated(keycloak).eraseAccount('user-1')

    // Assert
    expect(result).toBe('deleted')
    expect(adminCalls(keycloak)).toEqual([`POST ${FEDERATED_PATH}/logout`, `POST ${PLAIN_PATH}/logout`, `DELETE ${PLAIN_PATH}`])
    expect(keycloak.hasAccount('user-1')).toBe(false)
  })

  it('when Keycloak answers 404 for both ids, then absent is answered and nothing is removed', async () => {
    const keycloak = await startKeycloak({ accounts: ['someone-else'] })

    const result = await federated(keycloak).eraseAccount('user-1')

    expect(result).toBe('absent')
    expect(adminCalls(keycloak)).toEqual([`POST ${FEDERATED_PATH}/logout`, `POST ${PLAIN_PATH}/logout`])
  })

  it('when the federated id is refused with another 4xx, then the call fails and the plain id is not tried', async () => {
    // Only "no such user" sends the search on: a refusal must not pass for the account being elsewhere.
    const keycloak = await startKeycloak({ accounts: ['user-1'] })
    keycloak.script('logout', 403)

    const error = await failureOf(federated(keycloak).eraseAccount('user-1'))

    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(DependencyUnavailableError)
    expect(adminCalls(keycloak)).toEqual([`POST ${FEDERATED_PATH}/logout`])
    expect(keycloak.hasAccount('user-1')).toBe(true)
  })

  it('when a federated account is disabled (soft deletion), then it is read, signed out and written under the federated id', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: [FEDERATED] })

    // Act
    const result = await federated(keycloak).disableAccount('user-1')

    // Assert
    expect(result).toEqual({ outcome: 'disabled', disabled: [FEDERATED] })
    expect(adminCalls(keycloak)).toEqual([`GET ${FEDERATED_PATH}`, `GET ${PLAIN_PATH}`, `POST ${FEDERATED_PATH}/logout`, `PUT ${FEDERATED_PATH}`])
    expect(keycloak.isEnabled(FEDERATED)).toBe(false)
  })

  it('when a native account is disabled and enabled again, then each finds it under the plain id after a 404 for the federated one', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: ['user-1'] })
    const identity = federated(keycloak)

    // Act
    const disabled = await identity.disableAccount('user-1')
    const enabled = await identity.enableAccount('user-1')

    // Assert
    expect(disabled).toEqual({ outcome: 'disabled', disabled: ['user-1'] })
    expect(enabled).toBe('enabled')
    expect(adminCalls(keycloak)).toEqual([
      `GET ${FEDERATED_PATH}`,
      `GET ${PLAIN_PATH}`,
      `POST ${PLAIN_PATH}/logout`,
      `PUT ${PLAIN_PATH}`,
      `GET ${FEDERATED_PATH}`,
      `GET ${PLAIN_PATH}`,
      `PUT ${PLAIN_PATH}`,
    ])
    expect(keycloak.isEnabled('user-1')).toBe(true)
  })

  it('when a federated account is enabled again (a cancel), then it is found and written under the federated id', async () => {
    const keycloak = await startKeycloak({ accounts: [FEDERATED] })
    const identity = federated(keycloak)
    await identity.disableAccount('user-1')

    expect(await identity.enableAccount('user-1')).toBe('enabled')

    expect(keycloak.isEnabled(FEDERATED)).toBe(true)
    expect(adminCalls(keycloak).slice(-3)).toEqual([`GET ${FEDERATED_PATH}`, `GET ${PLAIN_PATH}`, `PUT ${FEDERATED_PATH}`])
  })

  it('when a federated account is read (export, dry run), then the account and its identity links come from the federated id', async () => {
    const keycloak = await startKeycloak({ accounts: [FEDERATED] })

    const account = await federated(keycloak).readAccount('user-1')

    expect(account).toMatchObject({ username: `name-of-${FEDERATED}`, enabled: true, federatedIdentities: [] })
    expect(adminCalls(keycloak)).toEqual([`GET ${FEDERATED_PATH}`, `GET ${FEDERATED_PATH}/federated-identity`])
  })

  it('when neither id is known, then disable and enable answer absent and read answers undefined, each after trying both', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: [] })
    const identity = federated(keycloak)

    // Act
    const disabled = await identity.disableAccount('user-1')
    const enabled = await identity.enableAccount('user-1')
    const read = await identity.readAccount('user-1')

    // Assert
    expect(disabled).toEqual({ outcome: 'absent', disabled: [] })
    expect(enabled).toBe('absent')
    expect(read).toBeUndefined()
    expect(adminCalls(keycloak)).toEqual(Array.from({ length: 3 }, () => [`GET ${FEDERATED_PATH}`, `GET ${PLAIN_PATH}`]).flat())
  })

  it('when step-up asks when a session began, then the federated id’s sessions are read, or the plain id’s after a 404', async () => {
    // Arrange
    const keycloakOfFederated = await startKeycloak({ accounts: [FEDERATED] })
    const keycloakOfNative = await startKeycloak({ accounts: ['user-1'] })

    // Act
    const federatedStart = await federated(keycloakOfFederated).sessionStartedAt('user-1', SESSION.id)
    const nativeStart = await federated(keycloakOfNative).sessionStartedAt('user-1', SESSION.id)

    // Assert
    expect(federatedStart).toEqual(new Date(SESSION.start))
    expect(nativeStart).toEqual(new Date(SESSION.start))
    expect(adminCalls(keycloakOfFederated)).toEqual([`GET ${FEDERATED_PATH}/sessions`])
    expect(adminCalls(keycloakOfNative)).toEqual([`GET ${FEDERATED_PATH}/sessions`, `GET ${PLAIN_PATH}/sessions`])
  })
})

describe('KeycloakIdentity when the person has both a federated and a native account', () => {
  // Older Sunbird versions created users natively in Keycloak under the Sunbird user id; the same
  // person may also come through the user-storage federation as f:<provider>:<id>.
  const PROVIDER = 'sunbird-fed'
  const FEDERATED = `f:${PROVIDER}:user-1`
  const NATIVE = 'user-1'
  const FEDERATED_PATH = `${USERS_PATH}f%3A${PROVIDER}%3Auser-1`
  const PLAIN_PATH = `${USERS_PATH}user-1`
  const federated = (keycloak: FakeKeycloak, overrides: Partial<KeycloakAdminOptions> = {}) => clientFor(keycloak, { federationProviderId: PROVIDER, ...overrides })
  const adminCalls = (keycloak: FakeKeycloak) => keycloak.seen.filter((request) => request.route !== 'token').map((request) => `${request.method} ${request.path}`)

  it('when the account is erased, then both are signed out first, then both are deleted, and deleted is answered', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE] })

    // Act
    const result = await federated(keycloak).eraseAccount('user-1')

    // Assert
    expect(result).toBe('deleted')
    expect(adminCalls(keycloak)).toEqual([`POST ${FEDERATED_PATH}/logout`, `POST ${PLAIN_PATH}/logout`, `DELETE ${FEDERATED_PATH}`, `DELETE ${PLAIN_PATH}`])
    expect(keycloak.hasAccount(FEDERATED)).toBe(false)
    expect(keycloak.hasAccount(NATIVE)).toBe(false)
  })

  it('when removal of one is refused, then that one is disabled and blanked, the other deleted, and disabled is answered', async () => {
    // Arrange: the federated account is read-only (its provider refuses removal).
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE] })
    keycloak.scriptFor('delete', FEDERATED, 403)

    // Act
    const result = await federated(keycloak).eraseAccount('user-1')

    // Assert: an account is kept, so the receipt does not say deleted.
    expect(result).toBe('disabled')
    expect(adminCalls(keycloak)).toEqual([`POST ${FEDERATED_PATH}/logout`, `POST ${PLAIN_PATH}/logout`, `DELETE ${FEDERATED_PATH}`, `PUT ${FEDERATED_PATH}`, `DELETE ${PLAIN_PATH}`])
    expect(keycloak.isEnabled(FEDERATED)).toBe(false)
    expect(keycloak.hasAccount(NATIVE)).toBe(false)
  })

  it('when signing out the native one is refused, then the call fails and neither is removed', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE] })
    keycloak.scriptFor('logout', NATIVE, 403)

    // Act
    const error = await failureOf(federated(keycloak).eraseAccount('user-1'))

    // Assert: a refusal is never read as "no such account".
    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(DependencyUnavailableError)
    expect(adminCalls(keycloak)).toEqual([`POST ${FEDERATED_PATH}/logout`, `POST ${PLAIN_PATH}/logout`])
    expect(keycloak.hasAccount(FEDERATED)).toBe(true)
    expect(keycloak.hasAccount(NATIVE)).toBe(true)
  })

  it('when Keycloak is out of reach for the second removal, then the call fails as unavailable, and a retry deletes what is left', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE] })
    keycloak.scriptFor('delete', NATIVE, 503, 503)
    const identity = federated(keycloak, { retries: 1 })

    // Act
    const error = await failureOf(identity.eraseAccount('user-1'))
    const retried = await identity.eraseAccount('user-1')

    // Assert
    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect(retried).toBe('deleted')
    expect(adminCalls(keycloak).slice(-3)).toEqual([`POST ${FEDERATED_PATH}/logout`, `POST ${PLAIN_PATH}/logout`, `DELETE ${PLAIN_PATH}`])
    expect(keycloak.hasAccount(FEDERATED)).toBe(false)
    expect(keycloak.hasAccount(NATIVE)).toBe(false)
  })

  it('when the account is disabled (soft deletion), then both are read, then both signed out, then both disabled', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE] })

    // Act
    const result = await federated(keycloak).disableAccount('user-1')

    // Assert
    expect(result).toEqual({ outcome: 'disabled', disabled: [FEDERATED, NATIVE] })
    expect(adminCalls(keycloak)).toEqual([`GET ${FEDERATED_PATH}`, `GET ${PLAIN_PATH}`, `POST ${FEDERATED_PATH}/logout`, `POST ${PLAIN_PATH}/logout`, `PUT ${FEDERATED_PATH}`, `PUT ${PLAIN_PATH}`])
    expect(keycloak.isEnabled(FEDERATED)).toBe(false)
    expect(keycloak.isEnabled(NATIVE)).toBe(false)
  })

  it('when only one of them was enabled, then it alone is written and named as disabled, and both are signed out', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE], disabled: [FEDERATED] })

    // Act
    const result = await federated(keycloak).disableAccount('user-1')

    // Assert
    expect(result).toEqual({ outcome: 'disabled', disabled: [NATIVE] })
    expect(adminCalls(keycloak).slice(2)).toEqual([`POST ${FEDERATED_PATH}/logout`, `POST ${PLAIN_PATH}/logout`, `PUT ${PLAIN_PATH}`])
    expect(keycloak.isEnabled(NATIVE)).toBe(false)
  })

  it('when both were disabled already, then both are signed out, nothing is written, and none is named as disabled', async () => {
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE], disabled: [FEDERATED, NATIVE] })

    const result = await federated(keycloak).disableAccount('user-1')

    expect(result).toEqual({ outcome: 'disabled', disabled: [] })
    expect(keycloak.routes()).not.toContain('update')
    expect(keycloak.routes().filter((route) => route === 'logout')).toHaveLength(2)
  })

  it('when the accounts are listed, then both are read (nothing else) and named by their Keycloak ids with whether each is enabled', async () => {
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE], disabled: [FEDERATED] })

    const accounts = await federated(keycloak).listAccounts('user-1')

    expect(accounts).toEqual([
      { accountId: FEDERATED, enabled: false },
      { accountId: NATIVE, enabled: true },
    ])
    expect(adminCalls(keycloak)).toEqual([`GET ${FEDERATED_PATH}`, `GET ${PLAIN_PATH}`])
  })

  it('when reading the native one is refused, then disable fails before anything is signed out or written', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE] })
    keycloak.scriptFor('read', NATIVE, 403)

    // Act
    const error = await failureOf(federated(keycloak).disableAccount('user-1'))

    // Assert: a retry still sees both as they were, and remembers that they were enabled.
    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(DependencyUnavailableError)
    expect(adminCalls(keycloak)).toEqual([`GET ${FEDERATED_PATH}`, `GET ${PLAIN_PATH}`])
    expect(keycloak.isEnabled(FEDERATED)).toBe(true)
    expect(keycloak.isEnabled(NATIVE)).toBe(true)
  })

  it('when disabling the native one is refused, then the call fails', async () => {
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE] })
    keycloak.scriptFor('update', NATIVE, 403)

    const error = await failureOf(federated(keycloak).disableAccount('user-1'))

    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(DependencyUnavailableError)
    expect(keycloak.isEnabled(NATIVE)).toBe(true)
  })

  it('when disabling the native one fails after the federated one was disabled, then the federated one is told as disabled before the call fails', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE] })
    keycloak.scriptFor('update', NATIVE, 503, 503)
    const told: string[] = []

    // Act
    const error = await failureOf(federated(keycloak, { retries: 1 }).disableAccount('user-1', (accountId) => told.push(accountId)))

    // Assert: the caller still knows which account the call disabled.
    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect(told).toEqual([FEDERATED])
    expect(keycloak.isEnabled(FEDERATED)).toBe(false)
    expect(keycloak.isEnabled(NATIVE)).toBe(true)
  })

  it('when a cancel names the account the deletion disabled, then it alone is enabled: the one an administrator had disabled before stays disabled', async () => {
    // Arrange: the federated account was disabled by an administrator before the soft deletion.
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE], disabled: [FEDERATED] })
    const identity = federated(keycloak)
    const { disabled } = await identity.disableAccount('user-1')

    // Act
    const result = await identity.enableAccount('user-1', disabled)

    // Assert
    expect(disabled).toEqual([NATIVE])
    expect(result).toBe('enabled')
    expect(adminCalls(keycloak).slice(-2)).toEqual([`GET ${PLAIN_PATH}`, `PUT ${PLAIN_PATH}`])
    expect(keycloak.isEnabled(NATIVE)).toBe(true)
    expect(keycloak.isEnabled(FEDERATED)).toBe(false)
  })

  it('when the accounts named for enabling were removed since, then absent is answered and the other account is not touched', async () => {
    // Arrange: the deletion disabled the native account, which an administrator removed since.
    const keycloak = await startKeycloak({ accounts: [FEDERATED], disabled: [FEDERATED] })

    // Act
    const result = await federated(keycloak).enableAccount('user-1', [NATIVE])

    // Assert
    expect(result).toBe('absent')
    expect(adminCalls(keycloak)).toEqual([`GET ${PLAIN_PATH}`])
    expect(keycloak.isEnabled(FEDERATED)).toBe(false)
  })

  it('when the ids named for enabling are a federated id and the provider id is no longer set, then the named account is still addressed', async () => {
    const keycloak = await startKeycloak({ accounts: [FEDERATED], disabled: [FEDERATED] })

    expect(await clientFor(keycloak).enableAccount('user-1', [FEDERATED])).toBe('enabled')

    expect(adminCalls(keycloak)).toEqual([`GET ${FEDERATED_PATH}`, `PUT ${FEDERATED_PATH}`])
    expect(keycloak.isEnabled(FEDERATED)).toBe(true)
  })

  it('when a soft deletion recorded before the accounts were named is cancelled, then both are enabled again', async () => {
    // Arrange
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE] })
    const identity = federated(keycloak)
    await identity.disableAccount('user-1')

    // Act
    const result = await identity.enableAccount('user-1')

    // Assert
    expect(result).toBe('enabled')
    expect(adminCalls(keycloak).slice(-4)).toEqual([`GET ${FEDERATED_PATH}`, `GET ${PLAIN_PATH}`, `PUT ${FEDERATED_PATH}`, `PUT ${PLAIN_PATH}`])
    expect(keycloak.isEnabled(FEDERATED)).toBe(true)
    expect(keycloak.isEnabled(NATIVE)).toBe(true)
  })

  it('when enabling the native one is refused, then the call fails (a cancel does not pass for done)', async () => {
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE], disabled: [FEDERATED, NATIVE] })
    keycloak.scriptFor('update', NATIVE, 403)

    const error = await failureOf(federated(keycloak).enableAccount('user-1'))

    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(DependencyUnavailableError)
    expect(keycloak.isEnabled(NATIVE)).toBe(false)
  })

  it('when the account is read (export, dry run), then the federated one is answered and the native one is not asked for', async () => {
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE] })

    const account = await federated(keycloak).readAccount('user-1')

    expect(account).toMatchObject({ username: `name-of-${FEDERATED}` })
    expect(adminCalls(keycloak)).toEqual([`GET ${FEDERATED_PATH}`, `GET ${FEDERATED_PATH}/federated-identity`])
  })

  it('when step-up asks about a session of the native account, then it is found there after the federated one did not hold it', async () => {
    // Arrange: the person signed in with the native account; the token's user id has no f: part.
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE], sessionsOf: { [FEDERATED]: [] } })

    // Act
    const started = await federated(keycloak).sessionStartedAt('user-1', SESSION.id)

    // Assert
    expect(started).toEqual(new Date(SESSION.start))
    expect(adminCalls(keycloak)).toEqual([`GET ${FEDERATED_PATH}/sessions`, `GET ${PLAIN_PATH}/sessions`])
  })

  it('when step-up asks about a session of the federated account, then the native one is not asked', async () => {
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE] })

    expect(await federated(keycloak).sessionStartedAt('user-1', SESSION.id)).toEqual(new Date(SESSION.start))

    expect(adminCalls(keycloak)).toEqual([`GET ${FEDERATED_PATH}/sessions`])
  })

  it('when no provider id is set, then disable and enable ask for the plain id alone, as before', async () => {
    // Arrange: the federated account exists but the setting is off, so it is not addressed.
    const keycloak = await startKeycloak({ accounts: [FEDERATED, NATIVE] })
    const identity = clientFor(keycloak)

    // Act
    await identity.disableAccount('user-1')
    await identity.enableAccount('user-1')

    // Assert
    expect(adminCalls(keycloak)).toEqual([`GET ${PLAIN_PATH}`, `POST ${PLAIN_PATH}/logout`, `PUT ${PLAIN_PATH}`, `GET ${PLAIN_PATH}`, `PUT ${PLAIN_PATH}`])
    expect(keycloak.isEnabled(FEDERATED)).toBe(true)
  })
})
