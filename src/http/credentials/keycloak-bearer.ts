import { InvalidCredentialsError } from '../../auth/auth-errors.js'
import { bearerToken } from '../../auth/compact-jwt.js'
import { ApiError } from '../api-error.js'
import { bearerChallenge } from './bearer-challenge.js'
import type { CredentialScheme } from './credential-scheme.js'
import { refuseMalformedBearer } from './malformed-bearer.js'
import { MANAGED_USER_PARAMETER } from './gateway-and-user-token.js'
import { carriesRefusal, lockOutPerson, loginOf, type PersonPrincipal, personCaller, refusedAsUnauthorized, withManagedUser } from './person-token.js'

/**
 * X-Authenticated-For refused while the person's own token is valid: 403, not the 401 whose
 * `invalid_token` challenge would blame the access token (RFC 6750 §3.1), which the client would
 * then refresh and send again in vain. The reason goes to the log only.
 */
function managedUserTokenRefused(reason: string): ApiError {
  return new ApiError('MANAGED_USER_TOKEN_REFUSED', { reason })
}

/** The consumer a caller of this scheme acts through: there is no gateway, the person calls directly. */
const DIRECT = 'keycloak-bearer'

/**
 * The person's Keycloak access token alone, in `Authorization: Bearer …` (no gateway token), as
 * REST clients of other deletion APIs send it; a managing parent adds the managed user's token in
 * X-Authenticated-For as on the Sunbird route. Verified, parsed and locked out exactly as the
 * Sunbird route's user token; a refused X-Authenticated-For is its own 403, told by the lock-out
 * once it has judged the person. An Idempotency-Key belongs to the person.
 */
export const keycloakBearer: CredentialScheme<PersonPrincipal> = {
  name: 'keycloak-bearer',
  headers: ['Authorization', 'X-Authenticated-For'],
  openApi: {
    security: [{ keycloakBearer: [] }],
    securitySchemes: {
      keycloakBearer: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          "The person's Keycloak access token itself (`Authorization: Bearer …`), no gateway token: verified and parsed as strictly as Sunbird's `X-Authenticated-User-token` (RS256, the realm's issuer, `sub` a plain id or `f:<provider>:<id>`); a deleted person's token is refused; with `USER_TOKEN_DIRECT_CLIENTS` set, so is one issued to another client (`azp`) of the realm.",
      },
    },
    parameters: { 'X-Authenticated-For': MANAGED_USER_PARAMETER },
  },

  async authenticate(c, verifiers) {
    refuseMalformedBearer(c.req.header('authorization'))
    const caller = await refusedAsUnauthorized(async () => {
      const token = bearerToken(c.req.header('authorization'))
      if (!token) throw new InvalidCredentialsError('user-token', 'missing')
      return personCaller(token, DIRECT, verifiers, { direct: true })
    })
    try {
      return await withManagedUser(caller, c.req.header('x-authenticated-for'), verifiers)
    } catch (err) {
      if (!(err instanceof InvalidCredentialsError)) throw err
      // Carried to the lock-out, which judges the person with the operation's options first.
      return { ...caller, managedUserRefusal: err.message }
    }
  },

  lockOut: (caller, verifiers, options) => lockOutPerson(caller, verifiers, options, managedUserTokenRefused),
  refusedAtLockOut: carriesRefusal,
  challenge: bearerChallenge,
  idempotencyOwner: (caller) => `user:${caller.userId}`,
  person: loginOf,
}
