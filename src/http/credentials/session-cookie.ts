import { generateCookie, getCookie } from 'hono/cookie'
import type { Context } from 'hono'
import { InvalidCredentialsError } from '../../auth/auth-errors.js'
import type { Caller } from '../../deletion/caller.js'
import { ApiError } from '../api-error.js'
import type { AppEnv } from '../app-env.js'
import type { CredentialScheme, SessionCookieSettings } from './credential-scheme.js'
import { lockOutPerson, loginOf, personCaller, refusedAsUnauthorized } from './person-token.js'

const DIRECT = 'session-cookie'

/** SESSION_COOKIE_NAME's default (config/default.json): the name the OpenAPI document shows. */
const DEFAULT_COOKIE_NAME = 'neptun-session'

/**
 * The Set-Cookie value that ends the session: the cookie emptied and expired at once, out of
 * scripts' reach, for the whole site. The answer sends it and the OpenAPI document shows it.
 */
function expiredSessionCookie(name: string, secure: boolean): string {
  return generateCookie(name, '', { maxAge: 0, path: '/', httpOnly: true, sameSite: 'Lax', secure })
}

/**
 * A cookie rides along with any request the browser makes, whoever asked for it: a
 * cookie-authenticated DELETE is a cross-site request forgery target. Refused (403) when the
 * browser says the call comes from another site: an `Origin` not allowed, or
 * `Sec-Fetch-Site: cross-site`. A call without either (curl, a server) is not a browser's.
 */
function refuseCrossSite(c: Context<AppEnv>, settings: SessionCookieSettings): void {
  const origin = c.req.header('origin')
  if (origin !== undefined && !settings.allowedOrigins.includes(origin)) throw new ApiError('CROSS_SITE_REQUEST', { reason: 'origin not allowed' })
  if (c.req.header('sec-fetch-site')?.toLowerCase() === 'cross-site') throw new ApiError('CROSS_SITE_REQUEST', { reason: 'sec-fetch-site cross-site' })
}

/**
 * The person's Keycloak access token in a session cookie (SESSION_COOKIE_NAME, `neptun-session` by
 * default), as a backend-for-frontend keeps it; the cross-site check comes first. Verified and
 * locked out as the Sunbird route's user token. Ending the session expires the cookie.
 */
export const sessionCookie: CredentialScheme<Caller> = {
  name: 'session-cookie',
  headers: [],
  openApi: {
    security: [{ sessionCookie: [] }],
    securitySchemes: {
      sessionCookie: {
        type: 'apiKey',
        in: 'cookie',
        name: DEFAULT_COOKIE_NAME,
        description:
          "The person's Keycloak access token in the session cookie (name: `SESSION_COOKIE_NAME`, `neptun-session` by default), verified as strictly as Sunbird's user token; with `USER_TOKEN_DIRECT_CLIENTS` set, only a token issued to one of those clients (`azp`). A call whose `Origin` is not in `SESSION_ALLOWED_ORIGINS`, or with `Sec-Fetch-Site: cross-site`, is refused 403 `UOS_USRDLT0140` before the cookie is read.",
      },
    },
    parameters: {},
    endSessionHeaders: {
      'Set-Cookie': {
        description: `Ends the session (the account is gone): the session cookie (name: \`SESSION_COOKIE_NAME\`, \`${DEFAULT_COOKIE_NAME}\` by default) emptied and expired at once, \`${expiredSessionCookie(DEFAULT_COOKIE_NAME, false)}\`; with \`SESSION_COOKIE_SECURE=true\` also \`Secure\`: \`${expiredSessionCookie(DEFAULT_COOKIE_NAME, true)}\`.`,
        schema: { type: 'string' },
        example: expiredSessionCookie(DEFAULT_COOKIE_NAME, false),
      },
    },
  },

  async authenticate(c, verifiers) {
    refuseCrossSite(c, verifiers.sessionCookie)
    return refusedAsUnauthorized(async () => {
      const token = getCookie(c, verifiers.sessionCookie.name)?.trim()
      if (!token) throw new InvalidCredentialsError('user-token', 'missing')
      return personCaller(token, DIRECT, verifiers, { direct: true })
    })
  },

  lockOut: lockOutPerson,
  idempotencyOwner: (caller) => `user:${caller.userId}`,
  person: loginOf,

  endSession(c, verifiers) {
    const { name, secure } = verifiers.sessionCookie
    c.header('Set-Cookie', expiredSessionCookie(name, secure), { append: true })
  },
}
