import { createHmac, createPublicKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { ConfigError } from '../config/load-config.js'
import { InvalidCredentialsError } from './auth-errors.js'
import { checkTimeClaims, parseCompactJwt } from './compact-jwt.js'
import { VerifiedTokenCache } from './verified-token-cache.js'

/** One gateway consumer credential, as Kong's jwt plugin stores it. */
export interface ApiConsumer {
  key: string
  algorithm: 'HS256' | 'RS256'
  secret?: string
  rsa_public_key?: string
  /** Trusted to delete any user without a person's token (`DELETE /api/v1/users/{id}`); absent: false. */
  deleteAnyUser?: boolean
}

type VerifierKey = ({ algorithm: 'HS256'; secret: Buffer } | { algorithm: 'RS256'; publicKey: KeyObject }) & { deleteAnyUser: boolean }

/**
 * What a token's bytes alone decide, given the consumers (fixed for the process): a verified
 * signature with the claims to check against the clock, or a refusal before the time checks.
 */
type SignatureOutcome = { consumer: string; deleteAnyUser: boolean; payload: Record<string, unknown> } | { refusal: string }

/** What verifying an API bearer decided, as a value: the consumer, or the reason it was refused (for the log). */
export type ApiConsumerCheck = { consumer: string; deleteAnyUser: boolean } | { refusal: string }

/** A gateway sends the same few consumer tokens again and again: a few hundred of them are plenty. */
const CACHED_TOKEN_CHARS = 256 * 1024

/** An entry of the consumers that cannot be used, in words that name it by its key (a consumer's name, never its secret). */
class ConsumerEntryError extends Error {
  override name = 'ConsumerEntryError'
}

/** An RS256 consumer's key; the crypto error is not passed on (its words are OpenSSL's, about the PEM given). */
function publicKeyOf(key: string, pem: string): KeyObject {
  try {
    return createPublicKey(pem)
  } catch {
    throw new ConsumerEntryError(`API consumer ${key}: rsa_public_key is not a public key in PEM`)
  }
}

/** Why the consumers file could not be read, from the error's code only: the path is the operator's to check, and nothing of the file is quoted. */
function unreadable(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code
  if (code === 'ENOENT') return 'does not exist'
  if (code === 'EACCES' || code === 'EPERM') return 'is not readable by this process (permission denied)'
  if (code === 'EISDIR') return 'is a directory, not a file'
  return `could not be read${typeof code === 'string' ? ` (${code})` : ''}`
}

/** A problem of the consumers file as the configuration error it is: one line naming the setting and the path, never the file's contents. */
const consumersFileError = (file: string, problem: string, cause?: unknown) =>
  new ConfigError(`invalid configuration:\n  API_BEARER_CONSUMERS_FILE: ${file} ${problem}`, cause === undefined ? undefined : { cause })

/** The consumers of API_BEARER_CONSUMERS_FILE; a file missing, unreadable or not a JSON array is a ConfigError. */
export function readApiConsumers(file: string): ApiConsumer[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw consumersFileError(file, unreadable(err), err)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // Not the parser's message: it quotes the text around the fault, which may be a secret.
    throw consumersFileError(file, 'is not valid JSON')
  }
  if (!Array.isArray(parsed)) throw consumersFileError(file, 'must hold a JSON array of consumers')
  return parsed as ApiConsumer[]
}

/**
 * Verifies the API bearer the way Kong's jwt plugin does: the `iss` claim names the consumer, the
 * consumer's own algorithm and key verify the signature (the token header may not choose them:
 * that is what stops alg=none and HS256-with-the-RSA-public-key), and `exp` is required. The
 * shared parsing rules apply too (compact-jwt.ts): no duplicate member names, no unknown `crit`,
 * time claims that are finite numbers, `iat` not beyond the clock skew. Its `sub` is never read.
 */
export interface ApiConsumerVerifierOptions {
  /** How far ahead of ours a consumer's clock may be (`iat`); 60 s when not given. */
  clockSkewSeconds?: number
}

export class ApiConsumerVerifier {
  private readonly keys = new Map<string, VerifierKey>()
  private readonly clockSkewSeconds: number
  private readonly outcomes = new VerifiedTokenCache<SignatureOutcome>(CACHED_TOKEN_CHARS)

  constructor(consumers: readonly ApiConsumer[], options: ApiConsumerVerifierOptions = {}) {
    this.clockSkewSeconds = options.clockSkewSeconds ?? 60
    for (const consumer of consumers) {
      if (typeof consumer !== 'object' || consumer === null) throw new ConsumerEntryError('API consumer entry that is not an object')
      if (typeof consumer.key !== 'string' || consumer.key === '') throw new ConsumerEntryError('API consumer without a key')
      if (consumer.deleteAnyUser !== undefined && typeof consumer.deleteAnyUser !== 'boolean') throw new ConsumerEntryError(`API consumer ${consumer.key}: deleteAnyUser must be true or false`)
      const deleteAnyUser = consumer.deleteAnyUser === true
      if (consumer.algorithm === 'HS256') {
        // A string: a number or an array would reach Buffer.from (an error quoting the value, or an array's zero bytes as the key).
        if (typeof consumer.secret !== 'string' || consumer.secret.length < 16) throw new ConsumerEntryError(`API consumer ${consumer.key}: HS256 needs a secret of 16+ characters`)
        this.keys.set(consumer.key, { algorithm: 'HS256', secret: Buffer.from(consumer.secret, 'utf8'), deleteAnyUser })
      } else if (consumer.algorithm === 'RS256') {
        if (typeof consumer.rsa_public_key !== 'string' || consumer.rsa_public_key === '') throw new ConsumerEntryError(`API consumer ${consumer.key}: RS256 needs rsa_public_key (a PEM string)`)
        this.keys.set(consumer.key, { algorithm: 'RS256', publicKey: publicKeyOf(consumer.key, consumer.rsa_public_key), deleteAnyUser })
      } else {
        throw new ConsumerEntryError(`API consumer ${consumer.key}: algorithm must be HS256 or RS256`)
      }
    }
  }

  /** The verifier of API_BEARER_CONSUMERS_FILE's consumers; any problem of the file or of an entry is a ConfigError naming the setting. */
  static fromFile(file: string, options: ApiConsumerVerifierOptions = {}): ApiConsumerVerifier {
    const consumers = readApiConsumers(file)
    try {
      return new ApiConsumerVerifier(consumers, options)
    } catch (err) {
      if (err instanceof ConsumerEntryError) throw consumersFileError(file, `holds an invalid entry: ${err.message}`)
      throw err
    }
  }

  /**
   * Whether a token of this consumer would be admitted now: it is in the consumers file, and trusted
   * with deleteAnyUser when `deleteAnyUser` asks for it. What a batch job submitted with its bearer
   * is checked against while it runs: a consumer taken out of the file, or whose trust was withdrawn
   * (a leaked key), stops deleting through the jobs it submitted before.
   */
  admits(consumer: string, deleteAnyUser: boolean): boolean {
    const key = this.keys.get(consumer)
    return key !== undefined && (!deleteAnyUser || key.deleteAnyUser)
  }

  /**
   * The consumer key and whether it may delete any user, or why the token is refused, as a value (the
   * scheme throws its one 401). A refused signature is kept per token, so the same forged bearer again
   * creates no error; the time claims are checked on every call, an expired or not yet valid token's error caught here.
   */
  check(raw: string, nowSeconds = Date.now() / 1000): ApiConsumerCheck {
    // The signature outcome of these exact bytes is reused; the clock is read on every call.
    let outcome = this.outcomes.get(raw)
    if (outcome === undefined) {
      outcome = this.checkSignature(raw)
      this.outcomes.set(raw, outcome)
    }
    if ('refusal' in outcome) return outcome
    try {
      checkTimeClaims(outcome.payload, 'api-bearer', { nowSeconds, clockSkewSeconds: this.clockSkewSeconds })
    } catch (err) {
      if (err instanceof InvalidCredentialsError) return { refusal: err.reason }
      throw err
    }
    return { consumer: outcome.consumer, deleteAnyUser: outcome.deleteAnyUser }
  }

  /** Everything before the time checks: the parsing rules, the consumer, its algorithm, its signature. */
  private checkSignature(raw: string): SignatureOutcome {
    try {
      const jwt = parseCompactJwt(raw, 'api-bearer')
      const iss = jwt.payload.iss
      const key = typeof iss === 'string' ? this.keys.get(iss) : undefined
      if (!key) throw new InvalidCredentialsError('api-bearer', 'unknown consumer')
      if (jwt.header.alg !== key.algorithm) throw new InvalidCredentialsError('api-bearer', 'algorithm mismatch')
      if (!this.signatureMatches(key, jwt.signingInput, jwt.signature)) throw new InvalidCredentialsError('api-bearer', 'bad signature')
      return { consumer: iss as string, deleteAnyUser: key.deleteAnyUser, payload: jwt.payload }
    } catch (err) {
      if (err instanceof InvalidCredentialsError) return { refusal: err.reason }
      throw err
    }
  }

  private signatureMatches(key: VerifierKey, input: string, signature: Buffer): boolean {
    if (key.algorithm === 'HS256') {
      const expected = createHmac('sha256', key.secret).update(input).digest()
      return expected.length === signature.length && timingSafeEqual(expected, signature)
    }
    return verify('RSA-SHA256', Buffer.from(input), key.publicKey, signature)
  }
}
