import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { signJwtText } from '../../../scripts/lib/sign-jwt.js'
import { ApiConsumerVerifier } from '../../../src/auth/api-consumer-verifier.js'
import { InvalidCredentialsError } from '../../../src/auth/auth-errors.js'
import { PemKeySource } from '../../../src/auth/pem-key-source.js'
import { UserTokenVerifier } from '../../../src/auth/user-token-verifier.js'
import { gatewayAndUserTokenOrTrustedConsumer } from '../../../src/http/credentials/gateway-and-user-token-or-trusted-consumer.js'
import { gatewayAndUserToken } from '../../../src/http/credentials/gateway-and-user-token.js'
import type { Operation } from '../../../src/http/operation.js'
import { operations } from '../../../src/http/operations/index.js'
import { userDelete } from '../../../src/http/operations/user-delete.js'
import { appOverFakes, FAKE_CONSUMER, FAKE_ISSUER, FAKE_SSO_URL } from '../../support/fakes/app-over-fakes.js'
import { documentedAnswer } from './documented-answer.js'

/**
 * The token parser: any string is either a verified token or an InvalidCredentialsError (never
 * another exception), and through the app any token, however it is built and even when signed by
 * the trusted key, yields a documented answer; only a token that names the user in one of the two
 * subject shapes, with sound time claims, can delete that user, and every refusal writes nothing.
 * The "any string" properties run against every operation of the API that needs credentials.
 */

const ME = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const OTHER = '0b1c2d3e-4f50-4617-8899-aabbccddeeff'
const now = () => Math.floor(Date.now() / 1000)
const b64url = (text: string) => Buffer.from(text).toString('base64url')

const base64urlPart = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')), maxLength: 60 })
/** Strings shaped more or less like compact JWTs: random parts, random JSON in them, or anything. */
const tokenLike = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 120 }),
  fc.tuple(base64urlPart, base64urlPart, base64urlPart).map((parts) => parts.join('.')),
  fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), base64urlPart).map(([h, p, s]) => `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(p))}.${s}`),
  fc.array(base64urlPart, { minLength: 0, maxLength: 6 }).map((parts) => parts.join('.')),
)

/** What a header can carry on the wire (no NUL, CR or LF; bytes, not wider characters). */
const headerSafe = tokenLike.filter((raw) => /^[\t\x20-\x7e\x80-\xff]*$/.test(raw))

/** A time claim as JSON text: mostly near now (within `offsets` seconds), sometimes anything a sender could write. */
const timeClaim = (offsets: { min: number; max: number }) =>
  fc.oneof(
    { arbitrary: fc.integer(offsets).map((offset) => String(now() + offset)), weight: 4 },
    fc.integer({ min: -2_000_000_000, max: 4_000_000_000 }).map(String),
    fc.constantFrom('1e400', '-1e400', '0', '-0', '1.5', 'null', 'true', '"1700000000"', '[]', '{}'),
  )
const subjects = fc.oneof(
  // Weighted so that sound tokens, the ones that may delete, come up often enough to be checked too.
  { arbitrary: fc.constantFrom(ME, `f:sunbird-fed:${ME}`), weight: 4 },
  fc.constantFrom(`f:a:${OTHER}:${ME}`, `f:a:${ME}:${OTHER}`, `f::${ME}`, `:${ME}`, `${ME}:`, ` ${ME}`, OTHER, `f:p:${OTHER}`),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })).map(([a, b]) => `${a}:${b}:${ME}`),
)

/** Claims (as JSON text members) with any sub and any time claims; sometimes a crit header or a repeated member. */
const signedByTrustedKey = fc.record({
  sub: subjects,
  exp: fc.option(timeClaim({ min: -120, max: 900 }), { nil: undefined }),
  nbf: fc.option(timeClaim({ min: -600, max: 120 }), { nil: undefined }),
  iat: fc.option(timeClaim({ min: -600, max: 120 }), { nil: undefined }),
  crit: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, fc.jsonValue({ maxDepth: 1 })),
  repeat: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, fc.constantFrom('sub', 'exp', 'iss', 'typ')),
})

type Generated = typeof signedByTrustedKey extends fc.Arbitrary<infer T> ? T : never

function memberList(claims: Generated): string[] {
  const members = [`"iss":${JSON.stringify(FAKE_ISSUER)}`, '"typ":"Bearer"', '"azp":"portal"', `"sub":${JSON.stringify(claims.sub)}`]
  for (const claim of ['exp', 'nbf', 'iat'] as const) if (claims[claim] !== undefined) members.push(`"${claim}":${claims[claim]}`)
  if (claims.repeat) members.push(members.find((member) => member.startsWith(`"${claims.repeat}":`)) ?? `"${claims.repeat}":1`)
  return members
}

/**
 * Whether a token could soundly act for the user: no crit, no repeated member, finite time claims
 * with exp ahead, nbf passed and iat within the 60 s skew, and a sub naming the user in one of the
 * two shapes. Lenient by a few seconds at the time edges, since the service reads its clock a
 * moment after `at`: the property is "a deletion implies this", so the oracle must not be stricter.
 */
function mayActForMe(claims: Generated, at: number): boolean {
  const number = (literal: string | undefined) => (literal === undefined ? undefined : Number(JSON.parse(literal)))
  const isNumber = (literal: string | undefined) => literal === undefined || typeof JSON.parse(literal) === 'number'
  if (claims.crit !== undefined || claims.repeat !== undefined) return false
  if (![claims.exp, claims.nbf, claims.iat].every(isNumber) || claims.exp === undefined) return false
  const [exp, nbf, iat] = [number(claims.exp), number(claims.nbf), number(claims.iat)]
  if (![exp, nbf, iat].every((value) => value === undefined || Number.isFinite(value))) return false
  if ((exp as number) <= at - 1 || (nbf !== undefined && nbf > at + 5) || (iat !== undefined && iat > at + 60 + 5)) return false
  return claims.sub === ME || claims.sub === `f:sunbird-fed:${ME}` || /^f:[A-Za-z0-9._-]{1,64}:5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41$/.test(claims.sub)
}

describe('the verifiers on any string', () => {
  const fakes = appOverFakes()
  const userTokens = new UserTokenVerifier({ ssoUrl: FAKE_SSO_URL, realm: 'sunbird', keys: new PemKeySource(fakes.realm.dir) })
  const apiConsumers = new ApiConsumerVerifier([{ key: FAKE_CONSUMER.key, algorithm: 'HS256', secret: FAKE_CONSUMER.secret }])

  it('when any string is presented as a user, managed-user or API token, then it is refused (InvalidCredentialsError; for the API token, a refusal returned) and nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(tokenLike, async (raw) => {
        for (const credential of ['user-token', 'for-token'] as const) {
          const outcome = await userTokens.verify(raw, credential).then(
            () => 'accepted',
            (err: unknown) => err,
          )
          expect(outcome).toBeInstanceOf(InvalidCredentialsError)
        }
        expect(apiConsumers.check(raw)).toEqual({ refusal: expect.any(String) })
      }),
      { numRuns: 500 },
    )
  })
})

/** Every operation that needs credentials, each with a body its schema accepts, so only the credentials can refuse. */
// The properties below send this scheme's headers (the gateway JWT, X-Authenticated-User-token, X-Authenticated-For);
// with a user token sent, the scheme that also admits a trusted consumer alone is this one.
const authenticated = operations.filter((operation) => operation.credentials === gatewayAndUserToken || operation.credentials === gatewayAndUserTokenOrTrustedConsumer)

describe('any token through the app', () => {
  const fakes = appOverFakes({ seed: [{ id: ME }, { id: OTHER }] })
  const post = (operation: Operation, headers: Record<string, string>) =>
    fakes.app.request(operation.paths[0], {
      method: operation.method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${fakes.apiBearer}`, ...headers },
      body: JSON.stringify({ request: { userId: ME } }),
    })

  it('when the operation list is read, then the authenticated operations are found (the properties below are not vacuous)', () => {
    expect(authenticated.map((operation) => operation.id)).toEqual(expect.arrayContaining(['api.user.delete', 'api.user.delete.status']))
  })

  it('when the user token is any string, then every authenticated operation answers 401 UOS_0070 and nothing is written', async () => {
    await fc.assert(
      fc.asyncProperty(headerSafe, fc.constantFrom(...authenticated), async (raw, operation) => {
        const world = fakes.reset()

        const answer = await documentedAnswer(await post(operation, { 'x-authenticated-user-token': raw }), operation)

        expect(answer.kind === 'error' ? answer.code : answer.kind).toBe('UNAUTHORIZED')
        expect(world.timeline.writes()).toEqual([])
      }),
      { numRuns: 200 },
    )
  }, 60_000)

  it('when the API bearer or the X-Authenticated-For token is any string, then every authenticated operation answers 401 UOS_0070 and nothing is written', async () => {
    const userToken = fakes.userToken({ sub: ME })
    await fc.assert(
      fc.asyncProperty(
        headerSafe.filter((raw) => raw.trim() !== ''),
        fc.boolean(),
        fc.constantFrom(...authenticated),
        async (raw, asBearer, operation) => {
          const world = fakes.reset()
          const headers: Record<string, string> = asBearer
            ? { authorization: `Bearer ${raw}`, 'x-authenticated-user-token': userToken }
            : { 'x-authenticated-user-token': userToken, 'x-authenticated-for': raw }

          const answer = await documentedAnswer(await post(operation, headers), operation)

          expect(answer.kind === 'error' ? answer.code : answer.kind).toBe('UNAUTHORIZED')
          expect(world.timeline.writes()).toEqual([])
        },
      ),
      { numRuns: 200 },
    )
  }, 60_000)

  it('when a token signed by the trusted key carries any subject and time claims, then only one that names the user soundly deletes the user, and every refusal writes nothing', async () => {
    const header = `{"alg":"RS256","typ":"JWT","kid":${JSON.stringify(fakes.realm.kid)}}`
    let deleted = 0
    let refused = 0
    await fc.assert(
      fc.asyncProperty(signedByTrustedKey, async (claims) => {
        // Arrange
        const world = fakes.reset()
        const headerText = claims.crit === undefined ? header : `${header.slice(0, -1)},"crit":${JSON.stringify(claims.crit)}}`
        const token = signJwtText(headerText, `{${memberList(claims).join(',')}}`, { rs256: fakes.realm.privateKey })
        const at = now()

        // Act
        const answer = await documentedAnswer(await post(userDelete, { 'x-authenticated-user-token': token }), userDelete)

        // Assert: a 200 only for a token that may act for the user; anything else refused, with no write.
        if (answer.kind === 'ok') {
          deleted += 1
          expect(mayActForMe(claims, at), JSON.stringify(claims)).toBe(true)
          expect(world.users.calls.some((call) => call.method === 'markDeleted')).toBe(true)
        } else {
          refused += 1
          expect(world.timeline.writes(), JSON.stringify(claims)).toEqual([])
        }
        // Whatever the claims, the other user is never touched.
        expect(world.timeline.entries.filter((entry) => entry.includes(OTHER))).toEqual([])
      }),
      { numRuns: 400 },
    )
    // Both sides of the property were exercised, not only refusals.
    console.log(`trusted-key tokens: ${deleted} deleted the user, ${refused} refused`)
    expect(deleted).toBeGreaterThan(10)
    expect(refused).toBeGreaterThan(100)
  }, 120_000)
})
