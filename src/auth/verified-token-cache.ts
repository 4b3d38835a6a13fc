import { LRUCache } from 'lru-cache'

/**
 * What verifying one exact token string found, so the same token sent again skips the signature
 * check (an HMAC or an RSA verification, the largest cost of a request that carries it). The
 * verifiers keep only what the same bytes always yield: a signature that verified, with the claims
 * whose time checks they run again on every use, or a refusal no clock can lift. Bounded by the
 * tokens' total length, so a stream of made-up tokens only evicts, never grows the process.
 */
export class VerifiedTokenCache<T extends object> {
  private readonly entries: LRUCache<string, T>

  constructor(maxTotalChars: number) {
    this.entries = new LRUCache<string, T>({ maxSize: maxTotalChars, sizeCalculation: (_value, token) => Math.max(1, token.length) })
  }

  get(token: string): T | undefined {
    return this.entries.get(token)
  }

  set(token: string, outcome: T): void {
    this.entries.set(token, outcome)
  }
}
