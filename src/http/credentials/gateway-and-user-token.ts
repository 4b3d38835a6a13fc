import type { ApiConsumerCheck } from '../../auth/api-consumer-verifier.js'
import { bearerToken } from '../../auth/compact-jwt.js'
import type { Context } from 'hono'
import type { Caller } from '../../deletion/caller.js'
import type { AppEnv } from '../app-env.js'
import type { CredentialScheme, Verifiers } from './credential-scheme.js'
import { lockOutPerson, loginOf, personCaller, refusedAsUnauthorized, refusedCredential, withManagedUser } from './person-token.js'

/** X-Authenticated-For, as every scheme that takes it documents it. */
export const MANAGED_USER_PARAMETER = {
  name: 'X-Authenticated-For',
  in: 'header',
  required: false,
  description:
    "A managed child's Keycloak token, sent by its managing parent to delete the child: its `parentId` must be the requester and its subject the target (both read like the user token's `sub`).",
  schema: { type: 'string' },
}

/** The gateway consumer JWT, as every scheme that takes it documents it. */
export const API_BEARER_SECURITY_SCHEME = {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
  description:
    "The gateway consumer JWT (`Authorization: Bearer …`), verified as Kong's jwt plugin does: `iss` names the consumer, `exp` required, the consumer's algorithm (HS256 or RS256). Parsed strictly, as every token here: no member name twice, no `crit`, time claims that are finite numbers, `iat` at most the clock skew ahead.",
}

/** No Authorization bearer at all: refused like any other API bearer that does not verify. */
const MISSING: ApiConsumerCheck = { refusal: 'missing' }

/**
 * The gateway consumer JWT of `Authorization: Bearer …`, verified (Kong's jwt plugin rules): the
 * consumer and whether it is trusted with `deleteAnyUser`, or why it is refused (`missing` when
 * there is none), as a value: the scheme throws the one 401. Every scheme that takes the API
 * bearer reads it here.
 */
export function checkedApiConsumer(c: Context<AppEnv>, verifiers: Verifiers): ApiConsumerCheck {
  const apiToken = bearerToken(c.req.header('authorization'))
  return apiToken ? verifiers.apiConsumers.check(apiToken) : MISSING
}

/**
 * Sunbird's two credentials, in the contract's order: the gateway consumer JWT in Authorization,
 * then the end user's Keycloak token in X-Authenticated-User-token, then (when sent) the managed
 * user's token in X-Authenticated-For. All three are parsed by the same strict rules
 * (src/auth/compact-jwt.ts, src/auth/token-subject.ts). A token of a deleted user is refused like
 * a forged one (lockOut): deletion locks the person out at once, not when their token expires. Any
 * failure is the same 401 UOS_0070; the reason goes to the log. An Idempotency-Key belongs to the
 * consumer.
 */
export const gatewayAndUserToken: CredentialScheme<Caller> = {
  name: 'gateway-and-user-token',
  headers: ['Authorization', 'X-Authenticated-User-Token', 'X-Authenticated-For'],
  openApi: {
    security: [{ apiBearer: [], userToken: [] }],
    securitySchemes: {
      apiBearer: API_BEARER_SECURITY_SCHEME,
      userToken: {
        type: 'apiKey',
        in: 'header',
        name: 'X-Authenticated-User-token',
        description:
          "The end user's Keycloak access token (RS256, `typ: Bearer`, issuer = the realm), parsed as strictly as the gateway JWT. The user id is `sub` when it is a plain id, or `<id>` of exactly `f:<provider>:<id>`; a subject of any other shape is refused.",
      },
    },
    parameters: { 'X-Authenticated-For': MANAGED_USER_PARAMETER },
  },

  authenticate(c, verifiers) {
    // The API bearer and the presence of the user token need no waiting: checked, and refused,
    // synchronously, without the promises of an async check, which every refused request would pay for.
    const apiConsumer = checkedApiConsumer(c, verifiers)
    if ('refusal' in apiConsumer) throw refusedCredential('api-bearer', apiConsumer.refusal)
    const userToken = c.req.header('x-authenticated-user-token')?.trim()
    if (!userToken) throw refusedCredential('user-token', 'missing')
    const { consumer } = apiConsumer
    return refusedAsUnauthorized(async () => withManagedUser(await personCaller(userToken, consumer, verifiers), c.req.header('x-authenticated-for'), verifiers))
  },

  lockOut: lockOutPerson,
  // The person within the consumer: everyone behind one portal shares its consumer, and a key
  // replays its first answer before the lock-out and authorization, so it must not reach another person's.
  idempotencyOwner: (caller) => (caller.deleteAnyUser ? `consumer:${caller.consumer}` : `consumer:${caller.consumer}|user:${caller.userId}`),
  person: loginOf,
}
