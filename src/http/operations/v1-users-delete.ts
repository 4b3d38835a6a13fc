import { noPreflight } from '../cors.js'
import { gatewayConsumer } from '../credentials/gateway-consumer.js'
import { nestError } from '../dialects/nest-error.js'
import { deadlineOf, defineOperation, requestIdOf } from '../operation.js'
import { answerOf, storedUserId } from './rest-deletion.js'

/** Seed 001: a service-to-service NestJS route that deletes for good. */
export const v1UsersDelete = defineOperation({
  id: 'api.v1.users.delete',
  method: 'DELETE',
  paths: ['/api/v1/users/:id'],
  summary: 'Delete a user for good, service to service (clients of a NestJS deletion API)',
  description:
    'A gateway consumer JWT alone (`Authorization: Bearer …`) of a consumer whose entry in the consumers file has `"deleteAnyUser": true`; any other consumer is 403. No person token. ' +
    'Hard deletion (down to a tombstone; irreversible): a soft- or Sunbird-deleted user is deleted hard (204), a hard-deleted one is 404. ' +
    "The request is recorded as asked by `consumer:<key>`; `X-Request-Id` names it for `/api/user/v1/delete/status` (an ORG_ADMIN of the user's organisation may follow it).",
  tag: 'users',
  credentials: gatewayConsumer,
  request: { params: 'v1-users-delete.params' },
  errors: [
    'PAYLOAD_TOO_LARGE',
    'INVALID_USER_ID',
    'MALFORMED_AUTHORIZATION',
    'UNAUTHORIZED',
    'FORBIDDEN',
    'ROLE_RESTRICTED',
    'USER_NOT_FOUND',
    'DELETION_LIMIT_REACHED',
    'METHOD_NOT_ALLOWED',
    'SERVICE_UNAVAILABLE',
    'SERVER_ERROR',
  ],
  dialect: nestError,
  cors: noPreflight,
  async handle(input, services) {
    const { params, caller, msgid } = input
    return answerOf(await services.deleteAccount({ ...requestIdOf(input), userId: storedUserId(params.id), caller, mode: 'hard', ...deadlineOf(input) }), msgid)
  },
})
