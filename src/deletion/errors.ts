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
 * A deletion its caller withdrew right before its request would have been created
 * (DeletionInput.mayBegin answered false, or threw this): nothing was written. Not an answer to
 * anyone: the batch runner records the user of a job cancelled meanwhile `cancelled`; one withdrawn
 * because its caller could not tell (the look at the job failed) carries that failure as its cause.
 */
export class DeletionWithdrawnError extends Error {
  override name = 'DeletionWithdrawnError'
  constructor(
    readonly requestId: string,
    options?: ErrorOptions,
  ) {
    super('deletion withdrawn before its request was created', options)
  }
}

/**
 * A user_deletion_state row this service cannot read: a mode it does not know (written by a newer
 * version of the service, or by hand), or no mode or request id. Reads take such a row for no hold,
 * but no compare-and-set can move it, so no deletion of the user can take its hold: the store says
 * so at once rather than let the lock retry it as contention on every sweeper pass. Not a refusal
 * a caller can act on (a 500, the request left open): an operator repairs or removes the row
 * (docs/operating.md, "A stuck deletion request"), and the sweeper then carries the request on.
 * The message names the mode only when it reads as one (a short word), never other row values.
 */
export class UnreadableDeletionStateError extends Error {
  override name = 'UnreadableDeletionStateError'
  constructor(mode: string | null) {
    const named = mode !== null && /^[A-Za-z_-]{1,32}$/.test(mode) ? `mode '${mode}'` : mode === null ? 'no mode' : 'a mode that is no word'
    super(`user_deletion_state holds ${named} or no request id: this service cannot take or move the hold`)
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

/**
 * Cassandra answered, but this call lost a race to another runner (a compare-and-set lost every
 * time a caller allows, a lease another runner holds): answered as a store out of reach is (503,
 * retry), so the request stays open for the sweeper; its message, the log's reason, says it was
 * contention, not an outage, and the cause (WordedCause) what was contended, naming no user value.
 */
export class ContentionError extends DependencyUnavailableError {
  override name = 'ContentionError'
  constructor(what: string) {
    super('cassandra', { cause: new WordedCause(what) })
    this.message = 'contended: lost a race to another runner (cassandra answered)'
  }
}

/** A race lost as `what` says (see ContentionError). */
export function keptChanging(what: string): ContentionError {
  return new ContentionError(what)
}
