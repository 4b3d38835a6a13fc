import { randomUUID } from 'node:crypto'
import { KEYCLOAK_URL, REALM } from './test-env.js'

/** The local realm's service client (config/keycloak/realm-sunbird.json): manage-users on realm sunbird. */
const SERVICE_CLIENT = { id: 'user-delete-service', secret: 'user-delete-service-secret' }

/** A token of the service client, as the service itself gets one. */
export async function serviceToken(): Promise<string> {
  const response = await fetch(`${KEYCLOAK_URL}/realms/${REALM}/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: SERVICE_CLIENT.id, client_secret: SERVICE_CLIENT.secret }),
  })
  if (!response.ok) throw new Error(`service token: ${response.status}`)
  return ((await response.json()) as { access_token: string }).access_token
}

/** The bootstrap admin of the local Keycloak (master realm), for realm-level set-up in tests. */
export async function masterAdminToken(): Promise<string> {
  const response = await fetch(`${KEYCLOAK_URL}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: 'admin', password: 'admin' }),
  })
  if (!response.ok) throw new Error(`master admin token: ${response.status}`)
  return ((await response.json()) as { access_token: string }).access_token
}

export interface KeycloakTestUser {
  id: string
  username: string
  password: string
  email: string
}

/** Creates a user in the realm with Sunbird's `roles` (JSON) and optional `parentId` attributes. */
export async function createKeycloakUser(
  options: {
    roles?: { role: string; scope: { organisationId: string }[] }[]
    parentId?: string
    /** Makes the realm's mapper put `sub` = f:<provider>:<id>, as Sunbird's federated users have it. */
    federatedProvider?: string
    realm?: string
    adminToken?: string
  } = {},
): Promise<KeycloakTestUser> {
  const realm = options.realm ?? REALM
  const token = options.adminToken ?? (await serviceToken())
  const suffix = randomUUID().slice(0, 8)
  const user = { username: `it-${suffix}`, password: `pw-${randomUUID()}`, email: `it.${suffix}@example.org` }
  const attributes: Record<string, string[]> = { roles: [JSON.stringify(options.roles ?? [{ role: 'PUBLIC', scope: [] }])] }
  if (options.parentId) attributes.parentId = [options.parentId]
  const response = await fetch(`${KEYCLOAK_URL}/admin/realms/${realm}/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      username: user.username,
      email: user.email,
      firstName: 'Ira',
      lastName: `Tester${suffix}`,
      enabled: true,
      emailVerified: true,
      requiredActions: [],
      attributes,
      credentials: [{ type: 'password', value: user.password, temporary: false }],
    }),
  })
  if (response.status !== 201) throw new Error(`create user: ${response.status} ${await response.text()}`)
  const id = response.headers.get('location')?.split('/').pop()
  if (!id) throw new Error('create user: no location')
  if (options.federatedProvider) {
    // The subject embeds the id Keycloak just chose, so it is set in a second call.
    const userUrl = `${KEYCLOAK_URL}/admin/realms/${realm}/users/${id}`
    const current = (await (await fetch(userUrl, { headers: { authorization: `Bearer ${token}` } })).json()) as { attributes?: Record<string, string[]> }
    const update = await fetch(userUrl, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...current, attributes: { ...current.attributes, federatedSubject: [`f:${options.federatedProvider}:${id}`] } }),
    })
    if (update.status !== 204) throw new Error(`set federated subject: ${update.status}`)
  }
  return { id, ...user }
}

export interface TokenSet {
  access_token: string
  refresh_token: string
}

/** Password grant on the public portal client; undefined when Keycloak refuses the login. */
export async function login(user: { username: string; password: string }, realm = REALM): Promise<TokenSet | undefined> {
  const response = await fetch(`${KEYCLOAK_URL}/realms/${realm}/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: 'portal', username: user.username, password: user.password }),
  })
  return response.ok ? ((await response.json()) as TokenSet) : undefined
}

/** The cookies a response sets, as a Cookie header (name=value pairs only). */
function cookiesOf(response: Response, previous = ''): string {
  const fresh = response.headers.getSetCookie().map((cookie) => cookie.split(';')[0] as string)
  return [previous, ...fresh].filter(Boolean).join('; ')
}

/**
 * A browser login on the `portal-web` client (authorization code flow), scripted: the login page,
 * the credentials posted to its form, the code exchanged. Unlike the password grant, this is where
 * Keycloak records AUTH_TIME, so these tokens carry `auth_time` (the `basic` scope's mapper).
 */
export async function browserLogin(user: { username: string; password: string }, realm = REALM): Promise<TokenSet> {
  const redirectUri = 'http://127.0.0.1/callback'
  const authorize = `${KEYCLOAK_URL}/realms/${realm}/protocol/openid-connect/auth?${new URLSearchParams({ client_id: 'portal-web', response_type: 'code', scope: 'openid', redirect_uri: redirectUri })}`
  const page = await fetch(authorize, { redirect: 'manual' })
  const html = await page.text()
  const action = /<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"/.exec(html)?.[1]
  if (!action) throw new Error(`browser login: no login form (${page.status})`)
  const posted = await fetch(action.replace(/&amp;/g, '&'), {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: cookiesOf(page), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: user.username, password: user.password, credentialId: '' }),
  })
  await posted.body?.cancel()
  const code = new URL(posted.headers.get('location') ?? 'http://invalid/').searchParams.get('code')
  if (!code) throw new Error(`browser login: no code (${posted.status})`)
  const response = await fetch(`${KEYCLOAK_URL}/realms/${realm}/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'authorization_code', client_id: 'portal-web', code, redirect_uri: redirectUri }),
  })
  if (!response.ok) throw new Error(`browser login: code exchange ${response.status}`)
  return (await response.json()) as TokenSet
}

/** The claims of a token, unverified (tests look at what Keycloak put in). */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>
}

/** Refresh grant: fails once the user's sessions are gone. */
export async function refresh(tokens: TokenSet): Promise<number> {
  const response = await fetch(`${KEYCLOAK_URL}/realms/${REALM}/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'portal', refresh_token: tokens.refresh_token }),
  })
  await response.body?.cancel()
  return response.status
}

/** The HTTP status of GET user by id through the admin API (404 once removed). */
export async function keycloakUserStatus(id: string): Promise<number> {
  const response = await fetch(`${KEYCLOAK_URL}/admin/realms/${REALM}/users/${id}`, { headers: { authorization: `Bearer ${await serviceToken()}` } })
  await response.body?.cancel()
  return response.status
}

/** The account as Keycloak holds it (admin API), or undefined once removed. */
export async function keycloakAccountOf(id: string): Promise<{ enabled: boolean; email?: string; firstName?: string } | undefined> {
  const response = await fetch(`${KEYCLOAK_URL}/admin/realms/${REALM}/users/${id}`, { headers: { authorization: `Bearer ${await serviceToken()}` } })
  if (response.status === 404) return undefined
  if (!response.ok) throw new Error(`read account: ${response.status}`)
  return (await response.json()) as { enabled: boolean; email?: string; firstName?: string }
}

/** An administrator disables the account (admin API, master realm's admin): the whole representation back with `enabled` false. */
export async function disableKeycloakAccount(id: string): Promise<void> {
  const url = `${KEYCLOAK_URL}/admin/realms/${REALM}/users/${encodeURIComponent(id)}`
  const headers = { authorization: `Bearer ${await masterAdminToken()}` }
  const read = await fetch(url, { headers })
  if (!read.ok) throw new Error(`read account: ${read.status}`)
  const account = (await read.json()) as Record<string, unknown>
  const write = await fetch(url, { method: 'PUT', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ ...account, enabled: false }) })
  await write.body?.cancel()
  if (!write.ok) throw new Error(`disable account: ${write.status}`)
}

/** A second realm with the same portal client shape, to obtain a real token from another issuer. */
export async function ensureOtherRealm(name: string): Promise<void> {
  const token = await masterAdminToken()
  const exists = await fetch(`${KEYCLOAK_URL}/admin/realms/${name}`, { headers: { authorization: `Bearer ${token}` } })
  await exists.body?.cancel()
  if (exists.ok) return
  const response = await fetch(`${KEYCLOAK_URL}/admin/realms`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      realm: name,
      enabled: true,
      clients: [{ clientId: 'portal', publicClient: true, directAccessGrantsEnabled: true, standardFlowEnabled: false }],
    }),
  })
  if (response.status !== 201) throw new Error(`create realm: ${response.status} ${await response.text()}`)
}
