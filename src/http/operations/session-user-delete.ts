import { ApiError } from '../api-error.js'
import { credentialedCors } from '../cors.js'
import { sessionCookie } from '../credentials/session-cookie.js'
import { nuxtError } from '../dialects/nuxt-error.js'
import { deadlineOf, defineOperation, requestIdOf } from '../operation.js'
import { answerOf, OWN_ACCOUNT_DELETION_ERRORS, storedUserId, storedUserIdParams } from './rest-deletion.js'
import { ownAccountOnlyWhenSoftDeleted } from './own-account-when-soft-deleted.js'

/** Seed 002: a Nuxt server route behind a session cookie; deletes the session's own account for good and clears the session. */
export const sessionUserDelete = defineOperation({
  id: 'api.users.delete.session',
  method: 'DELETE',
  paths: ['/api/users/:user_id'],
  summary: 'Delete your own account for good and end the session (clients of a Nuxt deletion route, session cookie)',
  description: [
    "The session cookie (`SESSION_COOKIE_NAME`, `neptun-session` by default) holding the person's Keycloak access token. The session's own account only. " +
      'A malformed id is 400 once the session is verified (401 first without one), before any authorization check. A call from an `Origin` not in `SESSION_ALLOWED_ORIGINS`, or with `Sec-Fetch-Site: cross-site`, is refused 403 (cross-site request forgery). ' +
      'Every answer carries `Vary: Origin`; only an allowed origin also gets credentialed CORS (`Access-Control-Allow-Origin: <origin>`, `Access-Control-Allow-Credentials: true`), never `*`. Any other origin, or none, gets neither.',
    'Hard deletion (down to a tombstone; irreversible; the Keycloak account and its sessions end). The answer expires the cookie (`Max-Age=0; Path=/; HttpOnly; SameSite=Lax`, `Secure` when `SESSION_COOKIE_SECURE=true`). ' +
      'A soft-deleted person may still finish their own deletion (200). `X-Request-Id` names the request for `/api/user/v1/delete/status`.',
    '`Idempotency-Key` and step-up (`DELETION_MAX_AUTH_AGE_SECONDS`: 401 with RFC 9470 `WWW-Authenticate`) as on the Sunbird route.',
  ].join('\n\n'),
  tag: 'users',
  credentials: sessionCookie,
  request: { params: 'session-user-delete.params' },
  responseSchema: 'session-user-delete.response',
  errors: ['INVALID_USER_ID', ...OWN_ACCOUNT_DELETION_ERRORS, 'CROSS_SITE_REQUEST', 'METHOD_NOT_ALLOWED'],
  dialect: nuxtError,
  cors: credentialedCors,
  idempotent: true,
  sameRequestParams: storedUserIdParams,
  admitSoftDeleted: true,
  endsSession: true,
  stepUp: () => true,
  async handle(input, services) {
    const { params, caller, msgid } = input
    const userId = storedUserId(params.user_id)
    // A soft-deleted person's session is refused (401) for any account but their own, as on the other person routes.
    ownAccountOnlyWhenSoftDeleted(caller, userId)
    if (userId !== caller.userId) throw new ApiError('FORBIDDEN', { reason: 'not the session’s own account' })
    return answerOf(await services.deleteAccount({ ...requestIdOf(input), userId, caller, mode: 'hard', ...deadlineOf(input) }), msgid)
  },
})
