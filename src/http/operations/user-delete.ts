import { userIdFromSubject } from '../../auth/user-token-verifier.js'
import type { DeletionOutcome } from '../../deletion/delete-account.js'
import { portalCors } from '../cors.js'
import { gatewayAndUserToken } from '../credentials/gateway-and-user-token.js'
import { sunbirdEnvelope } from '../dialects/sunbird-envelope.js'
import { deadlineOf, defineOperation, requestIdOf } from '../operation.js'

/** The envelope's result: Sunbird's `{response}` for a deletion done now, more only where the request asked for more. */
function resultOf(outcome: DeletionOutcome) {
  switch (outcome.kind) {
    case 'deleted':
      return { response: 'SUCCESS' }
    case 'scheduled':
      return { response: 'SUCCESS', requestId: outcome.requestId, state: 'scheduled', eraseAt: outcome.eraseAt.toISOString() }
    case 'dry-run':
      return { response: 'SUCCESS', dryRun: true, mode: outcome.mode, plan: outcome.plan }
  }
}

export const userDelete = defineOperation({
  id: 'api.user.delete',
  method: 'POST',
  paths: ['/api/user/v1/delete', '/v1/user/delete'],
  aliasNote: "the service path behind Sunbird's gateway",
  summary: 'Delete a user account (Sunbird-compatible)',
  description: [
    "Without `mode`, `gracePeriodDays` and `dryRun` this is Sunbird's deletion, unchanged. `mode: soft` locks the user out and keeps everything (undone by `/delete/cancel`); " +
      '`mode: hard` also erases what Sunbird keeps, down to a tombstone; `gracePeriodDays` soft-deletes now and erases when the period ends; `dryRun` answers the plan and writes nothing. ' +
      'With a mode, a hard-deleted user is 404 `UOS_USRDLT0013`, but a caller allowed for nobody (not the user, no managing parent naming them, no ORG_ADMIN) hears 403 for every id, hard-deleted or not.',
    'Send `Idempotency-Key` to make retries safe: the same key and body within 24 h answer the first answer again (`Idempotent-Replayed: true`).',
    'When `DELETION_MAX_AUTH_AGE_SECONDS` is set, a deletion (not a dry run) needs a user token whose login is at most that old (401 `UOS_USRDLT0096` with RFC 9470 `WWW-Authenticate` otherwise).',
  ].join('\n\n'),
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
    'INVALID_DELETION_MODE',
    'INVALID_GRACE_PERIOD',
    'INVALID_DRY_RUN',
    'INVALID_MODE_COMBINATION',
    'IDEMPOTENCY_KEY_INVALID',
    'PAYLOAD_TOO_LARGE',
    'UNAUTHORIZED',
    'STEP_UP_REQUIRED',
    'FORBIDDEN',
    'ROLE_RESTRICTED',
    'USER_NOT_FOUND',
    'ALREADY_DELETED',
    'DELETION_LIMIT_REACHED',
    'IDEMPOTENCY_KEY_IN_FLIGHT',
    'IDEMPOTENCY_KEY_REUSED',
    'SERVICE_UNAVAILABLE',
    'SERVER_ERROR',
  ],
  dialect: sunbirdEnvelope,
  cors: portalCors,
  idempotent: true,
  stepUp: ({ body }) => body.request.dryRun !== true,
  async handle(input, services) {
    const {
      body: { request },
      caller,
    } = input
    // Sunbird reduces a federated subject (f:<provider>:<id>) to the id before anything else.
    const outcome = await services.deleteAccount({
      ...requestIdOf(input),
      userId: userIdFromSubject(request.userId),
      caller,
      ...(request.mode !== undefined && { mode: request.mode }),
      ...(request.gracePeriodDays !== undefined && { gracePeriodDays: request.gracePeriodDays }),
      ...(request.dryRun !== undefined && { dryRun: request.dryRun }),
      ...deadlineOf(input),
    })
    return resultOf(outcome)
  },
})
