import { InvalidCredentialsError } from '../../auth/auth-errors.js'
import { bearerToken } from '../../auth/compact-jwt.js'
import type { Caller } from '../../deletion/caller.js'
import { bearerChallenge } from './bearer-challenge.js'
import type { CredentialScheme } from './credential-scheme.js'
import { MANAGED_USER_PARAMETER } from './gateway-and-user-token.js'
import { lockOutPerson, loginOf, personCaller, refusedAsUnauthorized, withManagedUser } from './person-token.js'

/** The consumer a caller of this scheme acts through: there is no gateway, the person calls directly. */
const DIRECT = 'keycloak-bearer'

/**
 * The person's Keycloak access token alone, in `Authorization: Bearer …` (no gateway token), as
 * REST clients of other deletion APIs send it; a managing parent adds the managed user's token in
 * X-Authenticated-For as on the Sunbird route. Verified, parsed and locked out exactly as the
 * Sunbird route's user token. An Idempotency-Key belongs to the person.
 */
export const keycloakBearer: CredentialScheme<Caller> = {
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
    return refusedAsUnauthorized(async () => {
      const token = bearerToken(c.req.header('authorization'))
      if (!token) throw new InvalidCredentialsError('user-token', 'missing')
      return withManagedUser(await personCaller(token, DIRECT, verifiers, { direct: true }), c.req.header('x-authenticated-for'), verifiers)
    })
  },

  lockOut: lockOutPerson,
  challenge: bearerChallenge,
  idempotencyOwner: (caller) => `user:${caller.userId}`,
  person: loginOf,
}
