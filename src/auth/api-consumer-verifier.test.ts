import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { signApiBearer, signJwt } from '../../scripts/lib/sign-jwt.js'
import { ConfigError } from '../config/load-config.js'
import { ApiConsumerVerifier, type ApiConsumer } from './api-consumer-verifier.js'
import { bearerToken } from './compact-jwt.js'

const HS_KEY = 'portal-consumer'
const HS_SECRET = 'a-gateway-secret-of-enough-length'
const RS_KEY = 'mobile-consumer'
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const RS_PUBLIC_PEM = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()

const consumers: ApiConsumer[] = [
  { key: HS_KEY, algorithm: 'HS256', secret: HS_SECRET },
  { key: RS_KEY, algorithm: 'RS256', rsa_public_key: RS_PUBLIC_PEM },
]
const verifier = new ApiConsumerVerifier(consumers)

const nowSeconds = () => Math.floor(Date.now() / 1000)
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

function hsToken(payload: Record<string, unknown>, secret = HS_SECRET, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  return signJwt(header, payload, { hs256: secret })
}

function rsToken(payload: Record<string, unknown>): string {
  return signJwt({ alg: 'RS256', typ: 'JWT' }, payload, { rs256: rsa.privateKey })
}

function expectRejected(token: string): void {
  expect(verifier.check(token)).toEqual({ refusal: expect.any(String) })
}

describe('ApiConsumerVerifier accepts', () => {
  it('when an HS256 consumer signs a token with its secret, then the consumer key is returned', () => {
    // Arrange
    const token = signApiBearer(HS_KEY, HS_SECRET)

    // Act
    const result = verifier.check(token)

    // Assert
    expect(result).toEqual({ consumer: HS_KEY, deleteAnyUser: false })
  })

  it('when an RS256 consumer signs a token with its private key, then the consumer key is returned', () => {
    const token = rsToken({ iss: RS_KEY, exp: nowSeconds() + 600 })

    expect(verifier.check(token)).toEqual({ consumer: RS_KEY, deleteAnyUser: false })
  })

  it('when nbf is in the past, then the token is accepted', () => {
    const token = hsToken({ iss: HS_KEY, exp: nowSeconds() + 600, nbf: nowSeconds() - 60 })

    expect(verifier.check(token)).toMatchObject({ consumer: HS_KEY })
  })

  it('when consumers are read from a file, then the verifier built from it accepts their tokens', () => {
    const dir = mkdtempSync(join(tmpdir(), 'consumers-'))
    const file = join(dir, 'api-consumers.json')
    writeFileSync(file, JSON.stringify(consumers))

    const fromFile = ApiConsumerVerifier.fromFile(file)

    expect(fromFile.check(signApiBearer(HS_KEY, HS_SECRET))).toMatchObject({ consumer: HS_KEY })
  })
})

describe('ApiConsumerVerifier rejects', () => {
  it('when iss names no known consumer, then the token is rejected', () => {
    expectRejected(signApiBearer('someone-else', HS_SECRET))
  })

  it('when iss is missing, then the token is rejected', () => {
    expectRejected(hsToken({ exp: nowSeconds() + 600 }))
  })

  it('when iss is not a string, then the token is rejected', () => {
    expectRejected(hsToken({ iss: 42, exp: nowSeconds() + 600 }))
  })

  it('when an HS256 token is signed with the RSA public key PEM as secret for an RS256 consumer, then it is rejected', () => {
    // The classic algorithm-confusion attack: the public key is public, so anyone can compute this HMAC.
    const token = hsToken({ iss: RS_KEY, exp: nowSeconds() + 600 }, RS_PUBLIC_PEM)

    expectRejected(token)
  })

  it('when an RS256 token names an HS256 consumer, then it is rejected', () => {
    expectRejected(rsToken({ iss: HS_KEY, exp: nowSeconds() + 600 }))
  })

  it('when alg is none and the signature is empty, then the token is rejected', () => {
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: HS_KEY, exp: nowSeconds() + 600 })}.`

    expectRejected(token)
  })

  it('when alg is none but spelled in another case, then the token is rejected', () => {
    const token = `${b64({ alg: 'NONE', typ: 'JWT' })}.${b64({ iss: HS_KEY, exp: nowSeconds() + 600 })}.`

    expectRejected(token)
  })

  it('when exp is missing, then the token is rejected', () => {
    expectRejected(hsToken({ iss: HS_KEY }))
  })

  it('when exp is not a number, then the token is rejected', () => {
    expectRejected(hsToken({ iss: HS_KEY, exp: String(nowSeconds() + 600) }))
  })

  it('when exp has passed, then the token is rejected', () => {
    expectRejected(hsToken({ iss: HS_KEY, exp: nowSeconds() - 1 }))
  })

  it('when an expired token is checked against an earlier clock, then it is accepted (exp is compared with now)', () => {
    const exp = nowSeconds() - 100
    const token = hsToken({ iss: HS_KEY, exp })

    expect(verifier.check(token)).toEqual({ refusal: 'expired' })
    expect(verifier.check(token, exp - 10)).toMatchObject({ consumer: HS_KEY })
  })

  it('when nbf is in the future, then the token is rejected', () => {
    expectRejected(hsToken({ iss: HS_KEY, exp: nowSeconds() + 600, nbf: nowSeconds() + 300 }))
  })

  it('when the payload is changed after signing, then the token is rejected', () => {
    const good = signApiBearer(HS_KEY, HS_SECRET)
    const [header, , signature] = good.split('.')
    const forged = `${header}.${b64({ iss: HS_KEY, exp: nowSeconds() + 10 * 365 * 86_400 })}.${signature}`

    expectRejected(forged)
  })

  it('when the token is signed with another secret, then it is rejected', () => {
    expectRejected(signApiBearer(HS_KEY, 'another-secret-of-enough-length'))
  })

  it('when the signature is truncated, then the token is rejected', () => {
    const good = signApiBearer(HS_KEY, HS_SECRET)

    expectRejected(good.slice(0, -4))
  })

  it('when an RS256 token is signed by another RSA key, then it is rejected', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const token = signJwt({ alg: 'RS256', typ: 'JWT' }, { iss: RS_KEY, exp: nowSeconds() + 600 }, { rs256: other.privateKey })

    expectRejected(token)
  })

  it.each([
    ['two parts', () => signApiBearer(HS_KEY, HS_SECRET).split('.').slice(0, 2).join('.')],
    ['four parts', () => `${signApiBearer(HS_KEY, HS_SECRET)}.extra`],
    ['non-base64url characters', () => signApiBearer(HS_KEY, HS_SECRET).replace('.', '.+/=')],
    ['a header that is not JSON', () => `${Buffer.from('not json').toString('base64url')}.${b64({ iss: HS_KEY })}.sig`],
    ['a payload that is a JSON array', () => `${b64({ alg: 'HS256' })}.${b64([HS_KEY])}.sig`],
    ['an empty header', () => `.${b64({ iss: HS_KEY, exp: nowSeconds() + 600 })}.sig`],
    ['an empty string', () => ''],
    ['just dots', () => '..'],
  ])('when the token has %s, then it is rejected as malformed', (_label, makeToken) => {
    expectRejected(makeToken())
  })

  it('when the token is over 16 KB, then it is rejected before it is parsed', () => {
    const huge = hsToken({ iss: HS_KEY, exp: nowSeconds() + 600, pad: 'x'.repeat(17_000) })
    expect(huge.length).toBeGreaterThan(16_384)

    expect(verifier.check(huge)).toEqual({ refusal: 'token too long' })
  })

  it('when a rejection happens, then it is returned as a reason that never holds the token', () => {
    const token = hsToken({ iss: HS_KEY, exp: nowSeconds() - 1 })

    const checked = verifier.check(token)

    expect(checked).toEqual({ refusal: 'expired' })
    expect(JSON.stringify(checked)).not.toContain(token)
  })
})

describe('ApiConsumerVerifier, the same token again', () => {
  it('when a verified token is sent again after it expired, then it is rejected as expired (the clock is read on every use)', () => {
    const exp = nowSeconds() + 60
    const token = hsToken({ iss: HS_KEY, exp })

    expect(verifier.check(token)).toMatchObject({ consumer: HS_KEY })

    expect(verifier.check(token, exp + 1)).toEqual({ refusal: 'expired' })
  })

  it('when a token with a bad signature is sent again, then it is rejected again for the same reason, and later clocks change nothing', () => {
    const forged = signApiBearer(HS_KEY, 'not-the-consumer-secret-at-all')

    expect(verifier.check(forged)).toEqual({ refusal: 'bad signature' })
    expect(verifier.check(forged)).toEqual({ refusal: 'bad signature' })
    expect(verifier.check(forged, nowSeconds() - 3600)).toEqual({ refusal: 'bad signature' })
  })

  it('when a token not yet valid is sent again once its nbf has passed, then it is accepted (a time refusal is never kept)', () => {
    const nbf = nowSeconds() + 300
    const token = hsToken({ iss: HS_KEY, exp: nbf + 600, nbf })

    expect(verifier.check(token)).toEqual({ refusal: 'not yet valid' })

    expect(verifier.check(token, nbf + 1)).toMatchObject({ consumer: HS_KEY })
  })

  it('when the payload of a verified token is changed, then the changed token is refused (the bytes are the key)', () => {
    const good = hsToken({ iss: HS_KEY, exp: nowSeconds() + 600 })
    expect(verifier.check(good)).toMatchObject({ consumer: HS_KEY })
    const [header, , signature] = good.split('.')

    expectRejected(`${header}.${b64({ iss: HS_KEY, exp: nowSeconds() + 6000 })}.${signature}`)
  })
})

describe('ApiConsumerVerifier construction', () => {
  it('when an HS256 secret is shorter than 16 characters, then the constructor throws', () => {
    expect(() => new ApiConsumerVerifier([{ key: 'weak', algorithm: 'HS256', secret: 'short-secret' }])).toThrow(/16\+ characters/)
  })

  it('when an HS256 secret is exactly 16 characters, then the constructor accepts it', () => {
    expect(() => new ApiConsumerVerifier([{ key: 'ok', algorithm: 'HS256', secret: '0123456789abcdef' }])).not.toThrow()
  })

  it('when an HS256 consumer has no secret, then the constructor throws', () => {
    expect(() => new ApiConsumerVerifier([{ key: 'none', algorithm: 'HS256' }])).toThrow(/HS256/)
  })

  it('when the algorithm is not HS256 or RS256, then the constructor throws', () => {
    const bogus = { key: 'es', algorithm: 'ES256', secret: HS_SECRET } as unknown as ApiConsumer

    expect(() => new ApiConsumerVerifier([bogus])).toThrow(/algorithm must be HS256 or RS256/)
  })

  it('when a consumer says "deleteAnyUser": true, then its tokens verify with that trust, and only its tokens', () => {
    const trusted = new ApiConsumerVerifier([...consumers, { key: 'notifier', algorithm: 'HS256', secret: 'notifier-secret-0123456789', deleteAnyUser: true }])

    expect(trusted.check(signApiBearer('notifier', 'notifier-secret-0123456789'))).toEqual({ consumer: 'notifier', deleteAnyUser: true })
    expect(trusted.check(signApiBearer(HS_KEY, HS_SECRET))).toEqual({ consumer: HS_KEY, deleteAnyUser: false })
  })

  it('when deleteAnyUser is not a boolean (a "true" string), then the constructor throws rather than guess', () => {
    const loose = { key: 'loose', algorithm: 'HS256', secret: HS_SECRET, deleteAnyUser: 'true' } as unknown as ApiConsumer

    expect(() => new ApiConsumerVerifier([loose])).toThrow(/deleteAnyUser must be true or false/)
  })

  it('when an RS256 consumer has no public key, then the constructor throws', () => {
    expect(() => new ApiConsumerVerifier([{ key: 'rs', algorithm: 'RS256' }])).toThrow(/rsa_public_key/)
  })

  it('when a consumer has no key, then the constructor throws', () => {
    expect(() => new ApiConsumerVerifier([{ key: '', algorithm: 'HS256', secret: HS_SECRET }])).toThrow(/without a key/)
  })
})

describe('ApiConsumerVerifier.fromFile with a consumers file it cannot use', () => {
  const dir = mkdtempSync(join(tmpdir(), 'consumers-'))
  const fileWith = (name: string, text: string) => {
    const file = join(dir, name)
    writeFileSync(file, text)
    return file
  }
  /** The configuration error thrown for `file`: its one problem line (after "invalid configuration:"). */
  function problemOf(file: string): string {
    try {
      ApiConsumerVerifier.fromFile(file)
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError)
      const [heading, problem, ...rest] = (err as Error).message.split('\n')
      expect(heading).toBe('invalid configuration:')
      expect(rest).toEqual([])
      return problem?.trim() ?? ''
    }
    throw new Error('fromFile accepted the file')
  }

  it.each([
    ['missing', () => join(dir, 'no-such.json'), 'does not exist'],
    ['a directory', () => dir, 'is a directory, not a file'],
    ['not JSON', () => fileWith('broken.json', `[{"key": "portal", "secret": "${HS_SECRET}"`), 'is not valid JSON'],
    ['not an array', () => fileWith('object.json', JSON.stringify({ key: 'portal', algorithm: 'HS256', secret: HS_SECRET })), 'must hold a JSON array of consumers'],
  ])('when the file is %s, then a ConfigError names API_BEARER_CONSUMERS_FILE, the path and the problem, and quotes nothing of the file', (_case, fileOf, problem) => {
    const file = fileOf()

    const line = problemOf(file)

    expect(line).toBe(`API_BEARER_CONSUMERS_FILE: ${file} ${problem}`)
    expect(line).not.toContain(HS_SECRET)
  })

  it('when an entry cannot be used, then a ConfigError names the setting and the entry by its key, never its secret', () => {
    const file = fileWith('weak.json', JSON.stringify([{ key: 'weak', algorithm: 'HS256', secret: 'short-secret' }]))

    expect(problemOf(file)).toBe(`API_BEARER_CONSUMERS_FILE: ${file} holds an invalid entry: API consumer weak: HS256 needs a secret of 16+ characters`)
  })

  it.each([
    ['an entry that is not an object', [null], 'API consumer entry that is not an object'],
    ['an RS256 key that is not a PEM public key', [{ key: 'rs', algorithm: 'RS256', rsa_public_key: 'MIIB-not-a-key' }], 'API consumer rs: rsa_public_key is not a public key in PEM'],
    ['an RS256 key that is not a string', [{ key: 'rs', algorithm: 'RS256', rsa_public_key: 42 }], 'API consumer rs: RS256 needs rsa_public_key (a PEM string)'],
    ['a secret that is a number (it would be quoted by Buffer.from)', [{ key: 'num', algorithm: 'HS256', secret: 98765432109876 }], 'API consumer num: HS256 needs a secret of 16+ characters'],
    ['a secret that is an array (it would become zero bytes)', [{ key: 'arr', algorithm: 'HS256', secret: Array(16).fill('s3cr3t') }], 'API consumer arr: HS256 needs a secret of 16+ characters'],
  ])('when the file holds %s, then a ConfigError says so, not a TypeError or OpenSSL’s words', (_case, entries, problem) => {
    const file = fileWith(`entry-${_case.length}-${problem.length}.json`, JSON.stringify(entries))

    const line = problemOf(file)
    expect(line).toBe(`API_BEARER_CONSUMERS_FILE: ${file} holds an invalid entry: ${problem}`)
    expect(line).not.toContain('98765432109876')
  })
})

describe('bearerToken', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc.def.ghi', 'abc.def.ghi'],
    ['BEARER abc.def.ghi', 'abc.def.ghi'],
    ['Bearer    abc.def.ghi', 'abc.def.ghi'],
    ['Bearer abc.def.ghi   ', 'abc.def.ghi'],
  ])('when the header is %j, then the token is %j', (header, expected) => {
    expect(bearerToken(header)).toBe(expected)
  })

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['the scheme alone', 'Bearer'],
    ['the scheme and spaces', 'Bearer   '],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['a token without scheme', 'abc.def.ghi'],
    ['two tokens', 'Bearer abc def'],
    ['no space after the scheme', 'Bearerabc.def.ghi'],
  ])('when the header is %s, then there is no token', (_label, header) => {
    expect(bearerToken(header)).toBeUndefined()
  })
})

describe('ApiConsumerVerifier.admits: what a batch job is checked against while it runs', () => {
  const trusting = new ApiConsumerVerifier([...consumers, { key: 'admin-consumer', algorithm: 'HS256', secret: HS_SECRET, deleteAnyUser: true }])

  it('when the consumer is in the file, then it is admitted; for a job resting on deleteAnyUser, only while it is trusted with it', () => {
    expect(trusting.admits(HS_KEY, false)).toBe(true)
    expect(trusting.admits('admin-consumer', true)).toBe(true)
    expect(trusting.admits('admin-consumer', false)).toBe(true)
    expect(trusting.admits(HS_KEY, true)).toBe(false)
  })

  it('when the consumer is no longer in the file, then it is not admitted', () => {
    expect(trusting.admits('removed-consumer', false)).toBe(false)
    expect(trusting.admits('removed-consumer', true)).toBe(false)
  })
})
