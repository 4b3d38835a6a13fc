import { userIdFromSubject } from '../../auth/user-token-verifier.js'
import { ApiError } from '../api-error.js'
import { portalCors } from '../cors.js'
import { gatewayAndUserTokenOrTrustedConsumer } from '../credentials/gateway-and-user-token-or-trusted-consumer.js'
import { sunbirdEnvelope } from '../dialects/sunbird-envelope.js'
import { defineOperation } from '../operation.js'
import { deletionRequestView as view } from './deletion-request-view.js'

export const userDeleteStatus = defineOperation({
  id: 'api.user.delete.status',
  method: 'POST',
  paths: ['/api/user/v1/delete/status', '/v1/user/delete/status'],
  aliasNote: "the service path behind Sunbird's gateway",
  summary: 'Follow a deletion request: state, per-step outcomes, and the PII-free receipt',
  tag: 'users',
  // A consumer trusted with deleteAnyUser follows the deletions it asked for with its JWT alone, as it asks for them.
  credentials: gatewayAndUserTokenOrTrustedConsumer,
  request: { body: 'user-delete-status.request' },
  responseSchema: 'user-delete-status.response',
  errors: [
    'INVALID_REQUEST_DATA',
    'MANDATORY_PARAM_MISSING',
    'DATA_TYPE_ERROR',
    'MANDATORY_PARAM_EMPTY',
    'INVALID_USER_ID',
    'REQUEST_ID_EMPTY',
    'REQUEST_ID_DATA_TYPE_ERROR',
    'INVALID_REQUEST_ID',
    'PAYLOAD_TOO_LARGE',
    'UNAUTHORIZED',
    'FORBIDDEN',
    'DELETION_REQUEST_NOT_FOUND',
    'SERVICE_UNAVAILABLE',
    'SERVER_ERROR',
  ],
  // A parent follows their soft-deleted managed user's deletion, as an ORG_ADMIN may.
  admitSoftDeletedManagedUser: true,
  dialect: sunbirdEnvelope,
  cors: portalCors,
  async handle({ body: { request }, caller }, services) {
    if (request.requestId !== undefined) return { request: view(await services.readDeletionStatus({ caller, requestId: request.requestId })) }
    // Ids are stored in lower case; the schema takes a UUID in either case, as the REST and batch routes do.
    if (request.userId !== undefined) return { request: view(await services.readDeletionStatus({ caller, userId: userIdFromSubject(request.userId).toLowerCase() })) }
    // The schema's oneOf lets no body through without one of them.
    throw new ApiError('INVALID_REQUEST_DATA', { reason: 'neither requestId nor userId' })
  },
})
