// Generated from schemas/ by `npm run schemas:types` (json-schema-to-typescript): do not edit.
// SchemaTypes maps each schema $id to the type of a value that schema accepts; operations take
// their validated body, path and query types from it (see src/http/operation.ts).

export type ErrorEnvelope = SunbirdResponseEnvelope & {
  params?: {
    err?: string
    errmsg?: string
    status?: 'FAILED'
  }
  responseCode?: {
    [k: string]: unknown
  }
  result?: {}
}
/**
 * Answer of GET /health (the process is alive; no checks) and GET /ready (each dependency check). When a check fails /ready answers 503 with this same envelope, FAILED and UOS_USRDLT0064, so a probe sees which check failed.
 */
export type HealthAndReadiness = SunbirdResponseEnvelope & {
  id?: 'api.health' | 'api.ready'
  ver?: 'v1'
  result?: {
    name: 'sunbird-user-delete'
    healthy: boolean
    checks: {
      name: string
      healthy: boolean
    }[]
  }
}
/**
 * The JSON `true`: the account is deleted and the session cleared.
 */
export type DeletedSessionRoute = true
/**
 * The job is cancelled (`cancelled`): no deletion of its users begins once the runners see it, within about a second; a deletion already under way is finished, every other user is kept and reads `cancelled` in the job's status (but for one whose checks had begun before the runner saw the cancel and fail: it reads `failed` with the check's code, as a single delete would answer). A job with nobody left to settle is `completed` and stays so. Cancelling a cancelled job again changes nothing, and reads `alreadyCancelled`: true, with the first cancel's `cancelledAt`.
 */
export type BatchDeletionCancelled = SunbirdResponseEnvelope & {
  id?: 'api.user.delete.batch.cancel'
  ver?: 'v1'
  params?: {
    err?: null
    errmsg?: null
    status?: 'SUCCESS'
  }
  responseCode?: 'OK'
  result?: {
    response: 'SUCCESS'
    jobId: string
    /**
     * `completed`: every user was settled before the cancel, which changed nothing.
     */
    state: 'cancelled' | 'completed'
    /**
     * Only with `cancelled`: `false` when this call recorded the job's cancel, `true` when an earlier cancel had (another operator's, or this caller's own: a retry after a 503 whose cancel landed reads `true`). Of cancels sent at once exactly one reads `false`: a compare-and-set on the job decides it.
     */
    alreadyCancelled?: boolean
    /**
     * Only with `cancelled`: when the job's cancel was recorded (the one that stands: this call's, or the earlier one), by the clock of the instance that recorded it.
     */
    cancelledAt?: string
  }
}
/**
 * Where the job stands: `running`, `paused` (its circuit breaker is open: a dependency is in trouble; it resumes on its own), `completed`, or `cancelled` (POST /delete/batch/cancel: no deletion begins any more; the users it spared read `cancelled`); counts, failures by code (`FORBIDDEN` for an authorization refusal, else the Sunbird code a single delete answers), the rate of the last minute and the time left at that rate (null when unknown), and one page of per-user outcomes.
 */
export type BatchDeletionStatus = SunbirdResponseEnvelope & {
  id?: 'api.user.delete.batch.status'
  ver?: 'v1'
  params?: {
    err?: null
    errmsg?: null
    status?: 'SUCCESS'
  }
  responseCode?: 'OK'
  result?: {
    jobId: string
    state: 'running' | 'paused' | 'completed' | 'cancelled'
    total: number
    /**
     * Users settled: deleted, failed, or spared by a cancel.
     */
    done: number
    succeeded: number
    /**
     * Failed users by code.
     */
    failed: {
      [k: string]: number
    }
    /**
     * Only for a cancelled job: users its cancel spared (not deleted).
     */
    cancelled?: number
    /**
     * Only when some: users deleted (counted in `succeeded`) whose deletion still owed steps when the job settled them: its request `partial` (a store it erases in was unreachable, e.g. the search engine or Redis: those steps read `pending` in /delete/status) or handed to the sweeper unfinished. They are deleted and locked out, and the owed steps are retried until done. The count is as the job settled each user: it is not lowered as those steps are done later; each one's outcome names the request to follow.
     */
    owed?: number
    progress: number
    /**
     * Users settled by deletion work (deleted or failed) per second: over the last minute while users remain, from the job's creation to its last user deleted or failed once every user is settled. Users a cancel spared are not counted, nor does their settle stretch the span: they are settled at once, by no deletion, and would make the rate jump or sink.
     */
    ratePerSecond: number
    /**
     * Seconds until every user is settled at the current rate: 0 once they are, null while nothing was settled in the last minute.
     */
    etaSeconds: number | null
    outcomes: {
      /**
       * The user's id as stored: the <id> of an f:<provider>:<id> sent, as Sunbird reduces a federated subject.
       */
      userId: string
      status: 'deleted' | 'failed' | 'pending' | 'cancelled'
      err?: string
      /**
       * Only for a user `deleted` whose deletion still owed steps when the job settled them (see `owed` above), as it stood then.
       */
      owed?: true
      /**
       * With `owed`: the user's deletion request (`batch-<hash>`, named from job and user), to follow with POST /api/user/v1/delete/status (or `npm run deletion:verify -- <requestId>`) until it reads `completed`.
       */
      requestId?: string
    }[]
  }
}
/**
 * A user id as this system issues it: a UUID, optionally in Keycloak's federated subject form f:<provider>:<uuid>. null counts as missing (UOS_USRDLT0030), like an absent key.
 */
export type UserId = string
/**
 * The job is recorded (202): every instance works it at the configured pace. Follow it with /delete/batch/status.
 */
export type BatchDeletionAccepted = SunbirdResponseEnvelope & {
  id?: 'api.user.delete.batch'
  ver?: 'v1'
  params?: {
    err?: null
    errmsg?: null
    status?: 'SUCCESS'
  }
  responseCode?: 'OK'
  result?: {
    response: 'SUCCESS'
    jobId: string
    /**
     * Distinct user ids in the job.
     */
    total: number
  }
}
/**
 * The soft deletion is undone: status and isdeleted as before, the Keycloak account enabled (the user logs in anew), tokens accepted again, the scheduled erasure dropped.
 */
export type DeletionCancelled = SunbirdResponseEnvelope & {
  id?: 'api.user.delete.cancel'
  ver?: 'v1'
  params?: {
    err?: null
    errmsg?: null
    status?: 'SUCCESS'
  }
  responseCode?: 'OK'
  result?: {
    response: 'SUCCESS'
  }
}
/**
 * State and per-step outcomes of a deletion request, with the PII-free receipt once it is completed (or partial).
 */
export type DeletionStatus = SunbirdResponseEnvelope & {
  id?: 'api.user.delete.status'
  params?: {
    err?: null
    errmsg?: null
    status?: 'SUCCESS'
  }
  responseCode?: 'OK'
  result?: {
    request: DeletionRequest
  }
}
export type UserDeleteSuccess = SunbirdResponseEnvelope & {
  id?: 'api.user.delete'
  ver?: 'v1'
  params?: {
    err?: null
    errmsg?: null
    status?: 'SUCCESS'
  }
  responseCode?: 'OK'
  /**
   * `{response}` for a deletion done now (the same as Sunbird's); with a grace period, the scheduled erasure; with `dryRun`, the plan.
   */
  result?:
    | {
        response: 'SUCCESS'
      }
    | {
        response: 'SUCCESS'
        /**
         * Follow it with the status endpoint.
         */
        requestId: string
        state: 'scheduled'
        eraseAt: string
      }
    | {
        response: 'SUCCESS'
        dryRun: true
        /**
         * `default`: Sunbird's deletion.
         */
        mode: 'default' | 'soft' | 'hard'
        /**
         * Every store and what a real call would do there.
         */
        plan: {
          store: string
          action: string
          count: number
        }[]
      }
}
/**
 * Everything this service can reach about the person (Art. 15 and 20 GDPR). Sent with `Cache-Control: no-store`; never logged.
 */
export type UserExport = SunbirdResponseEnvelope & {
  id?: 'api.user.export'
  ver?: 'v1'
  params?: {
    err?: null
    errmsg?: null
    status?: 'SUCCESS'
  }
  responseCode?: 'OK'
  result?: {
    /**
     * Everything this service can reach about the person. Values as stored (timestamps as ISO 8601), but for what Sunbird stores encrypted: with `sunbird_encryption_key` set, the user row's and the lookups' encrypted values are given decrypted (see `row` and `lookups`).
     */
    user: {
      /**
       * The sunbird.user row, every column. With `sunbird_encryption_key` set, the columns Sunbird stores encrypted (`email`, `phone`, `username`, `loginid`, `prevusedemail`, `prevusedphone`, `recoveryemail`, `recoveryphone`) are given decrypted, as the person gave them; one that does not decrypt with the key (stored plain, before encryption was on) as stored. Without the key, every column as stored.
       */
      row: {} | null
      /**
       * sunbird.user_lookup rows. With `sunbird_encryption_key` set, the values of types `email`, `phone` and `username` are given decrypted, as the row's columns are (one that does not decrypt, as stored); `externalid` values as stored.
       */
      lookups: {
        type: string
        value: string
      }[]
      /**
       * sunbird.usr_external_identity rows.
       */
      externalIdentities: {}[]
      /**
       * sunbird.user_organisation rows, left ones included.
       */
      organisations: {}[]
      /**
       * sunbird.user_roles rows.
       */
      roles: {}[]
      /**
       * Users this user manages.
       */
      managedUserIds: string[]
      /**
       * sunbird.user_declarations rows (self-declared email, phone, school)
       */
      user_declarations?: {}[]
      /**
       * sunbird.user_consent rows
       */
      user_consent?: {}[]
      /**
       * sunbird.user_notes rows
       */
      user_notes?: {}[]
      /**
       * sunbird.shadow_user rows (legacy migration)
       */
      shadow_user?: {}[]
      /**
       * sunbird.user_feed rows (legacy)
       */
      user_feed?: {}[]
      /**
       * sunbird.user_cert rows (legacy)
       */
      user_cert?: {}[]
      /**
       * sunbird.address rows (legacy)
       */
      address?: {}[]
      /**
       * usernotes documents of the search engine; empty when it is not configured
       */
      searchNotes?: {}[]
      /**
       * The user document of the search engine (alias user_alias); null when there is none or the search engine is not configured.
       */
      searchDocument?: {} | null
      /**
       * The cached hash user:<id> (Redis DB 12); null when there is none or Redis is not configured.
       */
      cache?: {
        [k: string]: string
      } | null
      /**
       * Only when user:<id> holds another type than a hash (written there by something else than Sunbird's jobs), or a key of any type too large to include (`tooLarge`): what it holds, as held, or its size; `cache` is then null. A deletion removes the key whatever its type and size.
       */
      cacheValue?: {
        /**
         * The key's Redis type (string, list, set, zset, hash, stream, …).
         */
        type: string
        /**
         * Its value as held: a string; a list's or a set's members; a sorted set's `{member, score}`; a stream's entries in order, each `{id, fields}`: the entry's id and its fields as the ordered `[name, value]` pairs held (a name may repeat within an entry); null for a type not read (a module's, such as ReJSON-RL: its reads are the module's own) and for a key too large to include (`tooLarge`).
         */
        value: string | unknown[] | null
        /**
         * Only when the key is larger than the service reads (`REDIS_MAX_VALUE_BYTES`), of any type, a hash included: its size, measured without reading it; `value` is then null. To see the value, an operator reads the key by hand or raises `REDIS_MAX_VALUE_BYTES`; a deletion removes it all the same.
         */
        tooLarge?: {
          /**
           * Its size in bytes as Redis gives it: a string's length, else the memory Redis holds for the key (`MEMORY USAGE`); absent when not asked (the members were already too many, or the Redis does not answer `MEMORY USAGE`), and for a stream whose entries, read page by page, passed the bound: its `members` are then its entries, and Redis's memory for it (a 4 KiB block for a small one; a field name stored once where an export repeats it in every entry) is given only when over twice the bound and 8 KiB, its entries then not read.
           */
          bytes?: number
          /**
           * How many fields, members or elements it holds (a hash, list, set or sorted set), or entries (a stream).
           */
          members?: number
          /**
           * The bound it passed, in bytes (`REDIS_MAX_VALUE_BYTES`); more members than a third of it count as over it.
           */
          maxBytes: number
        }
      }
      /**
       * Every deletion request recorded for the user, newest first.
       */
      deletionRequests: DeletionRequest[]
      /**
       * The Keycloak account, or null when there is none.
       */
      keycloak: null | {
        username: string | null
        email: string | null
        firstName: string | null
        lastName: string | null
        enabled: boolean
        created: string | null
        attributes: {
          [k: string]: string[]
        }
        federatedIdentities: {
          identityProvider: string
          userId: string
          userName: string
        }[]
      }
    }
  }
}

export interface SchemaTypes {
  'bearer-user-delete.params': PathOfDELETEApiUsersUserId
  'deletion-receipt': DeletionReceipt
  'deletion-request': DeletionRequest
  'drf-detail.error': ErrorDjangoRESTFramework
  envelope: SunbirdResponseEnvelope
  'error.response': ErrorEnvelope
  'health.response': HealthAndReadiness
  'nest.error': ErrorNestJS
  'nuxt.error': ErrorNuxtH3
  'session-user-delete.params': PathOfDELETEApiUsersUserId1
  'session-user-delete.response': DeletedSessionRoute
  'user-delete-batch-cancel.request': BatchDeletionCancelRequest
  'user-delete-batch-cancel.response': BatchDeletionCancelled
  'user-delete-batch-status.request': BatchDeletionStatusRequest
  'user-delete-batch-status.response': BatchDeletionStatus
  'user-delete-batch.request': BatchDeletionRequest
  'user-delete-batch.response': BatchDeletionAccepted
  'user-delete-cancel.request': CancelADeletion
  'user-delete-cancel.response': DeletionCancelled
  'user-delete-status.request': DeletionStatusRequest
  'user-delete-status.response': DeletionStatus
  'user-delete.request': UserDeleteRequest
  'user-delete.response': UserDeleteSuccess
  'user-export.request': ExportAUser
  'user-export.response': UserExport
  'user-id': UserId
  'v1-users-delete.params': PathOfDELETEApiV1UsersId
  'v2-user-delete.params': PathOfDELETEApiV2UserId
  'v2-user-delete.query': QueryOfDELETEApiV2UserId
}
/**
 * The user to delete (seed 000).
 */
export interface PathOfDELETEApiUsersUserId {
  /**
   * The user id (a UUID, as this service issues them). Any other value names no user: 404 `{"detail":"User not found"}`.
   */
  user_id: string
}
/**
 * What a completed deletion did, per store, and why; no personal data: the user appears only as a keyed hash (HMAC-SHA256), with the id of the key that made it.
 */
export interface DeletionReceipt {
  requestId: string
  subject: string
  /**
   * Which key made `subject`, without telling it: the first 16 hex characters of HMAC-SHA256(key, "key-id"). Matching a receipt to a user takes that key (DELETION_RECEIPT_HASH_KEY when the receipt was made). Absent on receipts made before it was recorded.
   */
  subjectKeyId?: string
  state: 'completed' | 'partial'
  completedAt: string
  stores: {
    store: string
    /**
     * What was done there, e.g. deleted, scrubbed, blanked, tombstoned, kept, absent (nothing there), pending. `absent on resume` (with count 0 where the step counts): a run that resumed the deletion after an earlier attempt was cut short (a crash, an outage) found nothing there, and that attempt may have erased it before it recorded so; it counts as erased.
     */
    action: string
    count?: number
    why: string
    /**
     * The earliest time the store can have physically dropped the old values (overwritten or removed), computed from its live settings: a table's gc_grace_seconds (the values go at the first compaction after it), a topic's retention.ms and segment.ms (counted from the deletion's end, later by as long as the event waited for Kafka). `physicalErasure` says what drops them, and how to make it happen at that time. Only on an entry that erased something (deleted, scrubbed, blanked, tombstoned, hard-deleted, absent on resume, or the event queued or published); absent where the values were kept, and when the store cannot tell (segment merges).
     */
    physicallyErasedBy?: string
    /**
     * How and when the store drops the old values physically, with the settings it was computed from.
     */
    physicalErasure?: string
  }[]
}
/**
 * A deletion request as clients see it: its state, per-step outcomes, and the PII-free receipt once it is completed (or partial). The receipt is left out when the one stored on the request cannot be read (the row was changed or damaged outside the service): the request is answered all the same.
 */
export interface DeletionRequest {
  requestId: string
  userId: string
  /**
   * accepted → in_progress → completed | partial | failed; with a grace period, scheduled (soft-deleted, erasure at eraseAt) before in_progress; a cancel: cancelling → cancelled.
   */
  state: 'accepted' | 'in_progress' | 'scheduled' | 'completed' | 'partial' | 'failed' | 'cancelling' | 'cancelled'
  /**
   * The mode the deletion was asked with; absent for Sunbird's deletion (also one with a grace period and no mode).
   */
  mode?: 'soft' | 'hard'
  /**
   * With a grace period: when the soft deletion turns into the erasure.
   */
  eraseAt?: string
  reason?: string
  steps: {
    [k: string]: {
      status: 'done' | 'pending' | 'skipped'
      action: string
      count?: number
      at: string
    }
  }
  createdAt: string
  updatedAt: string
  receipt?: DeletionReceipt
  /**
   * The deletion request that erased the user after this one and holds them now, when it is another: a managing parent's deletion (it erases its managed users under its own id) or a later hard deletion of the user's own. This request's own outcome (a soft deletion kept, an erasure scheduled) then no longer tells what became of the user; follow that request by its id. Named only to a caller who may follow that request, only when it was made after this one; absent otherwise, and when the hold cannot be read in time.
   */
  erasedBy?: string
}
/**
 * Every error of DELETE /api/v2/user/{id}/ and DELETE /api/users/{user_id}/: the message alone.
 */
export interface ErrorDjangoRESTFramework {
  detail: string
}
/**
 * Every JSON answer of the service. Key order id, ver, ts, params, responseCode, result.
 */
export interface SunbirdResponseEnvelope {
  id: string
  ver: string
  /**
   * UTC time, yyyy-MM-dd HH:mm:ss:SSS+0000
   */
  ts: string
  params: {
    resmsgid: string
    msgid: string
    err: string | null
    status: 'SUCCESS' | 'FAILED'
    errmsg: string | null
  }
  responseCode: 'OK' | 'CLIENT_ERROR' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'RESOURCE_NOT_FOUND' | 'TOO_MANY_REQUESTS' | 'SERVER_ERROR' | 'SERVICE_UNAVAILABLE'
  result: {}
}
/**
 * Every error of DELETE /api/v1/users/{id}: the status and a message; a validation failure also lists what failed.
 */
export interface ErrorNestJS {
  statusCode: number
  message: string
  /**
   * @minItems 1
   */
  errors?: [string, ...string[]]
}
/**
 * Every error of DELETE /api/users/{user_id}: the status, its HTTP reason phrase, and the message under `data`.
 */
export interface ErrorNuxtH3 {
  statusCode: number
  statusMessage: string
  data: {
    message: string
  }
}
/**
 * The user to delete: the session's own (seed 002).
 */
export interface PathOfDELETEApiUsersUserId1 {
  /**
   * The user id, a UUID; any other value is the 400 `Invalid user ID format`, once the session is verified (a call without a valid session is 401 first) and before any authorization check.
   */
  user_id: string
}
/**
 * Body of POST /api/user/v1/delete/batch/cancel: the id of the job to cancel.
 */
export interface BatchDeletionCancelRequest {
  request: {
    jobId: string
  }
}
/**
 * Body of POST /api/user/v1/delete/batch/status: the job id, and which page of its per-user outcomes (`offset` 0–1000, `limit` 1–1000, 100 by default).
 */
export interface BatchDeletionStatusRequest {
  request: {
    jobId: string
    /**
     * A job holds at most 1000 users: past that, every page is empty.
     */
    offset?: number
    limit?: number
  }
}
/**
 * Body of POST /api/user/v1/delete/batch: 1 to 1000 user ids (each by the rules of a single delete's `userId`; the same id twice counts once) and optionally the mode every deletion of the job takes. Unknown keys are ignored; `dryRun` (unless `false`) and `gracePeriodDays`, which a single delete takes, are refused.
 */
export interface BatchDeletionRequest {
  request: {
    /**
     * @minItems 1
     * @maxItems 1000
     */
    userIds: [UserId, ...UserId[]]
    /**
     * `soft` or `hard` for every deletion of the job, as a single delete's `mode`; absent: Sunbird's deletion.
     */
    mode?: 'soft' | 'hard'
    /**
     * Not in a batch: a job deletes. Refused unless `false`, so a client that means a preview never erases; preview each user with the single delete's `dryRun`.
     */
    dryRun?: false
    /**
     * Not in a batch: refused whatever its value, so a client that means a grace period never has its users erased at once.
     */
    gracePeriodDays?: {
      [k: string]: unknown
    }
  }
}
/**
 * Body of POST /api/user/v1/delete/cancel: the soft-deleted user to restore.
 */
export interface CancelADeletion {
  request: {
    userId: UserId
  }
}
/**
 * Body of POST /api/user/v1/delete/status: the deletion request id (the msgid of the delete call) or the user id; with a user id the newest request for that user is answered; when it ended superseded (a delete that lost a race for the user, a cancel overtaken), the user's request that took them instead, if the caller may read it, since that one tells what became of the user.
 */
export interface DeletionStatusRequest {
  request: (
    | {
        requestId: unknown
        userId?: never
      }
    | {
        userId: unknown
        requestId?: never
      }
  ) & {
    requestId?: string
    userId?: UserId
  }
}
/**
 * Body of POST /api/user/v1/delete. Unknown keys are ignored, as Sunbird's Request class ignores them, so existing clients that send id/ver/params keep working. Without `mode`, `gracePeriodDays` and `dryRun` it is Sunbird's deletion, unchanged. Each keyword names the entry of the error table its failure answers with (x-error-codes).
 */
export interface UserDeleteRequest {
  request: {
    userId: UserId
    /**
     * `soft`: locked out, everything kept, restorable by cancel. `hard`: Sunbird's deletion plus everything Sunbird keeps, down to a tombstone. Absent: Sunbird's deletion.
     */
    mode?: 'soft' | 'hard'
    /**
     * Soft-delete now and erase (Sunbird's deletion, or hard with `mode: hard`) after this many days (a day lasts DELETION_GRACE_DAY_SECONDS). Not with `mode: soft`.
     */
    gracePeriodDays?: number
    /**
     * Run every check and answer what would happen in each store, writing nothing.
     */
    dryRun?: boolean
  }
}
/**
 * Body of POST /api/user/v1/export: the user whose data is exported.
 */
export interface ExportAUser {
  request: {
    userId: UserId
  }
}
/**
 * The user to delete (seed 001).
 */
export interface PathOfDELETEApiV1UsersId {
  /**
   * The user id, a UUID; any other value is the 400 `id must be a valid UUID`.
   */
  id: string
}
/**
 * The user to delete (seed 003).
 */
export interface PathOfDELETEApiV2UserId {
  /**
   * The user id (a UUID, as this service issues them). Any other value names no user: 404 `{"detail":"User not found"}`.
   */
  id: string
}
/**
 * Other query parameters are ignored.
 */
export interface QueryOfDELETEApiV2UserId {
  /**
   * `1` or `true` (in any letter case: `True`, as Python's requests sends a bool): hard deletion (everything erased, down to a tombstone; irreversible). Absent or any other value: soft deletion (locked out, everything kept). Sent more than once, the last value counts, as Django REST framework reads it (`?hard=0&hard=1` is hard).
   */
  hard?: string
}

/** The $id of a schema in schemas/ that has a type here. */
export type SchemaId = keyof SchemaTypes
