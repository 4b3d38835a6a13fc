import { signApiBearer, signJwt, signJwtText } from '../../scripts/lib/sign-jwt.js'
import { LOCAL_CONSUMER, LOCAL_DELETE_ANY_USER_CONSUMER } from './harness.js'
import { ISSUER } from './test-env.js'
import { createRealmKeys, mintUserToken, type RealmKeys } from './user-tokens.js'

/** The client the security suite's service lists in USER_TOKEN_DIRECT_CLIENTS is the test tokens' own (`portal`); this one is not listed. */
export const DIRECT_TOKEN_CLIENTS = ['portal']
const OTHER_CLIENT = 'another-app-of-the-realm'

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
  /**
   * Whether those 401s challenge for a bearer token (RFC 6750 `WWW-Authenticate`): the REST routes
   * that take `Authorization: Bearer`. Not the Sunbird routes (frozen) nor the session cookie.
   */
  bearerChallenge: boolean
}

const now = () => Math.floor(Date.now() / 1000)
const bearer = (token: string) => `Bearer ${token}`
const validBearer = () => bearer(signApiBearer(LOCAL_CONSUMER.key, LOCAL_CONSUMER.secret))
const userToken = (world: CredentialWorld, sub: string, claims: Record<string, unknown> = {}) => mintUserToken(world.keys, ISSUER, { sub, ...claims })
/** Signed by a key the service does not trust, under the kid of one it does. */
const forgedUserToken = (world: CredentialWorld, sub: string, claims: Record<string, unknown> = {}) => mintUserToken(createRealmKeys(world.keys.kid), ISSUER, { sub, ...claims })

/**
 * A user token correctly signed by the trusted key whose payload is the given members as JSON text
 * (after the usual claims), and whose header may carry more: for what JSON.stringify cannot write
 * (a member twice, 1e400). Only the strict parsing rules can refuse it.
 */
const rawUserToken = (world: CredentialWorld, payloadMembers: string, headerMembers = '') =>
  signJwtText(
    `{"alg":"RS256","typ":"JWT","kid":${JSON.stringify(world.keys.kid)}${headerMembers}}`,
    `{"iss":${JSON.stringify(ISSUER)},"typ":"Bearer","azp":"portal","iat":${now()},"exp":${now() + 600}${payloadMembers}}`,
    { rs256: world.keys.privateKey },
  )
/** The API bearer of the local consumer, correctly signed, with header and payload members added as JSON text. */
const rawBearer = (payloadMembers: string, headerMembers = '') =>
  bearer(signJwtText(`{"alg":"HS256","typ":"JWT"${headerMembers}}`, `{"iss":${JSON.stringify(LOCAL_CONSUMER.key)},"exp":${now() + 600}${payloadMembers}}`, { hs256: LOCAL_CONSUMER.secret }))

/** Sunbird's two credentials: the gateway consumer JWT and the person's user token. */
const gatewayAndUserTokenCases: SchemeCases = {
  bearerChallenge: false,
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
    // The strict parsing rules (src/auth/compact-jwt.ts, token-subject.ts): each token below is
    // signed by a trusted key and would name the active user if it were read leniently.
    {
      name: 'user token naming sub twice (last-wins would read the active user)',
      headers: (world) => ({ authorization: validBearer(), 'x-authenticated-user-token': rawUserToken(world, `,"sub":"someone-else","sub":${JSON.stringify(world.activeUserId)}`) }),
    },
    {
      name: 'user token with a crit header',
      headers: (world) => ({ authorization: validBearer(), 'x-authenticated-user-token': rawUserToken(world, `,"sub":${JSON.stringify(world.activeUserId)}`, ',"crit":["exp"]') }),
    },
    {
      name: 'user token issued an hour in the future (iat beyond the clock skew)',
      headers: (world) => ({ authorization: validBearer(), 'x-authenticated-user-token': userToken(world, world.activeUserId, { iat: now() + 3600 }) }),
    },
    {
      name: 'user token whose nbf is -1e400 (not a finite number)',
      headers: (world) => ({ authorization: validBearer(), 'x-authenticated-user-token': rawUserToken(world, `,"sub":${JSON.stringify(world.activeUserId)},"nbf":-1e400`) }),
    },
    {
      name: 'user token whose sub is f:a:<someone>:<the active user> (not one of the two subject shapes)',
      headers: (world) => ({ authorization: validBearer(), 'x-authenticated-user-token': userToken(world, `f:a:someone:${world.activeUserId}`) }),
    },
    {
      name: 'API bearer with a crit header',
      headers: (world) => ({ authorization: rawBearer('', ',"crit":["x-unknown"]'), 'x-authenticated-user-token': userToken(world, world.activeUserId) }),
    },
    {
      name: 'API bearer naming iss twice',
      headers: (world) => ({ authorization: rawBearer(`,"iss":${JSON.stringify(LOCAL_CONSUMER.key)}`), 'x-authenticated-user-token': userToken(world, world.activeUserId) }),
    },
    {
      name: 'X-Authenticated-For naming sub twice',
      headers: (world) => ({
        authorization: validBearer(),
        'x-authenticated-user-token': userToken(world, world.activeUserId),
        'x-authenticated-for': rawUserToken(world, `,"sub":${JSON.stringify(world.activeUserId)},"sub":"someone-else","parentId":${JSON.stringify(world.activeUserId)}`),
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
}

/** The gateway consumer JWT alone, of the consumer trusted with `deleteAnyUser`. */
const trustedConsumerBearer = (claims: Record<string, unknown> = {}, secret = LOCAL_DELETE_ANY_USER_CONSUMER.secret) =>
  bearer(signJwt({ alg: 'HS256', typ: 'JWT' }, { iss: LOCAL_DELETE_ANY_USER_CONSUMER.key, exp: now() + 60, ...claims }, { hs256: secret }))

/**
 * The refusal cases of each credential scheme, by the scheme's name (CredentialScheme.name). The
 * shared security suite runs every case against every operation that uses the scheme; a new scheme
 * adds its entry here, and the suite fails for an operation whose scheme has none.
 */
export const credentialCases: Record<string, SchemeCases> = {
  'gateway-and-user-token': gatewayAndUserTokenCases,
  'gateway-and-user-token-or-trusted-consumer': {
    bearerChallenge: false,
    valid: gatewayAndUserTokenCases.valid,
    refused: [
      ...gatewayAndUserTokenCases.refused,
      { name: 'the trusted consumer’s API bearer alone, forged (wrong secret)', headers: () => ({ authorization: trustedConsumerBearer({}, 'not-the-consumer-secret-at-all') }) },
      { name: 'the trusted consumer’s API bearer alone, expired', headers: () => ({ authorization: trustedConsumerBearer({ exp: now() - 5 }) }) },
    ],
  },
  'keycloak-bearer': {
    bearerChallenge: true,
    valid: (world) => ({ authorization: bearer(userToken(world, world.activeUserId)) }),
    refused: [
      { name: 'no credentials at all', headers: () => ({}) },
      { name: 'the token in X-Authenticated-User-token instead of Authorization', headers: (world) => ({ 'x-authenticated-user-token': userToken(world, world.activeUserId) }) },
      { name: 'a gateway consumer JWT instead of a person’s token', headers: () => ({ authorization: validBearer() }) },
      { name: 'token forged (another key under the realm kid)', headers: (world) => ({ authorization: bearer(forgedUserToken(world, world.activeUserId)) }) },
      { name: 'token expired', headers: (world) => ({ authorization: bearer(userToken(world, world.activeUserId, { exp: now() - 5 })) }) },
      { name: 'token of a deleted user', headers: (world) => ({ authorization: bearer(userToken(world, world.deletedUserId)) }) },
      { name: 'token issued to a client not in USER_TOKEN_DIRECT_CLIENTS', headers: (world) => ({ authorization: bearer(userToken(world, world.activeUserId, { azp: OTHER_CLIENT })) }) },
      { name: 'token with no azp', headers: (world) => ({ authorization: bearer(userToken(world, world.activeUserId, { azp: undefined })) }) },
      { name: 'token naming sub twice', headers: (world) => ({ authorization: bearer(rawUserToken(world, `,"sub":"someone-else","sub":${JSON.stringify(world.activeUserId)}`)) }) },
      { name: 'token with a crit header', headers: (world) => ({ authorization: bearer(rawUserToken(world, `,"sub":${JSON.stringify(world.activeUserId)}`, ',"crit":["exp"]')) }) },
      // A refused X-Authenticated-For beside a valid person's token is no 401 here but its own 403
      // (test/integration/rest-bearer-auth.test.ts): the access token is not at fault.
    ],
  },
  'gateway-consumer': {
    bearerChallenge: true,
    valid: () => ({ authorization: trustedConsumerBearer() }),
    refused: [
      { name: 'no credentials at all', headers: () => ({}) },
      {
        name: 'JWT forged (wrong secret)',
        headers: () => ({ authorization: trustedConsumerBearer({}, 'not-the-consumer-secret-at-all') }),
      },
      {
        name: 'JWT expired',
        headers: () => ({ authorization: trustedConsumerBearer({ exp: now() - 5 }) }),
      },
      { name: 'a person’s Keycloak token instead of a consumer JWT', headers: (world) => ({ authorization: bearer(userToken(world, world.activeUserId)) }) },
      {
        name: 'JWT naming iss twice',
        headers: () => ({
          authorization: bearer(
            signJwtText('{"alg":"HS256","typ":"JWT"}', `{"iss":${JSON.stringify(LOCAL_CONSUMER.key)},"iss":${JSON.stringify(LOCAL_DELETE_ANY_USER_CONSUMER.key)},"exp":${now() + 600}}`, {
              hs256: LOCAL_DELETE_ANY_USER_CONSUMER.secret,
            }),
          ),
        }),
      },
    ],
  },
  'session-cookie': {
    bearerChallenge: false,
    valid: (world) => ({ cookie: `neptun-session=${userToken(world, world.activeUserId)}` }),
    refused: [
      { name: 'no credentials at all', headers: () => ({}) },
      { name: 'the token in Authorization instead of the cookie', headers: (world) => ({ authorization: bearer(userToken(world, world.activeUserId)) }) },
      { name: 'the token in a cookie of another name', headers: (world) => ({ cookie: `session=${userToken(world, world.activeUserId)}` }) },
      { name: 'cookie token forged (another key under the realm kid)', headers: (world) => ({ cookie: `neptun-session=${forgedUserToken(world, world.activeUserId)}` }) },
      { name: 'cookie token expired', headers: (world) => ({ cookie: `neptun-session=${userToken(world, world.activeUserId, { exp: now() - 5 })}` }) },
      { name: 'cookie token of a deleted user', headers: (world) => ({ cookie: `neptun-session=${userToken(world, world.deletedUserId)}` }) },
      { name: 'cookie token issued to a client not in USER_TOKEN_DIRECT_CLIENTS', headers: (world) => ({ cookie: `neptun-session=${userToken(world, world.activeUserId, { azp: OTHER_CLIENT })}` }) },
      { name: 'cookie token with no azp', headers: (world) => ({ cookie: `neptun-session=${userToken(world, world.activeUserId, { azp: undefined })}` }) },
      { name: 'cookie token naming sub twice', headers: (world) => ({ cookie: `neptun-session=${rawUserToken(world, `,"sub":"someone-else","sub":${JSON.stringify(world.activeUserId)}`)}` }) },
    ],
  },
}
