import { readFileSync } from 'node:fs'
import { DependencyUnavailableError, WordedCause } from '../../src/deletion/errors.js'
import { realmFile } from './demo-users.js'

/**
 * Puts the realm file's demo users back into a running local Keycloak (deleting them is what the
 * quick start demonstrates). partialImport keeps their fixed ids; existing users are skipped, and
 * one a soft deletion left disabled is enabled again. Uses the local bootstrap admin, so it is for
 * the project's own Keycloak only.
 */
export async function restoreKeycloakDemoUsers(ssoUrl: string, realm: string, admin = { username: 'admin', password: 'admin' }): Promise<number> {
  try {
    return await restore(ssoUrl, realm, admin)
  } catch (err) {
    // Worded here, so db:seed says Keycloak, not the kind of a fetch error (a timeout reads like any other client's).
    const why = err instanceof RestoreRefused ? err.message : 'the local Keycloak did not answer (sunbird_sso_url)'
    throw new DependencyUnavailableError('keycloak', { cause: new WordedCause(why) })
  }
}

/** A refusal of the local Keycloak, worded here: its status only. */
class RestoreRefused extends Error {}

async function restore(ssoUrl: string, realm: string, admin: { username: string; password: string }): Promise<number> {
  const tokenResponse = await fetch(`${ssoUrl}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', ...admin }),
    signal: AbortSignal.timeout(5000),
  })
  if (!tokenResponse.ok) throw new RestoreRefused(`the local Keycloak refused the admin login (${tokenResponse.status})`)
  const { access_token: token } = (await tokenResponse.json()) as { access_token: string }
  const { users } = JSON.parse(readFileSync(realmFile, 'utf8')) as { users: { id?: string; serviceAccountClientId?: string }[] }
  const response = await fetch(`${ssoUrl}/admin/realms/${realm}/partialImport`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ifResourceExists: 'SKIP', users: users.filter((user) => !user.serviceAccountClientId) }),
    signal: AbortSignal.timeout(10_000),
  })
  if (!response.ok) throw new RestoreRefused(`the local Keycloak refused the demo users' import (${response.status})`)
  const added = ((await response.json()) as { added?: number }).added ?? 0
  for (const { id } of users.filter((user) => !user.serviceAccountClientId && user.id)) {
    const userUrl = `${ssoUrl}/admin/realms/${realm}/users/${id}`
    const current = await fetch(userUrl, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) })
    if (!current.ok) {
      await current.body?.cancel()
      continue
    }
    const representation = (await current.json()) as { enabled?: boolean }
    if (representation.enabled !== false) continue
    const enabled = await fetch(userUrl, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...representation, enabled: true }),
      signal: AbortSignal.timeout(5000),
    })
    await enabled.body?.cancel()
  }
  return added
}
