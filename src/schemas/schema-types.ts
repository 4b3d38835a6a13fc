// Generated from schemas/ by `npm run schemas:types` (json-schema-to-typescript): do not edit.
// SchemaTypes maps each schema $id to the type of a value that schema accepts; operations take
// their validated body, path and query types from it (see src/http/operation.ts), and the service
// its configuration type (Config, src/config/config.ts) from ServiceConfiguration.

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
  config: ServiceConfiguration
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
 * The merged result of config/default.json, config/<NODE_ENV>.json, config/local.json and the environment variables of config/custom-environment-variables.json. Validated once at start-up.
 */
export interface ServiceConfiguration {
  /**
   * Deployment name (Sunbird `env_name`); also names the default topic of the delete-user event.
   */
  env: string
  http: {
    /**
     * HTTP port.
     */
    port: number
    /**
     * Bind address.
     */
    host: string
    /**
     * Largest request body, in bytes: a larger Content-Length is refused before the body is read, a chunked body is cut off at it (413 `UOS_USRDLT0007`, the message names this number; the connection is closed after it). Routes that take no body (the REST DELETE routes, the probes) refuse a larger Content-Length too. The batch submit route (both paths) reads at least 262144 (1000 ids of the longest form).
     */
    maxBodyBytes: number
    /**
     * Request deadline, from the end of the headers to the answer (body read, checks, deletion): past it the caller gets 503 `UOS_USRDLT0064` when nothing was written, never a hang; a deletion whose request exists waits up to 15 s more for its lock's outcome, so that only the winner of concurrent deletions hears 200.
     */
    requestTimeoutMs: number
    /**
     * `Retry-After` of 503 answers (the delete routes and `/ready`).
     */
    retryAfterSeconds: number
    /**
     * Deadline of the request line and headers, counted from the request's first byte (from connecting, for a new connection that sends nothing): past it Node answers 408 and closes the connection (Node's `headersTimeout`).
     */
    headersTimeoutMs: number
    /**
     * Deadline of the whole request, headers and body, counted from its first byte: past it Node answers 408 and closes the connection (Node's `requestTimeout`, the body read deadline). Not below `HTTP_HEADERS_TIMEOUT_MS`.
     */
    receiveTimeoutMs: number
    /**
     * How long an idle kept-alive connection waits for its next request (Node's `keepAliveTimeout`). Behind a load balancer, keep it above the balancer's idle timeout.
     */
    keepAliveTimeoutMs: number
    /**
     * Connections one process holds at once; one beyond it is closed as soon as it is accepted.
     */
    maxConnections: number
  }
  cassandra: {
    /**
     * Cassandra contact points (comma-separated in the env variable).
     *
     * @minItems 1
     */
    hosts: [string, ...string[]]
    /**
     * CQL port.
     */
    port: number
    /**
     * Local data centre, for LOCAL_QUORUM and LOCAL_SERIAL.
     */
    localDataCenter: string
    /**
     * Keyspace of Sunbird's tables and the service's own. Read in lower case, as CQL reads a name unquoted: `Sunbird` is the keyspace `sunbird`.
     */
    keyspace: string
    /**
     * Keyspace replication (JSON), taken whole: a value given replaces the default entirely (e.g. `{"class":"NetworkTopologyStrategy","datacenter1":3}`). `npm run db:migrate` creates a new keyspace with it (with the default when unset). An existing keyspace whose replication differs is altered only when this is set, and the log says a repair (more replicas) or a cleanup (fewer) is due; unset, an existing keyspace (Sunbird's own) is left as it is.
     */
    replication?: {
      class: string
      [k: string]: string | number
    }
    /**
     * Cassandra user name; unset for a cluster without authentication.
     */
    username?: string
    /**
     * Cassandra password.
     */
    password?: string
    /**
     * Driver connect timeout.
     */
    connectTimeoutMs: number
    /**
     * Driver read timeout of each statement; past it the call counts as unavailable.
     */
    readTimeoutMs: number
  }
  auth: {
    apiBearer: {
      /**
       * JSON file of the gateway consumers whose JWTs are accepted as API bearer (see docs/integrating.md, Credentials); a relative path is read from the project folder.
       */
      consumersFile: string
    }
    userToken: {
      /**
       * Keycloak base URL (a trailing `/` allowed, as Sunbird writes it); user tokens must carry `iss` = this URL + `/realms/` + the realm.
       */
      ssoUrl: string
      /**
       * Keycloak realm of the users.
       */
      realm: string
      /**
       * Folder of PEM public keys, file name = kid (Sunbird's layout); wins over the realm's JWKS when set. Empty: keys come from the realm's JWKS.
       */
      publicKeyDir: string
      /**
       * Sunbird's federation provider id: when set, a federated token subject `f:<provider>:<id>` must name this provider, and the Keycloak admin calls look for a user as `f:<provider>:<id>` (as Sunbird does) and as the plain id: sign-out, removal, disable and enable act on each account Keycloak holds under either, export and step-up read the first found; empty: any one provider is accepted in a subject, and admin calls use the plain id only.
       */
      federationProviderId: string
      /**
       * JWKS mode: the realm's keys are fetched at most this often, whatever kids tokens name, counted from the answer to the last fetch.
       */
      jwksMinRefreshIntervalMs: number
      /**
       * JWKS mode: keys older than this are fetched again on next use, in the background while the cached keys keep serving, so a key removed from the realm stops verifying tokens without a restart.
       */
      jwksMaxAgeMs: number
      /**
       * The Keycloak clients (the token's `azp`, comma-separated) whose access tokens the routes taking the person's token alone accept: `Authorization: Bearer` on `DELETE /api/v2/user/{id}/` and `/api/users/{user_id}/`, and the session cookie. Those routes have no gateway JWT beside the token, so without this a token the realm issued to any of its clients (another application the person signed in to) could delete the account: list the clients of your own front ends (e.g. `portal,mobile`). A token of another client, or with no `azp`, is refused 401. Empty (the default): any client of the realm, as before. The Sunbird routes are not concerned: their gateway JWT is the second credential.
       */
      directClients: string[]
    }
    /**
     * The confidential service client that signs users out and removes their accounts (Keycloak admin API; needs realm-management manage-users).
     */
    keycloakAdmin: {
      /**
       * Where the Keycloak admin API answers; empty means `sunbird_sso_url`.
       */
      baseUrl: string
      /**
       * Client id of the confidential service client for Keycloak admin calls (service account with realm-management `manage-users` and `view-users`).
       */
      clientId: string
      /**
       * Its client secret. The default is the local realm's: set your own.
       */
      clientSecret: string
      /**
       * Bound on each Keycloak admin call.
       */
      timeoutMs: number
      /**
       * Retries of a Keycloak admin call on network errors and 5xx.
       */
      retries: number
    }
    /**
     * How far ahead of this service's clock an issuer's may be: a token whose `iat` is later than now plus this is refused (API bearer, user token, `X-Authenticated-For` token), and step-up takes a user token's `auth_time`, or its Keycloak session's start, later than that as no login time. `exp` and `nbf` get no leeway.
     */
    clockSkewSeconds: number
    /**
     * The session-cookie route, `DELETE /api/users/{user_id}`.
     */
    session: {
      /**
       * Name of the session cookie that holds the person's Keycloak access token on `DELETE /api/users/{user_id}` (a backend-for-frontend keeps it so).
       */
      cookieName: string
      /**
       * Origins (scheme://host[:port], comma-separated) a browser may call the session-cookie route from: they get credentialed CORS; a cookie-authenticated call from any other `Origin` (or `Sec-Fetch-Site: cross-site`) is refused 403 as cross-site request forgery. Empty: no browser origin is allowed.
       */
      allowedOrigins: string[]
      /**
       * Whether the session cookie is `Secure`: its clearing after a deletion then says so too.
       */
      cookieSecure: boolean
    }
  }
  authorization: {
    /**
     * Whom an ORG_ADMIN may delete: users of the organisations in its token's scope (`organisation`), or any user (`any`, Sunbird's behaviour).
     */
    orgAdminScope: 'organisation' | 'any'
  }
  deletion: {
    /**
     * Roles a deletable user may hold (comma-separated in the env variable, case-insensitive); a user holding any other role answers 400 `UOS_USRDLT0083`.
     *
     * @minItems 1
     */
    allowedRoles: [string, ...string[]]
    /**
     * How often open deletion requests (crashed runners, owed Keycloak steps, grace periods that have ended, cancels half done) are resumed; 0 turns the sweeper off. At most an hour (a longer interval than a timer can wait, 2^31-1 ms, would run every millisecond).
     */
    sweepIntervalMs: number
    /**
     * When the sweeper tries again a deletion request left owing steps because a dependency was unavailable (the search engine, Redis, Keycloak down or refusing, or a store this instance is not configured with): after `firstMs`, twice as long after each further run in a row that left it so, at most `maxMs`, each wait shortened by up to a fifth at random. One owed past a per-run bound (more work left) is due again at once. The request stays `partial` (or `scheduled`) and listed meanwhile; `npm run deletion:resume` takes it up without waiting.
     */
    owedRetry: {
      /**
       * `DELETION_OWED_RETRY_FIRST_MS`: how long the sweeper leaves a deletion request after a run left it owing a step because a dependency was unavailable (the search engine, Redis, Keycloak down or refusing, a store this instance is not configured with); twice as long after each further such run in a row, at most `DELETION_OWED_RETRY_MAX_MS`, each wait shortened by up to a fifth at random; a run that changed something on the step starts the count again. One left owing past a per-run bound (more work left), even for only part of the managed users' step, is due again at once. A request waiting stays `partial` (or `scheduled`) and listed; `npm run deletion:resume` takes it up without waiting.
       */
      firstMs: number
      /**
       * `DELETION_OWED_RETRY_MAX_MS`: the longest such wait; 0: no wait, owed requests are tried again at every sweeper pass (as before this setting).
       */
      maxMs: number
    }
    /**
     * How long one runner holds a deletion request without reaching a checkpoint (each checkpoint renews it); a crashed runner's request is resumed after it. A run that outlasts it between two checkpoints may be taken over; it then stops at its next write and records nothing more (unless it stalled right between its end's write and that end's audit record: then the record may be there twice, the same `requestId` and `event`). Keep it above the request deadline.
     */
    leaseMs: number
    /**
     * Key of the HMAC that stands for the user in receipts and of the hashes of the contacts a deletion request keeps for `deletion:verify` (each kept with the id of the key that made it; changing the key leaves earlier requests to be verified with the old one, see [changing the receipt key](#changing-the-receipt-key)). The default is a local development key: set your own. A secret (`x-secret`): with `NODE_ENV=production` the service refuses to start while it is the value shipped in `config/default.json`.
     */
    receiptHashKey: string
    /**
     * Sunbird's `sunbird_encryption_key`, as userorg-service runs with it, for a deployment whose user rows hold the contacts encrypted (`sunbird_encryption=ON`, Sunbird's default; the key Sunbird ships is `SunBird`). Sunbird keys its `otp` and `rate_limit` rows by the plain email or phone, while the user row holds them encrypted: with this key the `email`, `phone`, `prevusedemail`, `prevusedphone`, `recoveryemail` and `recoveryphone` the row holds are decrypted (Sunbird's algorithm, `DefaultDecryptionServiceImpl`) to find those rows, and a value that does not decrypt with it (stored plain, before encryption was on) is used as stored; `user_lookup` and the user row are erased by the values they hold, as without it. With it too, the export gives the person the row's encrypted columns (`username` and `loginid` as well), their `email`, `phone` and `username` lookups, the same fields of their search document and user cache, and the declared email and phone of their `user_declarations` and external identities decrypted, and the event's `userName` (`EVENTS_INCLUDE_USER_NAME`) is the decrypted username, as Sunbird's own; a deletion, its dry run or an export that read contacts that do not decrypt logs `user row contacts not decrypted` with their count (a wrong key, or contacts stored plain). Unset or empty: every value is used as stored, right for a deployment that stores them plain; one that encrypts must set it, else its `otp` and `rate_limit` rows (kept up to a day) are not found: the receipt says `deleted 0` and `deletion:verify` finds nothing either, and the export and the event carry the ciphertext (see [encrypted contacts](#encrypted-contacts)). A secret (`x-secret`): never logged, never in an error or a receipt; the start-up line says only whether it is set.
     */
    sunbirdEncryptionKey?: string
    /**
     * Length of one day of `request.gracePeriodDays`, in seconds: 86400 in production; a few seconds for tests and demos.
     */
    graceDaySeconds: number
    /**
     * `ERASURE_EXTRA_TARGETS`: tables of other keyspaces keyed by user id that a deletion erases too when it erases (Sunbird's deletion, a hard one, the end of a grace period; a soft deletion keeps them, so a cancel finds them as they were), for the user and the users they manage, as a JSON array of `{"keyspace","table","userColumn","action":"delete"|"blank","columns"?}` (`columns`: what `blank` sets to null). Empty by default: those tables are left to their owners via the delete-user event.
     *
     * @maxItems 100
     */
    extraTargets: {
      keyspace: string
      table: string
      userColumn: string
      action: 'delete' | 'blank'
      /**
       * @minItems 1
       */
      columns?: [string, ...string[]]
    }[]
    /**
     * Step-up: when set, a deletion (not a dry run) needs a user token whose login (`auth_time`, else its Keycloak session's start) is at most this many seconds old; otherwise 401 `UOS_USRDLT0096` with `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=<n>` (RFC 9470). Unset: no such check (Sunbird's behaviour).
     */
    maxAuthAgeSeconds?: number
    /**
     * Mass-deletion guard: a requester (the person of the user token, or the trusted consumer on a route without one) who has deleted this many users in the last hour (a window sliding by the minute), on any single-delete route and instance (counted in Cassandra per minute: each deletion reserves its place before it starts and gives it back when refused or failed, so successes are what stays counted), gets 429 `UOS_USRDLT0104` with `Retry-After`. Deleting oneself is never limited; batch jobs are paced instead. 0 turns it off.
     */
    maxPerRequesterPerHour: number
  }
  logging: {
    /**
     * pino log level.
     */
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  }
  /**
   * The audit trail: one hash chain per running instance, anchored periodically.
   */
  audit: {
    /**
     * How often each instance records the head (last sequence number and hash) of its audit chain in user_deletion_audit_anchor, so that removing records from a chain's end up to that head fails `npm run audit:verify`; at most this much of a chain's newest records is unanchored.
     */
    anchorIntervalMs: number
  }
  /**
   * Refusing the tokens of deleted users.
   */
  lockout: {
    /**
     * How long a user's 'not deleted' answer is trusted without reading Cassandra again ('deleted' is kept a day, but a managed user's refusal that rests on their manager's deletion only this long); at most 1 s, so a deletion through any instance locks the user out on every other within a second (in one datacenter: see Production settings). Requests that miss the cache together share one read while it is younger than this; a later one reads again, so a slow Cassandra does not stretch the lag (it may then hold about latency ÷ this many reads per user at once).
     */
    cacheTtlMs: number
    /**
     * Most users whose answer is cached (least recently used go first).
     */
    cacheSize: number
  }
  /**
   * The delete-user event (Sunbird BE_JOB_REQUEST) and its relay to Kafka.
   */
  events: {
    /**
     * Kafka bootstrap servers (comma-separated in the env variable).
     *
     * @minItems 1
     */
    brokers: [string, ...string[]]
    /**
     * Kafka topic of the delete-user event; empty means `<ENV_NAME>.delete.user` (e.g. `local.delete.user`), as Sunbird's devops names it.
     */
    topic: string
    /**
     * Whether `edata.userName` is sent in the event (personal data the consumer does not need; off by default): the user row's `username`, decrypted when Sunbird stores it encrypted and `sunbird_encryption_key` is set, as Sunbird's own event carries it. Best effort: the name is read from the profile by the run that starts the erasure and is not stored, so when that run stops before its event step (a dependency down, a crash, a restart), the event written by the later run that finishes the deletion (the sweeper, another instance, `npm run deletion:resume`) has no `userName`.
     */
    includeUserName: boolean
    /**
     * How often the outbox relay publishes queued events to Kafka; 0 turns the relay off. At most an hour (a longer interval than a timer can wait, 2^31-1 ms, would run every millisecond).
     */
    relayIntervalMs: number
    /**
     * Most bytes of events one send of the relay carries to Kafka (their keys and values, with each record's framing and the batch header): keep it below the topic's `max.message.bytes` (Kafka's default is 1048588). An event larger than this is sent alone; one the topic refuses as too large stays in the outbox, held back, while the others go on (see [an event too large for the topic](#an-event-too-large-for-the-topic)).
     */
    relayMaxSendBytes: number
    /**
     * Bound on connecting to Kafka and on each request, a send included. The relay asks the broker to acknowledge a send within a fifth less (at least 50 ms less: 2400 ms of the default), so that the broker's own timeout normally answers first and kafkajs tries the send again on the same producer, which the broker takes for the duplicate it is. Normally, not always: the broker starts that wait only once it has queued the request and appended the send on its own log, so a slow broker can still answer after the client gave up; the relay then sends those events again with a new producer (a duplicate on the topic, with the same mid).
     */
    timeoutMs: number
  }
  /**
   * Fault injection for the crash tests; ignored when NODE_ENV=production.
   */
  faults?: {
    /**
     * Tests only: kill the process right after this deletion step is recorded. Ignored when `NODE_ENV=production`.
     */
    crashAfterStep?: string
  }
  /**
   * Sunbird's user search engine (Elasticsearch 6.8 / 7.x or OpenSearch 2.x, HTTP API): the `user_alias` and `usernotes` indexes. Without hosts the search side is reported `not configured`.
   */
  search: {
    /**
     * Sunbird's search engine (Elasticsearch 6.8 / 7.x or OpenSearch 2.x): host names or addresses (comma-separated in the env variable). A value with a scheme (`https://host`) is used as it is; one that makes no URL (a space, a port that is not a number) is refused at start, naming the setting and which host, never the value. Empty: not configured, said at start, and `/ready` has no search checks.
     */
    hosts: string[]
    /**
     * HTTP port of the search engine, for every host given without a scheme.
     */
    port: number
    /**
     * Bound on one search engine request.
     */
    timeoutMs: number
  }
  /**
   * The Redis where Sunbird caches users (`user:<id>` hashes). Without a host Redis is reported `not configured`.
   */
  redis: {
    /**
     * Host of the Redis that holds Sunbird's user cache (`user:<id>` hashes). Empty: not configured, said at start, and `/ready` has no redis check.
     */
    host: string
    /**
     * Redis port.
     */
    port: number
    /**
     * The database of Sunbird's user cache (12 in Sunbird's Flink jobs).
     */
    db: number
    /**
     * Bound on connecting to Redis and on one command.
     */
    timeoutMs: number
    /**
     * Largest `user:<id>` this service reads, in bytes: its size is asked first (a string's length; a hash's, list's, set's or sorted set's members or a stream's entries, then Redis's `MEMORY USAGE` of it), and a larger one is never read (a stream is read page by page until it passes this number, one page past it at most, and refused unread only when its `MEMORY USAGE` is over twice this number and 8 KiB: see [A huge key in Sunbird's cache](#a-huge-key-in-sunbirds-cache)): the export answers its type and size instead of its value (`cacheValue.tooLarge`), and a deletion removes it all the same. More members than a third of this number is over it too (each takes at least three bytes of the answer); on a Redis without `MEMORY USAGE` (before 4.0, or an ACL user not granted it) the members alone are checked.
     */
    maxValueBytes: number
    /**
     * Redis ACL user name (Redis 6 and later), sent with the password; unset: the `default` user, as a bare password (`requirepass`) means. Sunbird has no variable for it.
     */
    username?: string
    /**
     * Password of the Redis that holds the user cache (`requirepass`, or the ACL user's), sent when connecting; unset or empty: none. Sunbird's own name for it (the portal's `sunbird_redis_password`). A Redis that wants one and is not given it (or is given a wrong one) leaves the cache step owed, and the log's `why` says so (`NOAUTH`, `WRONGPASS`). A secret (`x-secret`): never logged, never in an error or a receipt; the start-up line says only whether it is set.
     */
    password?: string
    /**
     * Connect to Redis over TLS (a Redis with `tls-port`, or a managed one that requires it), checking its certificate against Node's trusted authorities: a private authority is added with Node's `NODE_EXTRA_CA_CERTS` (a PEM file), as for a search engine on `https://`. An untrusted certificate leaves the cache step owed, and the log's `why` says so.
     */
    tls: boolean
  }
  /**
   * Batch deletion jobs: their pace, their spread over instances, their circuit breaker.
   */
  batch: {
    /**
     * `BATCH_MAX_DELETIONS_PER_SECOND`: deletions per second of one batch job across every instance (a per-second token budget shared in Cassandra), so the cluster keeps serving the platform; 0: no limit.
     */
    maxDeletionsPerSecond: number
    /**
     * Slices of batch jobs one instance works at once (each slice's users one after another).
     */
    concurrency: number
    /**
     * Most users per slice: the unit of a job one instance leases at a time, its users deleted one after another. A job with fewer than `BATCH_CONCURRENCY` × this many users is cut into `BATCH_CONCURRENCY` slices (that of the instance that accepts the job), so a small job is worked in parallel too.
     */
    sliceSize: number
    /**
     * How long a slice stays with an instance that stopped renewing it (a crash); after it any instance takes the slice over, and the earlier holder writes nothing more of it. A user the holder tries first (their deletion request created without a lightweight transaction) holds that request only until the slice lease ends, until the deletion's first checkpoint: keep it at least `DELETION_LEASE_MS`, or the sweeper may take over a slow start (safe, but done twice).
     */
    leaseMs: number
    /**
     * How often an instance looks for open jobs and free slices; 0: this instance works no batch jobs.
     */
    pollIntervalMs: number
    /**
     * Tries of one user that meet an unavailable dependency before the user is reported failed (`UOS_USRDLT0064`).
     */
    maxAttempts: number
    /**
     * The circuit breaker of each batch job: it pauses the job (state `paused`) when the share of deletions that met an unavailable dependency (Cassandra, Keycloak) in the window reaches `failureRate` over at least `minAttempts` tries, and resumes it when a probe after `coolOffSeconds` succeeds.
     */
    breaker: {
      /**
       * `BATCH_BREAKER_WINDOW_SECONDS`: the window the failure rate is measured over.
       */
      windowSeconds: number
      /**
       * `BATCH_BREAKER_MIN_ATTEMPTS`: fewer tries in the window never open the breaker.
       */
      minAttempts: number
      /**
       * `BATCH_BREAKER_FAILURE_RATE`: share of failed tries (0–1] that opens the breaker.
       */
      failureRate: number
      /**
       * `BATCH_BREAKER_COOL_OFF_SECONDS`: how long an open breaker waits before one probe.
       */
      coolOffSeconds: number
    }
  }
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
