import { signApiBearer, signJwt } from '../../scripts/lib/sign-jwt.js'
import { LOCAL_CONSUMER } from './harness.js'
import { ISSUER } from './test-env.js'
import { createRealmKeys, mintUserToken, type RealmKeys } from './user-tokens.js'

/** What a case builds its credentials from: the realm keys the service trusts, and users in the store. */
export interface CredentialWorld {
  keys: RealmKeys
  /** An active user: their token is valid. */
  activeUserId: string
  /** A user deleted in the store: their token, still within exp, must be refused. */
  deletedUserId: string
}

/** One way a credential goes wrong, as headers to send. */
export interface CredentialCase {
  name: string
  headers(world: CredentialWorld): Record<string, string>
}

export interface SchemeCases {
  /** Credentials that verify, for the positive control (the same request is then not a 401). */
  valid(world: CredentialWorld): Record<string, string>
  /** Missing, forged, expired and deleted-user credentials: every one must answer UNAUTHORIZED. */
  refused: CredentialCase[]
}

const now = () => Math.floor(Date.now() / 1000)
const bearer = (token: string) => `Bearer ${token}`
const validBearer = () => bearer(signApiBearer(LOCAL_CONSUMER.key, LOCAL_CONSUMER.secret))
const userToken = (world: CredentialWorld, sub: string, claims: Record<string, unknown> = {}) => mintUserToken(world.keys, ISSUER, { sub, ...claims })
/** Signed by a key the service does not trust, under the kid of one it does. */
const forgedUserToken = (world: CredentialWorld, sub: string, claims: Record<string, unknown> = {}) => mintUserToken(createRealmKeys(world.keys.kid), ISSUER, { sub, ...claims })

/**
 * The refusal cases of each credential scheme, by the scheme's name (CredentialScheme.name). The
 * shared security suite runs every case against every operation that uses the scheme; a new scheme
 * adds its entry here, and the suite fails for an operation whose scheme has none.
 */
export const credentialCases: Record<string, SchemeCases> = {
  'gateway-and-user-token': {
    valid: (world) => ({ authorization: validBearer(), 'x-authenticated-user-token': userToken(world, world.activeUserId) }),
    refused: [
      { name: 'no credentials at all', headers: () => ({}) },
      { name: 'API bearer missing', headers: (world) => ({ 'x-authenticated-user-token': userToken(world, world.activeUserId) }) },
      { name: 'user token missing', headers: () => ({ authorization: validBearer() }) },
      {
        name: 'API bearer forged (wrong secret)',
        headers: (world) => ({
          authorization: bearer(signJwt({ alg: 'HS256', typ: 'JWT' }, { iss: LOCAL_CONSUMER.key, exp: now() + 60 }, { hs256: 'not-the-consumer-secret-at-all' })),
          'x-authenticated-user-token': userToken(world, world.activeUserId),
        }),
      },
      {
        name: 'API bearer expired',
        headers: (world) => ({
          authorization: bearer(signJwt({ alg: 'HS256', typ: 'JWT' }, { iss: LOCAL_CONSUMER.key, exp: now() - 5 }, { hs256: LOCAL_CONSUMER.secret })),
          'x-authenticated-user-token': userToken(world, world.activeUserId),
        }),
      },
      { name: 'user token forged (another key under the realm kid)', headers: (world) => ({ authorization: validBearer(), 'x-authenticated-user-token': forgedUserToken(world, world.activeUserId) }) },
      { name: 'user token expired', headers: (world) => ({ authorization: validBearer(), 'x-authenticated-user-token': userToken(world, world.activeUserId, { exp: now() - 5 }) }) },
      { name: 'user token of a deleted user', headers: (world) => ({ authorization: validBearer(), 'x-authenticated-user-token': userToken(world, world.deletedUserId) }) },
      {
        name: 'X-Authenticated-For forged',
        headers: (world) => ({
          authorization: validBearer(),
          'x-authenticated-user-token': userToken(world, world.activeUserId),
          'x-authenticated-for': forgedUserToken(world, world.deletedUserId, { parentId: world.activeUserId }),
        }),
      },
      {
        name: 'X-Authenticated-For of a deleted user',
        headers: (world) => ({
          authorization: validBearer(),
          'x-authenticated-user-token': userToken(world, world.activeUserId),
          'x-authenticated-for': userToken(world, world.deletedUserId, { parentId: world.activeUserId }),
        }),
      },
    ],
  },
}
