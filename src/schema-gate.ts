export interface SchemaGateDeps {
  /** The highest migration applied to the keyspace. A read that fails rejects. */
  appliedVersion(): Promise<number>
  /** The version this build's statements need. */
  required: number
  /** Told once per version seen behind the required one (not on every pass). */
  onBehind(applied: number, required: number): void
}

export interface SchemaGate {
  /**
   * Whether the keyspace has this build's schema. Once it has, it is never read again: migrations
   * only add. Rejects when the version cannot be read, so a pass fails as it would have anyway.
   */
  ready(): Promise<boolean>
}

/**
 * Holds an instance's background work (sweeper, relay, batch slices) until `npm run db:migrate`
 * has run: an instance started before it would meet missing columns half way through a pass, and a
 * batch user could be reported failed for it. HTTP meanwhile: /ready answers 503, which holds callers
 * back only where a router honours it.
 */
export function schemaGate(deps: SchemaGateDeps): SchemaGate {
  let reached = false
  let lastToldBehind: number | undefined
  return {
    async ready() {
      if (reached) return true
      const applied = await deps.appliedVersion()
      if (applied >= deps.required) {
        reached = true
        return true
      }
      if (applied !== lastToldBehind) {
        lastToldBehind = applied
        deps.onBehind(applied, deps.required)
      }
      return false
    },
  }
}
