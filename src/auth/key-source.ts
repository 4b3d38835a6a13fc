/**
 * Where realm public keys come from. keycloak-connect's GrantManager asks its `rotation` for a PEM
 * by `kid`; our sources stand in for its Rotation so key loading gets timeouts, refresh limits and
 * an offline mode, while the token checks stay the adapter's own.
 */
export interface KeySource {
  /** The PEM public key for this kid; rejects when the kid is unknown. */
  getJWK(kid: string): Promise<string>
  /** How many keys are loaded now (readiness). */
  size(): number
}

export class UnknownKeyError extends Error {
  override name = 'UnknownKeyError'
  constructor(reason = 'unknown kid') {
    super(reason)
  }
}
