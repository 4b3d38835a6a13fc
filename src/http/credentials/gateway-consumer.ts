import type { Caller } from '../../deletion/caller.js'
import { ApiError } from '../api-error.js'
import { bearerChallenge } from './bearer-challenge.js'
import type { CredentialScheme } from './credential-scheme.js'
import { API_BEARER_SECURITY_SCHEME, checkedApiConsumer } from './gateway-and-user-token.js'
import { refuseMalformedBearer } from './malformed-bearer.js'
import { refusedCredential } from './person-token.js'

/** The caller of a call by a consumer trusted with `deleteAnyUser`: no person, recorded as `consumer:<key>`. */
export function trustedConsumerCaller(consumer: string): Caller {
  return { consumer, userId: `consumer:${consumer}`, roles: [], deleteAnyUser: true }
}

/**
 * A service-to-service call: the gateway consumer JWT alone in `Authorization: Bearer …`, of a
 * consumer whose entry in the consumers file says `"deleteAnyUser": true`. Verified exactly as the
 * Sunbird route's API bearer (401 on any failure); a valid JWT of any other consumer is 403. No
 * person stands behind the call, so there is no lock-out and no step-up; the request is recorded
 * as asked by `consumer:<key>`, and an Idempotency-Key belongs to the consumer.
 */
export const gatewayConsumer: CredentialScheme<Caller> = {
  name: 'gateway-consumer',
  headers: ['Authorization'],
  openApi: {
    security: [{ apiBearer: [] }],
    securitySchemes: { apiBearer: API_BEARER_SECURITY_SCHEME },
    parameters: {},
  },

  // Nothing to wait for: answered, or refused, synchronously (see CredentialScheme.authenticate).
  authenticate(c, verifiers) {
    refuseMalformedBearer(c.req.header('authorization'))
    const apiConsumer = checkedApiConsumer(c, verifiers)
    if ('refusal' in apiConsumer) throw refusedCredential('api-bearer', apiConsumer.refusal)
    if (!apiConsumer.deleteAnyUser) throw new ApiError('FORBIDDEN', { reason: 'consumer not trusted with deleteAnyUser' })
    return trustedConsumerCaller(apiConsumer.consumer)
  },

  async lockOut(caller) {
    return caller
  },
  challenge: bearerChallenge,
  idempotencyOwner: (caller) => `consumer:${caller.consumer}`,
  person: () => undefined,
}
