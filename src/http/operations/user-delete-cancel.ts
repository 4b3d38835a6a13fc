import { userIdFromSubject } from '../../auth/user-token-verifier.js'
import { portalCors } from '../cors.js'
import { gatewayAndUserToken } from '../credentials/gateway-and-user-token.js'
import { sunbirdEnvelope } from '../dialects/sunbird-envelope.js'
import { deadlineOf, defineOperation } from '../operation.js'
import { ownAccountOnlyWhenSoftDeleted } from './own-account-when-soft-deleted.js'

export const userDeleteCancel = defineOperation({
  id: 'api.user.delete.cancel',
  method: 'POST',
  paths: ['/api/user/v1/delete/cancel', '/v1/user/delete/cancel'],
  aliasNote: "the service path behind Sunbird's gateway",
  summary: 'Cancel a soft deletion (with or without a grace period) and restore the account',
  description:
    'Allowed for the user themselves (their still-unexpired token is accepted here, and only here, while they are soft-deleted), their managing parent, or an ORG_ADMIN of their organisation. Status and isdeleted go back to what they were, the Keycloak account is enabled again (the user logs in anew), tokens are accepted again and a scheduled erasure is dropped. `Idempotency-Key` as on the delete route. The request deadline passing once the restore has begun is answered 200 (the cancel completes), not 503.',
  tag: 'users',
  credentials: gatewayAndUserToken,
  request: { body: 'user-delete-cancel.request' },
  responseSchema: 'user-delete-cancel.response',
  errors: [
    'INVALID_REQUEST_DATA',
    'MANDATORY_PARAM_MISSING',
    'MANDATORY_PARAM_EMPTY',
    'DATA_TYPE_ERROR',
    'INVALID_USER_ID',
    'IDEMPOTENCY_KEY_INVALID',
    'PAYLOAD_TOO_LARGE',
    'UNAUTHORIZED',
    'FORBIDDEN',
    'USER_NOT_DELETED',
    'USER_ERASED',
    'USER_NOT_FOUND',
    'IDEMPOTENCY_KEY_IN_FLIGHT',
    'IDEMPOTENCY_KEY_REUSED',
    'SERVICE_UNAVAILABLE',
    'SERVER_ERROR',
  ],
  dialect: sunbirdEnvelope,
  cors: portalCors,
  idempotent: true,
  admitSoftDeleted: true,
  async handle(input, services) {
    const {
      body: { request },
      caller,
    } = input
    const userId = userIdFromSubject(request.userId)
    // A soft-deleted person is let in here for one thing only: getting their own account back.
    ownAccountOnlyWhenSoftDeleted(caller, userId)
    // Past the deadline once the restore has begun, the answer is the cancel's success, never "retry".
    await services.cancelDeletion({ userId, caller, ...deadlineOf(input) })
    return { response: 'SUCCESS' }
  },
})
