import { bearerCors } from '../cors.js'
import { keycloakBearer } from '../credentials/keycloak-bearer.js'
import { drfDetail } from '../dialects/drf-detail.js'
import { deadlineOf, defineOperation, requestIdOf } from '../operation.js'
import { answerOf, PERSON_DELETION_ERRORS, storedUserId, storedUserIdParams } from './rest-deletion.js'
import { ownAccountOnlyWhenSoftDeleted } from './own-account-when-soft-deleted.js'

/** `true` in any letter case: Python's requests sends a bool parameter as `True`, and a client asking for erasure must not be soft-deleted. */
const HARD = new Set(['1', 'true'])

/** Seed 003: a Django REST framework route, soft by default, hard with `?hard=1`; the seed's four repeat rules. */
export const v2UserDelete = defineOperation({
  id: 'api.v2.user.delete',
  method: 'DELETE',
  paths: ['/api/v2/user/:id/', '/api/v2/user/:id'],
  aliasNote: 'the same route without the trailing slash; neither redirects to the other',
  summary: 'Delete a user, soft or hard (clients of a Django REST framework deletion API)',
  description: [
    "The person's Keycloak token alone (`Authorization: Bearer …`). Allowed for the user themselves, their managing parent (`X-Authenticated-For`) or an ORG_ADMIN of their organisation. " +
      'Soft by default (locked out, everything kept); `?hard=1` (or `true`, in any letter case) erases everything down to a tombstone. The same engine, request record, receipt, audit and event as `POST /api/user/v1/delete`; `X-Request-Id` names the request for `/api/user/v1/delete/status`.',
    'Repeat rules: soft on a soft-deleted user 400 `The user has already been soft deleted`; soft on a hard-deleted (or Sunbird-deleted) user 404; hard on a soft- or Sunbird-deleted user deletes it hard (204); hard on a hard-deleted user 404. A caller allowed for nobody hears 403 for every id, hard-deleted or not.',
    '`Idempotency-Key` and step-up (`DELETION_MAX_AUTH_AGE_SECONDS`: 401 with RFC 9470 `WWW-Authenticate`) as on the Sunbird route.',
  ].join('\n\n'),
  tag: 'users',
  credentials: keycloakBearer,
  request: { params: 'v2-user-delete.params', query: 'v2-user-delete.query' },
  // request.query_params.get('hard'): a repeated `hard` counts by its last value.
  repeatedQueryValue: 'last',
  errors: [...PERSON_DELETION_ERRORS, 'MALFORMED_AUTHORIZATION', 'MANAGED_USER_TOKEN_REFUSED', 'ALREADY_DELETED', 'METHOD_NOT_ALLOWED'],
  dialect: drfDetail,
  cors: bearerCors,
  idempotent: true,
  sameRequestParams: storedUserIdParams,
  admitSoftDeleted: true,
  stepUp: () => true,
  async handle(input, services) {
    const { params, query, caller, msgid } = input
    const userId = storedUserId(params.id)
    ownAccountOnlyWhenSoftDeleted(caller, userId)
    const mode = query.hard !== undefined && HARD.has(query.hard.toLowerCase()) ? 'hard' : 'soft'
    return answerOf(await services.deleteAccount({ ...requestIdOf(input), userId, caller, mode, ...deadlineOf(input) }), msgid)
  },
})
