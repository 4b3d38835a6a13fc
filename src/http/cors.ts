import type { Context } from 'hono'
import type { AppEnv } from './app-env.js'

/**
 * How browsers may call an operation. Every answer carries `Access-Control-Allow-Origin: *`, as
 * Sunbird's gateway sends it (request-context.ts), unless the operation sets its own. A policy with
 * a preflight also answers OPTIONS on the operation's paths.
 */
export interface CorsPolicy {
  readonly preflight?: {
    /** Headers allowed beyond Content-Type, the request id headers and the credential scheme's own. */
    readonly headers: readonly string[]
    readonly maxAgeSeconds: number
  }
  /**
   * Credentialed calls (a cookie): never `*`; an origin of SESSION_ALLOWED_ORIGINS gets itself back
   * with `Access-Control-Allow-Credentials: true`, any other origin (or none) neither; every answer `Vary: Origin`.
   */
  readonly credentialed?: boolean
  /** Answer headers a browser script may read (`Access-Control-Expose-Headers`); none beyond the CORS-safelisted ones when absent. */
  readonly exposeHeaders?: readonly string[]
}

/**
 * What the REST dialects' browser clients read from an answer: the request id the docs tell them to
 * quote, when to retry (503, 429), what login a step-up asks for, and whether an answer is a replay.
 * The Sunbird routes send none: their callers see the headers Sunbird's gateway sends.
 */
export const REST_EXPOSED = ['X-Request-Id', 'Retry-After', 'WWW-Authenticate', 'Idempotent-Replayed']

/** No preflight: the probes are not called from browsers. */
export const noPreflight: CorsPolicy = {}

/** The portal calls the Sunbird routes straight from the browser: answer its preflight as a gateway would. */
export const portalCors: CorsPolicy = { preflight: { headers: ['X-Channel-Id', 'X-Device-Id', 'X-App-Id'], maxAgeSeconds: 600 } }

/** A REST route a browser app calls with a bearer token: the preflight, `*` on answers. */
export const bearerCors: CorsPolicy = { preflight: { headers: [], maxAgeSeconds: 600 }, exposeHeaders: REST_EXPOSED }

/** The session-cookie route: credentialed CORS for the allowed origins only. */
export const credentialedCors: CorsPolicy = { preflight: { headers: [], maxAgeSeconds: 600 }, credentialed: true, exposeHeaders: REST_EXPOSED }

/** The CORS headers of a credentialed answer (or preflight): the caller's origin when allowed, and `Vary: Origin` always. */
export function setCredentialedCors(c: Context<AppEnv>, allowedOrigins: readonly string[], headers: Headers): void {
  c.set('credentialedCors', true)
  headers.append('Vary', 'Origin')
  const origin = c.req.header('origin')
  if (origin === undefined || !allowedOrigins.includes(origin)) return
  headers.set('Access-Control-Allow-Origin', origin)
  headers.set('Access-Control-Allow-Credentials', 'true')
}
