import { bearerCors } from '../cors.js'
import { keycloakBearer } from '../credentials/keycloak-bearer.js'
import { drfDetail } from '../dialects/drf-detail.js'
import { deadlineOf, defineOperation, requestIdOf } from '../operation.js'
import { answerOf, PERSON_DELETION_ERRORS, storedUserId, storedUserIdParams } from './rest-deletion.js'
import { ownAccountOnlyWhenSoftDeleted } from './own-account-when-soft-deleted.js'

/** Seed 000: a Django view that deletes with every cascade, with the authorization check the seed says it lacks. */
export const bearerUserDelete = defineOperation({
  id: 'api.users.delete.bearer',
  method: 'DELETE',
  paths: ['/api/users/:user_id/'],
  summary: 'Delete a user for good (clients of a Django deletion view, bearer token)',
  description: [
    "The person's Keycloak token alone (`Authorization: Bearer …`). Only the user themselves, their managing parent (`X-Authenticated-For`) or an ORG_ADMIN of their organisation. " +
      'Hard deletion with every cascade the engine has (down to a tombstone; irreversible). A soft- or Sunbird-deleted user is deleted hard; a hard-deleted one is 404 (a caller allowed for nobody hears 403 for every id, hard-deleted or not). ' +
      '`X-Request-Id` names the request for `/api/user/v1/delete/status`. The path with the trailing slash only: `/api/users/{user_id}` is the session-cookie route.',
    '`Idempotency-Key` and step-up (`DELETION_MAX_AUTH_AGE_SECONDS`: 401 with RFC 9470 `WWW-Authenticate`) as on the Sunbird route.',
  ].join('\n\n'),
  tag: 'users',
  credentials: keycloakBearer,
  request: { params: 'bearer-user-delete.params' },
  errors: [...PERSON_DELETION_ERRORS, 'MALFORMED_AUTHORIZATION', 'MANAGED_USER_TOKEN_REFUSED', 'METHOD_NOT_ALLOWED'],
  dialect: drfDetail,
  cors: bearerCors,
  idempotent: true,
  sameRequestParams: storedUserIdParams,
  admitSoftDeleted: true,
  stepUp: () => true,
  async handle(input, services) {
    const { params, caller, msgid } = input
    const userId = storedUserId(params.user_id)
    ownAccountOnlyWhenSoftDeleted(caller, userId)
    return answerOf(await services.deleteAccount({ ...requestIdOf(input), userId, caller, mode: 'hard', ...deadlineOf(input) }), msgid)
  },
})
