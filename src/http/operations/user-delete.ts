import { userIdFromSubject } from '../../auth/user-token-verifier.js'
import { portalCors } from '../cors.js'
import { gatewayAndUserToken } from '../credentials/gateway-and-user-token.js'
import { sunbirdEnvelope } from '../dialects/sunbird-envelope.js'
import { defineOperation } from '../operation.js'

export const userDelete = defineOperation({
  id: 'api.user.delete',
  method: 'POST',
  paths: ['/api/user/v1/delete', '/v1/user/delete'],
  aliasNote: "the service path behind Sunbird's gateway",
  summary: 'Delete a user account (Sunbird-compatible)',
  tag: 'users',
  credentials: gatewayAndUserToken,
  request: { body: 'user-delete.request' },
  responseSchema: 'user-delete.response',
  errors: [
    'INVALID_REQUEST_DATA',
    'MANDATORY_PARAM_MISSING',
    'MANDATORY_PARAM_EMPTY',
    'DATA_TYPE_ERROR',
    'INVALID_USER_ID',
    'PAYLOAD_TOO_LARGE',
    'UNAUTHORIZED',
    'FORBIDDEN',
    'ROLE_RESTRICTED',
    'USER_NOT_FOUND',
    'ALREADY_DELETED',
    'SERVICE_UNAVAILABLE',
    'SERVER_ERROR',
  ],
  dialect: sunbirdEnvelope,
  cors: portalCors,
  async handle({ body, caller, msgid }, services) {
    // Sunbird reduces a federated subject (f:<provider>:<id>) to the id before anything else.
    const result = await services.deleteUser({ requestId: msgid, userId: userIdFromSubject(body.request.userId), caller })
    return { ...result }
  },
})
