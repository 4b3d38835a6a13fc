import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { signJwt } from '../../scripts/lib/sign-jwt.js'
import { createRealmKeys, mintUserToken } from '../../test/support/user-tokens.js'
import { DependencyUnavailableError } from '../deletion/errors.js'
import { InvalidCredentialsError } from './auth-errors.js'
import { type KeySource, KeysUnavailableError, UnknownKeyError } from './key-source.js'
import { PemKeySource } from './pem-key-source.js'
import { UserTokenVerifier, userIdFromSubject } from './user-token-verifier.js'

const SSO_URL = 'http://127.0.0.1:18080'
const REALM = 'sunbird'
const ISSUER = `${SSO_URL}/realms/${REALM}`
const USER_ID = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const PARENT_ID = '0b1c2d3e-4f50-4617-8899-aabbccddeeff'

const realm = createRealmKeys()
const verifier = new UserTokenVerifier({ ssoUrl: SSO_URL, realm: REALM, keys: new PemKeySource(realm.dir) })

const nowSeconds = () => Math.floor(Date.now() / 1000)
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>

/** Keycloak-shaped claims for the test user, signed by the test realm key. */
const validClaims = () => ({ iat: nowSeconds(), exp: nowSeconds() + 600, iss: ISSUER, typ: 'Bearer', azp: 'portal', sub: `f:provider:${USER_ID}` })

/** Asserts the 401-class rejection; `reason` (log text only, never rendered) pins which check fired. */
async function expectRejected(token: string, reason?: RegExp, credential: 'user-token' | 'for-token' = 'user-token'): Promise<InvalidCredentialsError> {
  const error = await verifier.verify(token, credential).then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(error).toBeInstanceOf(InvalidCredentialsError)
  expect((error as InvalidCredentialsError).credential).toBe(credential)
  if (reason) expect((error as Error).message).toMatch(reason)
  return error as InvalidCredentialsError
}

describe('UserTokenVerifier with offline PEM keys, valid tokens', () => {
  it('when a realm-signed token has a plain sub, then the user id is the sub', async () => {
    // Arrange
    const token = mintUserToken(realm, ISSUER, { sub: USER_ID })

    // Act
    const verified = await verifier.verify(token)

    // Assert
    // azp names the client the token was issued to (the routes taking the token alone check it).
    expect(verified).toEqual({ userId: USER_ID, roles: [], clientId: 'portal' })
  })

  it('when sub is f:<provider>:<id>, then the user id is the part after the last colon', async () => {
    const token = mintUserToken(realm, ISSUER, { sub: `f:5a2e1c0d-provider:${USER_ID}` })

    const verified = await verifier.verify(token)

    expect(verified.userId).toBe(USER_ID)
  })

  it('when the token has a roles claim, then roles are read as role + organisationIds and junk entries are dropped', async () => {
    const roles = [
      { role: 'ORG_ADMIN', scope: [{ organisationId: 'org-1' }, { organisationId: 'org-2' }] },
      { role: 'PUBLIC', scope: [] },
      { role: 'BOOK_CREATOR' },
      { role: 42, scope: [{ organisationId: 'org-x' }] },
      null,
      { role: 'CONTENT_CREATOR', scope: [{ organisationId: 7 }, null, { organisationId: 'org-3' }] },
    ]
    const token = mintUserToken(realm, ISSUER, { sub: USER_ID, roles } as unknown as Parameters<typeof mintUserToken>[2])

    const verified = await verifier.verify(token)

    expect(verified.roles).toEqual([
      { role: 'ORG_ADMIN', organisationIds: ['org-1', 'org-2'] },
      { role: 'PUBLIC', organisationIds: [] },
      { role: 'BOOK_CREATOR', organisationIds: [] },
      { role: 'CONTENT_CREATOR', organisationIds: ['org-3'] },
    ])
  })

  it('when the roles claim is not an array, then the user has no roles', async () => {
    const token = mintUserToken(realm, ISSUER, { sub: USER_ID, roles: 'ORG_ADMIN' } as unknown as Parameters<typeof mintUserToken>[2])

    const verified = await verifier.verify(token)

    expect(verified.roles).toEqual([])
  })

  it('when a managed user token carries parentId, then parentId is returned (reduced like sub)', async () => {
    const plain = mintUserToken(realm, ISSUER, { sub: USER_ID, parentId: PARENT_ID })
    const federated = mintUserToken(realm, ISSUER, { sub: USER_ID, parentId: `f:provider:${PARENT_ID}` })

    const fromPlain = await verifier.verify(plain, 'for-token')
    const fromFederated = await verifier.verify(federated, 'for-token')

    expect(fromPlain.parentId).toBe(PARENT_ID)
    expect(fromFederated.parentId).toBe(PARENT_ID)
  })

  it('when parentId is absent or empty, then no parentId is returned', async () => {
    const absent = await verifier.verify(mintUserToken(realm, ISSUER, { sub: USER_ID }))
    const empty = await verifier.verify(mintUserToken(realm, ISSUER, { sub: USER_ID, parentId: '' }))

    expect(absent).not.toHaveProperty('parentId')
    expect(empty).not.toHaveProperty('parentId')
  })

  it('when auth_time is within the clock skew, then it is the login time; when later than that, then the login time is unknown', async () => {
    // A login "in the future" (a realm clock far ahead) would otherwise read as recent to step-up for the token's whole life.
    const withinSkew = nowSeconds() + 30
    const skewed = await verifier.verify(mintUserToken(realm, ISSUER, { sub: USER_ID, auth_time: withinSkew }))
    const ahead = await verifier.verify(mintUserToken(realm, ISSUER, { sub: USER_ID, auth_time: nowSeconds() + 3600 }))

    expect(skewed.authTime).toBe(withinSkew)
    expect(ahead).not.toHaveProperty('authTime')
  })
})

describe('UserTokenVerifier with offline PEM keys, forged or unusable tokens', () => {
  it('when alg is none with an empty signature, then it is rejected', async () => {
    const token = `${b64({ alg: 'none', typ: 'JWT', kid: realm.kid })}.${b64(validClaims())}.`

    await expectRejected(token, /algorithm not allowed/)
  })

  it('when the token is HS256-signed with the realm public key as secret, then it is rejected', async () => {
    const token = signJwt({ alg: 'HS256', typ: 'JWT', kid: realm.kid }, validClaims(), { hs256: realm.publicKeyPem })

    await expectRejected(token, /algorithm not allowed/)
  })

  it('when the kid is unknown, then it is rejected', async () => {
    const token = mintUserToken(realm, ISSUER, { sub: USER_ID }, { header: { kid: 'not-a-realm-key' } })

    await expectRejected(token, /unknown kid/)
  })

  it('when the kid is missing, then it is rejected', async () => {
    const token = mintUserToken(realm, ISSUER, { sub: USER_ID }, { header: { kid: undefined } })
    expect(decode(token.split('.')[0] as string)).not.toHaveProperty('kid')

    await expectRejected(token, /no kid/)
  })

  it('when the token has expired, then it is rejected', async () => {
    const token = mintUserToken(realm, ISSUER, { sub: USER_ID }, { ttlSeconds: -10 })

    await expectRejected(token, /expired/)
  })

  it('when nbf is in the future, then it is rejected', async () => {
    const token = mintUserToken(realm, ISSUER, { sub: USER_ID, nbf: nowSeconds() + 300 })

    await expectRejected(token, /not yet valid/)
  })

  it('when the issuer is another realm, then it is rejected', async () => {
    const token = mintUserToken(realm, `${SSO_URL}/realms/other`, { sub: USER_ID })

    await expectRejected(token, /wrong ISS/)
  })

  it('when the issuer is another host with the same realm, then it is rejected', async () => {
    const token = mintUserToken(realm, 'http://evil.example:18080/realms/sunbird', { sub: USER_ID })

    await expectRejected(token, /wrong ISS/)
  })

  it('when the payload is re-encoded with another sub and the signature kept, then it is rejected', async () => {
    const good = mintUserToken(realm, ISSUER, { sub: USER_ID })
    const [header, payload, signature] = good.split('.') as [string, string, string]
    const forged = `${header}.${b64({ ...decode(payload), sub: PARENT_ID })}.${signature}`

    await expectRejected(forged, /signature/)
  })

  it.each(['ID', 'Refresh', 'Offline'])('when typ is %s rather than Bearer, then it is rejected', async (typ) => {
    const token = mintUserToken(realm, ISSUER, { sub: USER_ID, typ })

    await expectRejected(token, /wrong type/)
  })

  it('when exp is missing, then it is rejected', async () => {
    const token = mintUserToken(realm, ISSUER, { sub: USER_ID, exp: undefined })
    expect(decode(token.split('.')[1] as string)).not.toHaveProperty('exp')

    await expectRejected(token, /no exp/)
  })

  it('when the token is signed by another RSA key under the same kid, then it is rejected', async () => {
    const impostor = createRealmKeys(realm.kid)
    const token = mintUserToken(impostor, ISSUER, { sub: USER_ID })

    await expectRejected(token, /signature/)
  })

  it('when sub is missing or has nothing after its last colon, then it is rejected', async () => {
    await expectRejected(mintUserToken(realm, ISSUER, { sub: undefined } as unknown as Parameters<typeof mintUserToken>[2]), /no sub/)
    await expectRejected(mintUserToken(realm, ISSUER, { sub: 'f:provider:' }), /sub is neither/)
  })

  it('when the rejected token is the X-Authenticated-For one, then the error names for-token', async () => {
    const token = mintUserToken(realm, ISSUER, { sub: USER_ID }, { ttlSeconds: -10 })

    const error = await expectRejected(token, /expired/, 'for-token')

    expect(error.message).toMatch(/^for-token:/)
  })

  it('when the realm’s keys were never loaded (Keycloak unreachable since start), then a good token is not called invalid: Keycloak is unavailable (503)', async () => {
    const neverLoaded: KeySource = { getJWK: () => Promise.reject(new KeysUnavailableError()), loadedKey: () => undefined, size: () => 0 }
    const verifier = new UserTokenVerifier({ ssoUrl: SSO_URL, realm: REALM, keys: neverLoaded })

    const error = await verifier.verify(mintUserToken(realm, ISSUER, { sub: USER_ID })).then(
      () => undefined,
      (err: unknown) => err,
    )

    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect((error as DependencyUnavailableError).dependency).toBe('keycloak')
  })

  it('when the realm’s key fetch hangs since start (no key ever loaded), then at the deadline Keycloak is unavailable (503), not the token invalid', async () => {
    const hanging: KeySource = { getJWK: () => new Promise<string>(() => undefined), loadedKey: () => undefined, size: () => 0 }
    const verifier = new UserTokenVerifier({ ssoUrl: SSO_URL, realm: REALM, keys: hanging, timeoutMs: 100 })

    const error = await verifier.verify(mintUserToken(realm, ISSUER, { sub: USER_ID })).then(
      () => undefined,
      (err: unknown) => err,
    )

    expect(error).toBeInstanceOf(DependencyUnavailableError)
  })

  it('when the key source never answers, then verification fails within the time bound', async () => {
    // Keys loaded (one), but the one this token names never comes.
    const hanging: KeySource = { getJWK: () => new Promise<string>(() => undefined), loadedKey: () => undefined, size: () => 1 }
    const slow = new UserTokenVerifier({ ssoUrl: SSO_URL, realm: REALM, keys: hanging, timeoutMs: 100 })
    const token = mintUserToken(realm, ISSUER, { sub: USER_ID })
    const started = Date.now()

    const error = await slow.verify(token).then(
      () => undefined,
      (err: unknown) => err,
    )

    expect(error).toBeInstanceOf(InvalidCredentialsError)
    expect((error as Error).message).toMatch(/timed out/)
    expect(Date.now() - started).toBeLessThan(2000)
  })
})

describe('UserTokenVerifier, the same token again', () => {
  /** A key source whose key for the realm's kid can be replaced, as a JWKS refresh would. */
  function switchableKeys(pem: string): KeySource & { replace(next: string | undefined): void } {
    let current: string | undefined = pem
    return {
      getJWK: async () => {
        if (current === undefined) throw new UnknownKeyError()
        return current
      },
      loadedKey: () => current,
      size: () => (current === undefined ? 0 : 1),
      replace(next) {
        current = next
      },
    }
  }

  it('when a verified token is sent again after it expired, then it is rejected as expired', async () => {
    const token = mintUserToken(realm, ISSUER, { sub: USER_ID }, { ttlSeconds: 60 })
    await verifier.verify(token)

    const error = await verifier.verify(token, 'user-token', nowSeconds() + 120).then(
      () => undefined,
      (err: unknown) => err,
    )

    expect((error as Error).message).toMatch(/user-token: expired/)
  })

  it('when the realm no longer serves the key that verified a token, then the token is refused', async () => {
    const keys = switchableKeys(realm.publicKeyPem)
    const rotating = new UserTokenVerifier({ ssoUrl: SSO_URL, realm: REALM, keys })
    const token = mintUserToken(realm, ISSUER, { sub: USER_ID })
    await rotating.verify(token)

    keys.replace(createRealmKeys().publicKeyPem)
    await expect(rotating.verify(token)).rejects.toBeInstanceOf(InvalidCredentialsError)
    keys.replace(undefined)
    await expect(rotating.verify(token)).rejects.toBeInstanceOf(InvalidCredentialsError)
  })

  it('when a caller changes the result it got, then the next verification of the same token is unchanged', async () => {
    const token = mintUserToken(realm, ISSUER, { sub: USER_ID, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: 'org-1' }] }] })
    const first = await verifier.verify(token)
    first.roles[0]?.organisationIds.push('org-2')
    first.userId = 'someone-else'

    const again = await verifier.verify(token)

    expect(again).toEqual({ userId: USER_ID, roles: [{ role: 'ORG_ADMIN', organisationIds: ['org-1'] }], clientId: 'portal' })
  })

  it('when a token failed verification, then the same token fails again (refusals are not kept)', async () => {
    const token = mintUserToken(createRealmKeys(realm.kid), ISSUER, { sub: USER_ID })

    await expectRejected(token)
    await expectRejected(token)
  })
})

describe('userIdFromSubject', () => {
  it.each([
    [USER_ID, USER_ID],
    [`f:provider:${USER_ID}`, USER_ID],
    [`f:a:b:${USER_ID}`, USER_ID],
  ])('when sub is %s, then the user id is %s', (sub, expected) => {
    expect(userIdFromSubject(sub)).toBe(expected)
  })
})

describe('PemKeySource', () => {
  const bareBase64 = (pem: string) => pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '')

  it('when a key file holds the bare base64 body without PEM armour, then its kid resolves and verifies tokens', async () => {
    // Arrange
    const keys = createRealmKeys('bare-kid')
    const dir = mkdtempSync(join(tmpdir(), 'bare-keys-'))
    writeFileSync(join(dir, 'bare-kid'), `${bareBase64(keys.publicKeyPem)}\n`)

    // Act
    const source = new PemKeySource(dir)
    const pem = await source.getJWK('bare-kid')
    const verified = await new UserTokenVerifier({ ssoUrl: SSO_URL, realm: REALM, keys: source }).verify(mintUserToken(keys, ISSUER, { sub: USER_ID }))

    // Assert
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/)
    expect(verified.userId).toBe(USER_ID)
  })

  it('when a key file is named <kid>.pem, then both the bare kid and the file name resolve', async () => {
    const keys = createRealmKeys('pem-kid')
    const dir = mkdtempSync(join(tmpdir(), 'pem-keys-'))
    writeFileSync(join(dir, 'pem-kid.pem'), keys.publicKeyPem)

    const source = new PemKeySource(dir)

    expect(await source.getJWK('pem-kid')).toContain('BEGIN PUBLIC KEY')
    expect(await source.getJWK('pem-kid.pem')).toContain('BEGIN PUBLIC KEY')
    const verified = await new UserTokenVerifier({ ssoUrl: SSO_URL, realm: REALM, keys: source }).verify(mintUserToken(keys, ISSUER, { sub: USER_ID }))
    expect(verified.userId).toBe(USER_ID)
  })

  it('when a file in the folder is not a public key, then construction throws', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bad-keys-'))
    writeFileSync(join(dir, 'good'), realm.publicKeyPem)
    writeFileSync(join(dir, 'notes.txt'), 'this is not a key')

    expect(() => new PemKeySource(dir)).toThrow()
  })

  it('when the folder holds dot files and sub-folders, then they are skipped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixed-keys-'))
    writeFileSync(join(dir, realm.kid), realm.publicKeyPem)
    writeFileSync(join(dir, '.DS_Store'), 'junk')
    mkdirSync(join(dir, 'archive'))

    const source = new PemKeySource(dir)

    expect(source.size()).toBe(1)
  })

  it('when a kid is not in the folder, then getJWK rejects with UnknownKeyError', async () => {
    const source = new PemKeySource(realm.dir)

    await expect(source.getJWK('missing')).rejects.toBeInstanceOf(UnknownKeyError)
  })
})
