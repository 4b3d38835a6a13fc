import { createHmac, createPublicKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
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

export function readApiConsumers(file: string): ApiConsumer[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new Error(`API bearer consumers file ${file} is not readable JSON`, { cause: err })
  }
  if (!Array.isArray(parsed)) throw new Error(`API bearer consumers file ${file} must hold a JSON array`)
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
      if (typeof consumer.key !== 'string' || consumer.key === '') throw new Error('API consumer without a key')
      if (consumer.deleteAnyUser !== undefined && typeof consumer.deleteAnyUser !== 'boolean') throw new Error(`API consumer ${consumer.key}: deleteAnyUser must be true or false`)
      const deleteAnyUser = consumer.deleteAnyUser === true
      if (consumer.algorithm === 'HS256') {
        if (!consumer.secret || consumer.secret.length < 16) throw new Error(`API consumer ${consumer.key}: HS256 needs a secret of 16+ characters`)
        this.keys.set(consumer.key, { algorithm: 'HS256', secret: Buffer.from(consumer.secret, 'utf8'), deleteAnyUser })
      } else if (consumer.algorithm === 'RS256') {
        if (!consumer.rsa_public_key) throw new Error(`API consumer ${consumer.key}: RS256 needs rsa_public_key`)
        this.keys.set(consumer.key, { algorithm: 'RS256', publicKey: createPublicKey(consumer.rsa_public_key), deleteAnyUser })
      } else {
        throw new Error(`API consumer ${consumer.key}: algorithm must be HS256 or RS256`)
      }
    }
  }

  static fromFile(file: string, options: ApiConsumerVerifierOptions = {}): ApiConsumerVerifier {
    return new ApiConsumerVerifier(readApiConsumers(file), options)
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
