import type { Caller } from '../../deletion/caller.js'
import type { CredentialScheme } from './credential-scheme.js'
import { checkedApiConsumer, gatewayAndUserToken } from './gateway-and-user-token.js'
import { trustedConsumerCaller } from './gateway-consumer.js'
import { refusedCredential } from './person-token.js'

/**
 * The batch routes' credentials: Sunbird's two (gatewayAndUserToken, the person of the user token
 * acting), or the gateway consumer JWT alone of a consumer trusted with `"deleteAnyUser": true` (a
 * service with no person behind it, as on `DELETE /api/v1/users/{id}`). The user token's presence
 * decides: without one, any other consumer gets the same 401 UOS_0070 as a Sunbird call that
 * forgot it. A trusted consumer's call has no lock-out and no step-up (no person).
 */
export const gatewayAndUserTokenOrTrustedConsumer: CredentialScheme<Caller> = {
  name: 'gateway-and-user-token-or-trusted-consumer',
  headers: gatewayAndUserToken.headers,
  // The API bearer alone is the second alternative; the operations say whose it must be.
  openApi: {
    security: [...gatewayAndUserToken.openApi.security, { apiBearer: [] }],
    securitySchemes: gatewayAndUserToken.openApi.securitySchemes,
    parameters: gatewayAndUserToken.openApi.parameters,
  },

  // The trusted consumer's road is decided without waiting: synchronously (see CredentialScheme.authenticate).
  authenticate(c, verifiers) {
    if (c.req.header('x-authenticated-user-token')?.trim()) return gatewayAndUserToken.authenticate(c, verifiers)
    const apiConsumer = checkedApiConsumer(c, verifiers)
    if ('refusal' in apiConsumer) throw refusedCredential('api-bearer', apiConsumer.refusal)
    if (!apiConsumer.deleteAnyUser) throw refusedCredential('user-token', 'missing')
    return trustedConsumerCaller(apiConsumer.consumer)
  },

  // A person's call is Sunbird's in every respect; only the trusted consumer's differs.
  lockOut: (caller, verifiers, options) => (caller.deleteAnyUser ? Promise.resolve(caller) : gatewayAndUserToken.lockOut(caller, verifiers, options)),
  idempotencyOwner: gatewayAndUserToken.idempotencyOwner,
  person: (caller) => (caller.deleteAnyUser ? undefined : gatewayAndUserToken.person(caller)),
}
