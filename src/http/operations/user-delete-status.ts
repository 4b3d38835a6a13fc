import { userIdFromSubject } from '../../auth/user-token-verifier.js'
import type { DeletionRequest } from '../../deletion/deletion-request.js'
import { ApiError } from '../api-error.js'
import { portalCors } from '../cors.js'
import { gatewayAndUserToken } from '../credentials/gateway-and-user-token.js'
import { sunbirdEnvelope } from '../dialects/sunbird-envelope.js'
import { defineOperation } from '../operation.js'

/** The wire view: dates as ISO strings, no internal fields. */
function view(request: DeletionRequest) {
  return {
    requestId: request.id,
    userId: request.userId,
    state: request.state,
    ...(request.reason ? { reason: request.reason } : {}),
    steps: request.steps,
    createdAt: request.createdAt.toISOString(),
    updatedAt: request.updatedAt.toISOString(),
    ...(request.receipt ? { receipt: request.receipt } : {}),
  }
}

export const userDeleteStatus = defineOperation({
  id: 'api.user.delete.status',
  method: 'POST',
  paths: ['/api/user/v1/delete/status', '/v1/user/delete/status'],
  aliasNote: "the service path behind Sunbird's gateway",
  summary: 'Follow a deletion request: state, per-step outcomes, and the PII-free receipt',
  tag: 'users',
  credentials: gatewayAndUserToken,
  request: { body: 'user-delete-status.request' },
  responseSchema: 'user-delete-status.response',
  errors: [
    'INVALID_REQUEST_DATA',
    'MANDATORY_PARAM_MISSING',
    'DATA_TYPE_ERROR',
    'MANDATORY_PARAM_EMPTY',
    'INVALID_USER_ID',
    'PAYLOAD_TOO_LARGE',
    'UNAUTHORIZED',
    'FORBIDDEN',
    'DELETION_REQUEST_NOT_FOUND',
    'SERVICE_UNAVAILABLE',
    'SERVER_ERROR',
  ],
  dialect: sunbirdEnvelope,
  cors: portalCors,
  async handle({ body: { request }, caller }, services) {
    if (request.requestId !== undefined) return { request: view(await services.readDeletionStatus({ caller, requestId: request.requestId })) }
    if (request.userId !== undefined) return { request: view(await services.readDeletionStatus({ caller, userId: userIdFromSubject(request.userId) })) }
    // The schema's oneOf lets no body through without one of them.
    throw new ApiError('INVALID_REQUEST_DATA', { reason: 'neither requestId nor userId' })
  },
})
