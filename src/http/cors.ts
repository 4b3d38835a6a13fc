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
}

/** No preflight: the probes are not called from browsers. */
export const noPreflight: CorsPolicy = {}

/** The portal calls the Sunbird routes straight from the browser: answer its preflight as a gateway would. */
export const portalCors: CorsPolicy = { preflight: { headers: ['X-Channel-Id', 'X-Device-Id', 'X-App-Id'], maxAgeSeconds: 600 } }
