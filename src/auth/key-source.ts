/**
 * Where realm public keys come from. keycloak-connect's GrantManager asks its `rotation` for a PEM
 * by `kid`; our sources stand in for its Rotation so key loading gets timeouts, refresh limits and
 * an offline mode, while the token checks stay the adapter's own.
 */
export interface KeySource {
  /** The PEM public key for this kid; rejects when the kid is unknown. */
  getJWK(kid: string): Promise<string>
  /**
   * The PEM this source serves for this kid right now without loading anything (undefined when it
   * would have to load it); a source that refreshes may start doing so in the background, as
   * getJWK would. Lets a verifier that kept a token's result check its key is still the realm's.
   */
  loadedKey(kid: string): string | undefined
  /** How many keys are loaded now (readiness). */
  size(): number
}

export class UnknownKeyError extends Error {
  override name = 'UnknownKeyError'
  constructor(reason = 'unknown kid') {
    super(reason)
  }
}

/**
 * The realm's keys have never been loaded (Keycloak unreachable since this process started): no
 * token can be judged, good or bad, so the caller hears the dependency is unavailable (503), not
 * that its token is invalid.
 */
export class KeysUnavailableError extends Error {
  override name = 'KeysUnavailableError'
  constructor() {
    super('realm keys not loaded yet')
  }
}
