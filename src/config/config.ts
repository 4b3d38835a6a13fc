import type { ExtraTarget } from '../deletion/ports.js'

/** The validated configuration (shape defined by schemas/config.json). */
export interface Config {
  readonly env: string
  readonly http: {
    readonly port: number
    readonly host: string
    readonly maxBodyBytes: number
    readonly requestTimeoutMs: number
    readonly retryAfterSeconds: number
    readonly headersTimeoutMs: number
    /** Node's requestTimeout: the whole request, body included, must arrive within it. */
    readonly receiveTimeoutMs: number
    readonly keepAliveTimeoutMs: number
    readonly maxConnections: number
  }
  readonly cassandra: {
    readonly hosts: readonly string[]
    readonly port: number
    readonly localDataCenter: string
    readonly keyspace: string
    /**
     * CASSANDRA_REPLICATION, when set (env or a config file). Absent: a new keyspace gets the
     * schema's default, and an existing one (Sunbird's own, in production) is never altered.
     */
    readonly replication?: Readonly<Record<string, string | number>>
    readonly username?: string
    readonly password?: string
    readonly connectTimeoutMs: number
    readonly readTimeoutMs: number
  }
  readonly auth: {
    readonly apiBearer: { readonly consumersFile: string }
    readonly userToken: {
      readonly ssoUrl: string
      readonly realm: string
      readonly publicKeyDir: string
      /** Empty: a federated subject may name any one provider. */
      readonly federationProviderId: string
      readonly jwksMinRefreshIntervalMs: number
      readonly jwksMaxAgeMs: number
      /** USER_TOKEN_DIRECT_CLIENTS: the clients (`azp`) whose tokens the routes taking the person's token alone accept; empty: any. */
      readonly directClients: readonly string[]
    }
    readonly keycloakAdmin: {
      readonly baseUrl: string
      readonly clientId: string
      readonly clientSecret: string
      readonly timeoutMs: number
      readonly retries: number
    }
    readonly clockSkewSeconds: number
    /** The session-cookie route (DELETE /api/users/{user_id}): SESSION_COOKIE_NAME, SESSION_ALLOWED_ORIGINS, SESSION_COOKIE_SECURE. */
    readonly session: { readonly cookieName: string; readonly allowedOrigins: readonly string[]; readonly cookieSecure: boolean }
  }
  readonly authorization: { readonly orgAdminScope: 'organisation' | 'any' }
  readonly deletion: {
    readonly allowedRoles: readonly string[]
    readonly sweepIntervalMs: number
    readonly leaseMs: number
    /** When a request owed for want of a dependency is tried again (DELETION_OWED_RETRY_FIRST_MS, DELETION_OWED_RETRY_MAX_MS; maxMs 0: at every pass). */
    readonly owedRetry: { readonly firstMs: number; readonly maxMs: number }
    readonly receiptHashKey: string
    /** sunbird_encryption_key: Sunbird's key of the user row's encrypted contacts; a secret, never logged; absent or empty: contacts used as stored. */
    readonly sunbirdEncryptionKey?: string
    /** Length of a grace day (DELETION_GRACE_DAY_SECONDS). */
    readonly graceDaySeconds: number
    /** Step-up (DELETION_MAX_AUTH_AGE_SECONDS); absent: none. */
    readonly maxAuthAgeSeconds?: number
    /** Tables of other keyspaces every deletion erases too (ERASURE_EXTRA_TARGETS); empty by default. */
    readonly extraTargets: readonly ExtraTarget[]
    /** The mass-deletion guard (DELETION_MAX_PER_REQUESTER_PER_HOUR); 0: off. */
    readonly maxPerRequesterPerHour: number
  }
  /** Batch deletion jobs: pace, spread over instances, circuit breaker. */
  readonly batch: {
    readonly maxDeletionsPerSecond: number
    readonly concurrency: number
    readonly sliceSize: number
    readonly leaseMs: number
    readonly pollIntervalMs: number
    readonly maxAttempts: number
    readonly breaker: { readonly windowSeconds: number; readonly minAttempts: number; readonly failureRate: number; readonly coolOffSeconds: number }
  }
  readonly events: {
    readonly brokers: readonly string[]
    /** Resolved: never empty after loading (<env>.delete.user by default). */
    readonly topic: string
    readonly includeUserName: boolean
    readonly relayIntervalMs: number
    /** Most bytes of events in one send of the relay (EVENT_RELAY_MAX_SEND_BYTES). */
    readonly relayMaxSendBytes: number
    readonly timeoutMs: number
  }
  /** Sunbird's user search (sunbird_es_host / sunbird_es_port); no hosts = not configured. */
  readonly search: { readonly hosts: readonly string[]; readonly port: number; readonly timeoutMs: number }
  /** Sunbird's user cache (sunbird_redis_host / sunbird_redis_port); empty host = not configured. */
  readonly redis: {
    readonly host: string
    readonly port: number
    readonly db: number
    readonly timeoutMs: number
    /** REDIS_USERNAME: an ACL user; absent: the `default` user. */
    readonly username?: string
    /** sunbird_redis_password: a secret, never logged; absent or empty: none. */
    readonly password?: string
    /** REDIS_TLS; absent (a connection built by hand, in tests): off. */
    readonly tls?: boolean
    /** REDIS_MAX_VALUE_BYTES: the largest user:<id> read; absent (a connection built by hand, in tests): the adapter's default. */
    readonly maxValueBytes?: number
  }
  readonly faults: { readonly crashAfterStep?: string }
  /** The audit trail's anchors (AUDIT_ANCHOR_INTERVAL_MS). */
  readonly audit: { readonly anchorIntervalMs: number }
  readonly lockout: { readonly cacheTtlMs: number; readonly cacheSize: number }
  readonly logging: { readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' }
}

export type DeepPartial<T> = { -readonly [K in keyof T]?: T[K] extends object ? (T[K] extends readonly unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] }
