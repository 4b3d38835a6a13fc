/**
 * Domain errors of the deletion workflow. They carry no HTTP knowledge and no personal data. Each
 * says what kind of refusal it is (`kind`), once, here: the HTTP answer (src/http/render-error.ts)
 * and the deletion metrics (src/metrics/deletion-outcomes.ts) both read that, neither re-classifies.
 */
export abstract class DeletionError extends Error {
  abstract readonly kind: DeletionErrorKind
}

/** What went wrong, in the domain's words; also the outcome label of the deletion metrics. */
export type DeletionErrorKind =
  | 'not_found'
  | 'request_not_found'
  | 'job_not_found'
  | 'already_deleted'
  | 'not_deleted'
  | 'erased'
  | 'role_restricted'
  | 'forbidden'
  | 'locked_out'
  | 'limit_reached'
  | 'unavailable'

export class UserNotFoundError extends DeletionError {
  override name = 'UserNotFoundError'
  readonly kind = 'not_found'
}

/** No deletion request with that id, or none for that user. */
export class DeletionRequestNotFoundError extends DeletionError {
  override name = 'DeletionRequestNotFoundError'
  readonly kind = 'request_not_found'
}

/** No batch job with that id. */
export class BatchJobNotFoundError extends DeletionError {
  override name = 'BatchJobNotFoundError'
  readonly kind = 'job_not_found'
}

/** The requester has deleted as many users this hour as DELETION_MAX_PER_REQUESTER_PER_HOUR allows. */
export class DeletionLimitReachedError extends DeletionError {
  override name = 'DeletionLimitReachedError'
  readonly kind = 'limit_reached'
  constructor(readonly retryAfterSeconds: number) {
    super('deletions per requester per hour reached')
  }
}

export class UserAlreadyDeletedError extends DeletionError {
  override name = 'UserAlreadyDeletedError'
  readonly kind = 'already_deleted'
}

/** Cancel of a user who is not deleted: there is nothing to restore. */
export class UserNotDeletedError extends DeletionError {
  override name = 'UserNotDeletedError'
  readonly kind = 'not_deleted'
}

/** Cancel of a user whose personal data is already erased (Sunbird's deletion, or the end of a grace period): nothing can be restored. */
export class UserErasedError extends DeletionError {
  override name = 'UserErasedError'
  readonly kind = 'erased'
}

export class RoleRestrictedError extends DeletionError {
  override name = 'RoleRestrictedError'
  readonly kind = 'role_restricted'
}

/** The caller is authenticated but may not delete this user. */
export class NotPermittedError extends DeletionError {
  override name = 'NotPermittedError'
  readonly kind = 'forbidden'
}

/**
 * The caller's own account is deleted, soft-deleted or being deleted since they were verified:
 * refused as the lock-out refuses their token (a batch job whose creator was locked out mid-job).
 */
export class CallerLockedOutError extends DeletionError {
  override name = 'CallerLockedOutError'
  readonly kind = 'locked_out'
}

/** A store or identity provider did not answer in time; nothing was committed by the failing call. */
export class DependencyUnavailableError extends DeletionError {
  override name = 'DependencyUnavailableError'
  readonly kind = 'unavailable'
  constructor(
    readonly dependency: 'cassandra' | 'keycloak' | 'kafka' | 'search' | 'redis',
    options: { cause?: unknown } = {},
  ) {
    super(`${dependency} unavailable`, options)
  }
}

/**
 * A deletion whose request id is derived (a batch job and its user) found that request created
 * already: another runner of the same item opened it. Not an answer to anyone: the batch runner
 * settles the user from that request instead of opening a second one.
 */
export class RequestAlreadyOpenedError extends Error {
  override name = 'RequestAlreadyOpenedError'
  constructor(readonly requestId: string) {
    super('deletion request opened already')
  }
}

/**
 * A submit whose job id follows from its Idempotency-Key found a job under that id that is not
 * this submit's: another creator, mode or list of ids (the key used again, past the 24 h its first
 * answer is kept, for another request). Nothing was written; the operation answers as for a key
 * used again with another request.
 */
export class BatchJobIdTakenError extends Error {
  override name = 'BatchJobIdTakenError'
  constructor() {
    super('batch job id recorded for another submit')
  }
}

/**
 * The cause of a DependencyUnavailableError worded by this service itself (a search engine's status
 * and error type, a Redis command's timeout): it names no user value, so the log may carry it,
 * unlike a driver's or an engine's own message.
 */
export class WordedCause extends Error {}
