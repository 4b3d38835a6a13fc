import type { CredentialScheme } from './credential-scheme.js'

/** Operations anyone may call (probes). */
export const noCredentials: CredentialScheme<undefined> = {
  name: 'none',
  headers: [],
  openApi: { security: [], securitySchemes: {}, parameters: {} },
  async authenticate() {
    return undefined
  },
  async lockOut() {
    return undefined
  },
  idempotencyOwner: () => 'anonymous',
  person: () => undefined,
}
