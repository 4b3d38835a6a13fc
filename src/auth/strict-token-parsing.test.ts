import { describe, expect, it } from 'vitest'
import { signJwtText } from '../../scripts/lib/sign-jwt.js'
import { itemAt } from '../../test/support/item-at.js'
import { createRealmKeys } from '../../test/support/user-tokens.js'
import { ApiConsumerVerifier } from './api-consumer-verifier.js'
import { InvalidCredentialsError } from './auth-errors.js'
import { hasDuplicateMemberName } from './duplicate-member-names.js'
import { PemKeySource } from './pem-key-source.js'
import { userIdOfSubject } from './token-subject.js'
import { UserTokenVerifier } from './user-token-verifier.js'

/**
 * The parsing rules every credential shares (compact-jwt.ts): each token here is correctly signed
 * by a key the service trusts, so only the rule under test can refuse it.
 */

const SSO_URL = 'http://127.0.0.1:18080'
const ISSUER = `${SSO_URL}/realms/sunbird`
const ME = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const VICTIM = '0b1c2d3e-4f50-4617-8899-aabbccddeeff'
const CONSUMER = { key: 'portal-consumer', secret: 'a-gateway-secret-of-enough-length' }
const SKEW = 60

const realm = createRealmKeys('strict-kid')
const userTokens = new UserTokenVerifier({ ssoUrl: SSO_URL, realm: 'sunbird', keys: new PemKeySource(realm.dir), clockSkewSeconds: SKEW })
const apiConsumers = new ApiConsumerVerifier([{ key: CONSUMER.key, algorithm: 'HS256', secret: CONSUMER.secret }], { clockSkewSeconds: SKEW })
const now = () => Math.floor(Date.now() / 1000)

/** The JSON members of a token, as text, so a case can write what JSON.stringify cannot (duplicates, 1e400). */
const members = (entries: Record<string, unknown>) => Object.entries(entries).map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`)
const object = (parts: readonly string[]) => `{${parts.join(',')}}`

interface Credential {
  name: string
  header(): string[]
  payload(): string[]
  /** Signs the given header and payload text with the trusted key and verifies; resolves the user (or consumer) id. */
  verify(header: string, payload: string): Promise<string>
}

const credentials: Credential[] = [
  {
    name: 'API bearer',
    header: () => members({ alg: 'HS256', typ: 'JWT' }),
    payload: () => members({ iss: CONSUMER.key, iat: now(), exp: now() + 600 }),
    verify: async (header, payload) => {
      const checked = apiConsumers.check(signJwtText(header, payload, { hs256: CONSUMER.secret }))
      if ('refusal' in checked) throw new InvalidCredentialsError('api-bearer', checked.refusal)
      return checked.consumer
    },
  },
  ...(['user-token', 'for-token'] as const).map(
    (credential): Credential => ({
      name: credential === 'user-token' ? 'user token' : 'X-Authenticated-For token',
      header: () => members({ alg: 'RS256', typ: 'JWT', kid: realm.kid }),
      payload: () => members({ iat: now(), exp: now() + 600, iss: ISSUER, typ: 'Bearer', azp: 'portal', sub: ME, ...(credential === 'for-token' ? { parentId: VICTIM } : {}) }),
      verify: async (header, payload) => (await userTokens.verify(signJwtText(header, payload, { rs256: realm.privateKey }), credential)).userId,
    }),
  ),
]
const userCredentials = credentials.slice(1)

async function refusal(work: Promise<unknown>): Promise<InvalidCredentialsError> {
  const outcome = await work.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(outcome).toBeInstanceOf(InvalidCredentialsError)
  return outcome as InvalidCredentialsError
}

/** The credential's payload with some claims replaced by JSON literals (written as given). */
function payloadWith(credential: Credential, literals: Record<string, string>): string {
  const kept = credential.payload().filter((member) => !Object.keys(literals).some((claim) => member.startsWith(`${JSON.stringify(claim)}:`)))
  return object([...kept, ...Object.entries(literals).map(([claim, literal]) => `${JSON.stringify(claim)}:${literal}`)])
}

describe.each(credentials)('$name', (credential) => {
  const verifyWith = (extraHeader: string[], extraPayload: string[]) => credential.verify(object([...credential.header(), ...extraHeader]), object([...credential.payload(), ...extraPayload]))
  const verifyWithClaims = (literals: Record<string, string>) => credential.verify(object(credential.header()), payloadWith(credential, literals))

  it('when nothing is added, then the token is accepted (the cases below differ from it by one member)', async () => {
    await expect(verifyWith([], [])).resolves.toBeTypeOf('string')
  })

  it.each([
    ['an extension name', ['x-unknown-extension']],
    ['a registered claim it does not implement', ['exp']],
    ['the b64 extension (RFC 7797)', ['b64']],
    ['an empty list', []],
    ['a string instead of a list', 'exp'],
  ])('when crit holds %s, then the token is refused (RFC 7515 §4.1.11)', async (_, crit) => {
    const error = await refusal(verifyWith(members({ crit, 'x-unknown-extension': true }), []))

    expect(error.message).toMatch(/crit/)
  })

  it('when iat is later than now plus the clock skew, then the token is refused', async () => {
    const error = await refusal(verifyWithClaims({ iat: String(now() + SKEW + 30) }))

    expect(error.message).toMatch(/issued in the future/)
  })

  it('when iat is ahead of now but within the clock skew, then the token is accepted', async () => {
    await expect(verifyWithClaims({ iat: String(now() + SKEW - 20) })).resolves.toBeTypeOf('string')
  })

  it.each([
    ['exp', '1e400'],
    ['exp', '"9999999999"'],
    ['nbf', '-1e400'],
    ['nbf', '"0"'],
    ['nbf', 'null'],
    ['iat', '1e400'],
    ['iat', '-1e400'],
    ['iat', '"1700000000"'],
    ['iat', 'true'],
  ])('when %s is %s (not a finite number), then the token is refused', async (claim, literal) => {
    const error = await refusal(verifyWithClaims({ [claim]: literal }))

    expect(error.message).toMatch(/not a number|no exp/)
  })

  it.each([
    ['the header', (c: Credential) => [object([...c.header(), itemAt(c.header(), 0)]), object(c.payload())]],
    ['the payload', (c: Credential) => [object(c.header()), object([...c.payload(), itemAt(c.payload(), 0)])]],
    ['the payload, one name written with an escape', (c: Credential) => [object(c.header()), object([...c.payload(), '"\\u0065xp":1'])]],
    ['an object nested in the payload', (c: Credential) => [object(c.header()), object([...c.payload(), '"roles":[{"role":"PUBLIC","role":"ORG_ADMIN","scope":[]}]'])]],
  ] as const)('when a member name appears twice in %s, then the token is refused', async (_, build) => {
    const [header, payload] = build(credential) as [string, string]

    const error = await refusal(credential.verify(header, payload))

    expect(error.message).toMatch(/duplicate member name/)
  })
})

describe('the API bearer', () => {
  it('when iss names another consumer first and the real one last, then the token is refused rather than read last-wins', async () => {
    const payload = object([...members({ iss: 'someone-else', iat: now(), exp: now() + 600 }), `"iss":${JSON.stringify(CONSUMER.key)}`])

    const apiBearer = itemAt(credentials, 0, 'API bearer credential')

    await refusal(apiBearer.verify(object(apiBearer.header()), payload))
  })
})

describe.each(userCredentials)('the subject of the $name', (credential) => {
  const withSubject = (sub: string, extra: Record<string, string> = {}) =>
    credential.verify(object(credential.header()), payloadWith(credential, Object.fromEntries(Object.entries({ sub, ...extra }).map(([name, value]) => [name, JSON.stringify(value)]))))

  it('when sub is {"sub":"me","sub":"victim"}, then the token is refused, not read as the victim', async () => {
    const payload = object([...credential.payload(), `"sub":${JSON.stringify(VICTIM)}`])

    const error = await refusal(credential.verify(object(credential.header()), payload))

    expect(error.message).toMatch(/duplicate member name/)
  })

  it.each([[`f:a:${ME}:${VICTIM}`], [`f:provider:`], [`f::${ME}`], [`g:provider:${ME}`], [`:${ME}`], [`${ME}:`], [`f:provider:${ME}:`], [`f:pro vider:${ME}`], [`${ME} `], ['']])(
    'when sub is %j, then the token is refused',
    async (sub) => {
      await refusal(withSubject(sub))
    },
  )

  it.each([[ME], [`f:5a2e1c0d-provider:${ME}`], [`f:sunbird-fed:${ME}`]])('when sub is %s, then the user id is the plain id', async (sub) => {
    await expect(withSubject(sub)).resolves.toBe(ME)
  })

  it('when parentId is f:a:<attacker>:<victim>, then the token is refused rather than naming the victim as parent', async () => {
    await refusal(withSubject(ME, { parentId: `f:a:${ME}:${VICTIM}` }))
  })
})

describe('the subject with sunbird_keycloak_user_federation_provider_id set', () => {
  const pinned = new UserTokenVerifier({ ssoUrl: SSO_URL, realm: 'sunbird', keys: new PemKeySource(realm.dir), federationProviderId: 'sunbird-fed' })
  const tokenFor = (claims: Record<string, unknown>) =>
    signJwtText(object(members({ alg: 'RS256', typ: 'JWT', kid: realm.kid })), object(members({ iat: now(), exp: now() + 600, iss: ISSUER, typ: 'Bearer', ...claims })), { rs256: realm.privateKey })

  it('when a federated sub names that provider, or sub is a plain id, then the token is accepted', async () => {
    expect((await pinned.verify(tokenFor({ sub: `f:sunbird-fed:${ME}` }))).userId).toBe(ME)
    expect((await pinned.verify(tokenFor({ sub: ME }))).userId).toBe(ME)
  })

  it('when a federated sub or parentId names another provider, then the token is refused', async () => {
    await refusal(pinned.verify(tokenFor({ sub: `f:other-provider:${ME}` })))
    await refusal(pinned.verify(tokenFor({ sub: ME, parentId: `f:other-provider:${VICTIM}` }), 'for-token'))
  })
})

describe('userIdOfSubject', () => {
  it.each([
    [ME, ME],
    [`f:p:${ME}`, ME],
    [`f:p:${ME}:x`, undefined],
    ['f:p:', undefined],
    ['a'.repeat(129), undefined],
    ['a'.repeat(128), 'a'.repeat(128)],
  ])('%s → %s', (subject, expected) => {
    expect(userIdOfSubject(subject)).toBe(expected)
  })
})

describe('hasDuplicateMemberName', () => {
  it.each([
    ['{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}', false],
    ['{"a":"\\"a\\":","b":1}', false],
    ['{"a\\\\":1,"a":2}', false],
    ['{"a":1,"a":2}', true],
    ['{"a":1 , "\\u0061" :2}', true],
    ['[{"x":{"y":1,"y":1}}]', true],
    ['{"__proto__":1,"__proto__":2}', true],
  ])('%s → %s', (text, expected) => {
    JSON.parse(text)
    expect(hasDuplicateMemberName(text)).toBe(expected)
  })
})
