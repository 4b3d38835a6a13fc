import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { configDir } from '../../../src/config/project-root.js'
import { fail } from './terminal.js'

/** What an HTTP header can carry as a token: visible ASCII, so no pasted line break, space after `Bearer` or curly quote. */
const HEADER_TOKEN = /^[\x21-\x7e]+$/

/** One credential variable, trimmed; undefined when unset or empty. Its value is never printed: it is a bearer token. */
function credential(name: 'API_BEARER' | 'USER_TOKEN'): string | undefined {
  const value = process.env[name]?.trim()
  if (!value) return undefined
  if (!HEADER_TOKEN.test(value)) fail(`${name} holds a character an HTTP header cannot carry (only visible ASCII, no spaces or line breaks inside): set it to the token alone, without "Bearer "`)
  return value
}

/**
 * The request headers: API_BEARER and USER_TOKEN; USER_TOKEN left out, the API bearer alone: a consumer trusted with deleteAnyUser.
 * Checked, like the flags, before anything is read or sent.
 */
export function credentials(): Record<string, string> {
  const apiBearer = credential('API_BEARER')
  const userToken = credential('USER_TOKEN')
  if (!apiBearer)
    fail('set API_BEARER (the gateway consumer JWT) and USER_TOKEN (the user token of the person deleting), as the quick start prints them; API_BEARER alone for a consumer trusted with deleteAnyUser')
  return { authorization: `Bearer ${apiBearer}`, ...(userToken && { 'x-authenticated-user-token': userToken }), 'content-type': 'application/json' }
}

/**
 * How far the CLI's clock may be behind the service's (auth.clockSkewSeconds, the skew the service
 * allows between clocks): a token this little past its `exp` here may not be past it there. The CLI
 * cannot ask the service, so it reads AUTH_CLOCK_SKEW_SECONDS when the operator sets it, else the
 * service's default, rather than a number of its own.
 */
function serviceClockSkewMs(): number {
  const configured = process.env.AUTH_CLOCK_SKEW_SECONDS?.trim()
  if (configured && /^\d{1,9}$/.test(configured)) return Number(configured) * 1000
  const defaults = JSON.parse(readFileSync(join(configDir, 'default.json'), 'utf8')) as { auth: { clockSkewSeconds: number } }
  return defaults.auth.clockSkewSeconds * 1000
}

/**
 * A USER_TOKEN past its expiry (its `exp`, read unverified, beyond the service's clock skew) is
 * refused up front, as the other credential checks: sent, every call would meet a bare 401, and a
 * dry run would pass a run bound to fail. The time only, never the token.
 */
export function refuseExpiredUserToken(expiresAt: number | undefined, now = Date.now()): void {
  if (expiresAt !== undefined && now >= expiresAt + serviceClockSkewMs())
    fail(`USER_TOKEN expired at ${new Date(expiresAt).toISOString()}: set a fresh one (the quick start prints how to get it); nothing was sent`)
}
