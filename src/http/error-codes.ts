/**
 * Every answer the service can give other than success, spelled exactly as Sunbird spells it, and
 * how it is rendered. The only place these codes and messages appear; the renderer, the OpenAPI
 * document and the tests read them from here, and no code singles an entry out by name.
 */
export interface ErrorCodeEntry {
  readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 422 | 429 | 500 | 503
  readonly responseCode: 'CLIENT_ERROR' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'RESOURCE_NOT_FOUND' | 'TOO_MANY_REQUESTS' | 'SERVER_ERROR' | 'SERVICE_UNAVAILABLE'
  readonly err: string
  /** Placeholders (`{limit}`) are filled in from configuration; see fillPlaceholders. */
  readonly errmsg: string
  /** Why a caller sees it. */
  readonly description: string
  /** How the Sunbird dialect answers it: its JSON envelope (absent), or errmsg alone as plain text (Sunbird's 403). */
  readonly body?: 'plain-text'
  /** Headers every dialect sends with it; placeholders (`{retryAfter}`) are filled in from configuration. */
  readonly headers?: Readonly<Record<string, string>>
}

/** The configured values an entry's message or headers may name. */
export interface PlaceholderValues {
  /** {limit}: the body limit in bytes. */
  maxBodyBytes: number
  /** {retryAfter}: seconds a caller should wait before retrying. */
  retryAfterSeconds: number
  /** {maxAuthAge}: DELETION_MAX_AUTH_AGE_SECONDS, when step-up is on. */
  maxAuthAgeSeconds?: number
  /** {allow}: the methods the path serves, a 405's own (methodNotAllowed). */
  allow?: string
}

/** An entry's message or header value with its placeholders filled in. */
export function fillPlaceholders(text: string, values: PlaceholderValues): string {
  // Most messages name none: nothing to format for them (every error answer passes here).
  if (!text.includes('{')) return text
  return text
    .replace('{limit}', String(values.maxBodyBytes))
    .replace('{retryAfter}', String(values.retryAfterSeconds))
    .replace('{maxAuthAge}', values.maxAuthAgeSeconds === undefined ? '<DELETION_MAX_AUTH_AGE_SECONDS>' : String(values.maxAuthAgeSeconds))
    .replace('{allow}', values.allow ?? '')
}

export const errorCodes = {
  INVALID_REQUEST_DATA: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0028',
    errmsg: 'Requested data for this operation is not valid.',
    description: 'Body is not JSON, not an object, or has no `request` object.',
  },
  MANDATORY_PARAM_MISSING: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0030',
    errmsg: 'Mandatory parameter userId is missing.',
    description: '`request.userId` is absent or null.',
  },
  MANDATORY_PARAM_EMPTY: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0031',
    errmsg: 'Mandatory parameter userId is empty.',
    description: '`request.userId` is an empty or blank string.',
  },
  DATA_TYPE_ERROR: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0003',
    errmsg: 'Data type of userId should be String.',
    description: '`request.userId` is a number, boolean, array or object.',
  },
  INVALID_USER_ID: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0009',
    errmsg: 'Invalid format for given userId.',
    description: '`request.userId` is not an id this system issues (UUID, optionally f:<provider>:<uuid>).',
  },
  REQUEST_ID_EMPTY: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0031',
    errmsg: 'Mandatory parameter requestId is empty.',
    description: '`request.requestId` of the status route is an empty string (the code of an empty `userId`).',
  },
  REQUEST_ID_DATA_TYPE_ERROR: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0003',
    errmsg: 'Data type of requestId should be String.',
    description: '`request.requestId` of the status route is a number, boolean, null, array or object (the code of such a `userId`).',
  },
  INVALID_REQUEST_ID: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0009',
    errmsg: 'Invalid format for given requestId.',
    description: '`request.requestId` of the status route is longer than 255 characters or holds a character outside visible ASCII (the code of such a `userId`).',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0007',
    errmsg: 'Maximum upload data size should be {limit}',
    description: "Body larger than the route's limit (bytes); the connection is closed after this answer.",
    // The body refused is never read whole, nor after the answer: the connection is closed (as nginx and
    // Node's own server do), so its unread bytes are never taken for the next request on it.
    headers: { Connection: 'close' },
  },
  UNAUTHORIZED: {
    status: 401,
    responseCode: 'UNAUTHORIZED',
    err: 'UOS_0070',
    errmsg: 'You are not authorized.',
    description: 'API bearer or user token missing, malformed, badly signed, expired, not yet valid, from another issuer, or belonging to a deleted user.',
  },
  FORBIDDEN: {
    status: 403,
    responseCode: 'FORBIDDEN',
    err: 'FORBIDDEN',
    errmsg: 'You do not have permission to perform this operation',
    description:
      "Valid credentials, but the caller is neither the user, the managing parent (X-Authenticated-For) nor an ORG_ADMIN of the user's organisation. Header `x-request-allowed: no`; on the Sunbird routes the body is plain text, on the others it is their dialect's error body.",
    body: 'plain-text',
    headers: { 'x-request-allowed': 'no' },
  },
  ROLE_RESTRICTED: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0083',
    errmsg: 'User is restricted from deleting account based on roles!',
    description: 'The user holds a role outside `user-deletion-roles`.',
  },
  USER_NOT_FOUND: {
    status: 404,
    responseCode: 'RESOURCE_NOT_FOUND',
    err: 'UOS_USRDLT0013',
    errmsg: 'user',
    description: 'No such user.',
  },
  DELETION_REQUEST_NOT_FOUND: {
    status: 404,
    responseCode: 'RESOURCE_NOT_FOUND',
    err: 'UOS_USRDLT0013',
    errmsg: 'deletion request',
    description: 'No deletion request with that id, or none for that user (status endpoint).',
  },
  ALREADY_DELETED: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0008',
    errmsg: 'User is already deleted.',
    description: 'The user was deleted before (also the answer to all but one of concurrent deletes).',
  },
  INVALID_DELETION_MODE: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0090',
    errmsg: 'Invalid mode. Valid values are: soft, hard.',
    description: '`request.mode` is present but neither `soft` nor `hard`.',
  },
  INVALID_GRACE_PERIOD: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0091',
    errmsg: 'Invalid gracePeriodDays. It should be an integer from 1 to 30.',
    description: '`request.gracePeriodDays` is not an integer, or outside 1–30.',
  },
  INVALID_DRY_RUN: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0092',
    errmsg: 'Data type of dryRun should be Boolean.',
    description: '`request.dryRun` is present but not `true` or `false`.',
  },
  INVALID_MODE_COMBINATION: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0093',
    errmsg: 'gracePeriodDays cannot be combined with mode soft.',
    description: '`request.mode` is `soft` and `request.gracePeriodDays` is present: a soft deletion is never erased on its own.',
  },
  USER_NOT_DELETED: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0094',
    errmsg: 'User is not deleted.',
    description: 'Cancel of a user who is not (soft-)deleted: there is nothing to restore.',
  },
  USER_ERASED: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0095',
    errmsg: 'User is already erased and cannot be restored.',
    description: "Cancel of a user whose personal data was erased (Sunbird's deletion, or the end of a grace period): too late to restore.",
  },
  STEP_UP_REQUIRED: {
    status: 401,
    responseCode: 'UNAUTHORIZED',
    err: 'UOS_USRDLT0096',
    errmsg: 'A more recent login is required to delete this account.',
    description:
      "Step-up (`DELETION_MAX_AUTH_AGE_SECONDS` set): the user token's login (`auth_time`) is older than allowed, or unknown. Send the person through login again (RFC 9470: `max_age` in `WWW-Authenticate`).",
    headers: { 'WWW-Authenticate': 'Bearer error="insufficient_user_authentication", max_age={maxAuthAge}' },
  },
  IDEMPOTENCY_KEY_INVALID: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0097',
    errmsg: 'Idempotency-Key should be 1 to 255 characters.',
    description: 'The `Idempotency-Key` header is empty or longer than 255 characters; nothing was done.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0098',
    errmsg: 'Idempotency-Key was already used for a different request.',
    description: 'The same caller sent this `Idempotency-Key` within 24 h with another body (or to another operation); nothing was done.',
  },
  IDEMPOTENCY_KEY_IN_FLIGHT: {
    status: 409,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0099',
    errmsg: 'A request with this Idempotency-Key is still in progress.',
    description: 'The first request with this `Idempotency-Key` has not answered yet; retry after it has, to get its answer.',
  },
  INVALID_USER_IDS: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0100',
    errmsg: 'userIds should be a list of 1 to 1000 user ids.',
    description: '`request.userIds` of a batch is absent, not a list, empty, or longer than 1000; each id follows the rules of `userId`.',
  },
  BATCH_JOB_NOT_FOUND: {
    status: 404,
    responseCode: 'RESOURCE_NOT_FOUND',
    err: 'UOS_USRDLT0101',
    errmsg: 'batch job',
    description: 'No batch job with that `jobId`.',
  },
  INVALID_JOB_ID: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0102',
    errmsg: 'Invalid jobId.',
    description: '`request.jobId` is absent or not a job id this service issues (a UUID).',
  },
  INVALID_PAGE: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0103',
    errmsg: 'offset should be an integer from 0 to 1000, limit an integer from 1 to 1000.',
    description: '`request.offset` or `request.limit` of a batch status is not such an integer.',
  },
  DELETION_LIMIT_REACHED: {
    status: 429,
    responseCode: 'TOO_MANY_REQUESTS',
    err: 'UOS_USRDLT0104',
    errmsg: 'Too many deletions by this requester in this hour.',
    description:
      'The requester (the person of the user token, or the trusted consumer on a route without one) has deleted (or is deleting, at the same time) `DELETION_MAX_PER_REQUESTER_PER_HOUR` users in the last hour (sliding by the minute), on any route and instance; nothing was done. `Retry-After` says when enough of them have left the hour for one more (the rest of the current minute while the refusal rests on the deletions of that minute, some of which may still be in flight). Deleting oneself is never limited; batch jobs have their own pace.',
    // Documented here; the guard's own value, when its hour frees a slot, replaces the default (render-error.ts).
    headers: { 'Retry-After': '{retryAfter}' },
  },
  BATCH_OPTION_NOT_SUPPORTED: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0105',
    errmsg: 'dryRun and gracePeriodDays are not supported in a batch job.',
    description:
      '`request.dryRun` (other than `false`) or `request.gracePeriodDays` in a batch: a job deletes at once, so a preview or a grace period asked of it is refused rather than ignored; nothing was done. A single delete takes both.',
  },
  CROSS_SITE_REQUEST: {
    status: 403,
    responseCode: 'FORBIDDEN',
    err: 'UOS_USRDLT0140',
    errmsg: 'Cross-site request refused.',
    description:
      'A session-cookie call (`DELETE /api/users/{user_id}`) from an `Origin` not in `SESSION_ALLOWED_ORIGINS`, or marked `Sec-Fetch-Site: cross-site`: refused as cross-site request forgery before the cookie is read.',
  },
  MANAGED_USER_TOKEN_REFUSED: {
    status: 403,
    responseCode: 'FORBIDDEN',
    err: 'UOS_USRDLT0141',
    errmsg: 'X-Authenticated-For is not a valid token of a user you manage.',
    description:
      "On the REST routes that take the person's token in `Authorization: Bearer`: that token is valid, but the managed user's token in `X-Authenticated-For` is refused (forged, expired, without `parentId`, or of a user deleted for good). No `WWW-Authenticate`: the access token is not at fault, and refreshing it would not help. (The Sunbird routes answer this 401 `UOS_0070`, as Sunbird does.)",
  },
  MALFORMED_AUTHORIZATION: {
    status: 400,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_USRDLT0142',
    errmsg: 'Authorization should be one header: Bearer and one token.',
    description:
      'On the REST routes that take `Authorization: Bearer`: the header names the Bearer scheme but holds more than one token, most often because two `Authorization` headers were sent (they arrive joined). RFC 6750 §3.1 `invalid_request`: the request is malformed, a new token would not help. A header of another scheme, or `Bearer` with no token, is a missing token (401, bare `Bearer` challenge).',
    headers: { 'WWW-Authenticate': 'Bearer error="invalid_request"' },
  },
  API_NOT_FOUND: {
    status: 404,
    responseCode: 'RESOURCE_NOT_FOUND',
    err: 'UOS_APINOTFOUND',
    errmsg: 'Requested API is not found.',
    description: 'No such path.',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    responseCode: 'CLIENT_ERROR',
    err: 'UOS_METHODNOTALLOWED',
    errmsg: 'Method not allowed.',
    description: 'The path exists but not for this method; see the `Allow` header.',
    // Every 405 says which methods the path serves (RFC 9110); the value is the path's own (methodNotAllowed).
    headers: { Allow: '{allow}' },
  },
  SERVICE_UNAVAILABLE: {
    status: 503,
    responseCode: 'SERVICE_UNAVAILABLE',
    err: 'UOS_USRDLT0064',
    errmsg: 'SERVICE UNAVAILABLE',
    description:
      'A dependency (Cassandra) is unreachable, timed out or overloaded, or its replicas failed the read or write (ReadFailure, WriteFailure: e.g. a read over more tombstones than `tombstone_failure_threshold`, a failing disk on a replica), or the request deadline passed. Nothing was half-written; retry after `Retry-After` seconds.',
    headers: { 'Retry-After': '{retryAfter}' },
  },
  SERVER_ERROR: {
    status: 500,
    responseCode: 'SERVER_ERROR',
    err: 'UOS_0069',
    errmsg: 'server error',
    description: 'Anything unexpected; details only in the service log under the request id.',
  },
} as const satisfies Record<string, ErrorCodeEntry>

export type ErrorCode = keyof typeof errorCodes

/** An entry of the table with every optional field visible (the literal types above omit what an entry leaves out). */
export function errorEntry(code: ErrorCode): ErrorCodeEntry {
  return errorCodes[code]
}
