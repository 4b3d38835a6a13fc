import { createClient, ErrorReply } from '@redis/client'
import type { Config } from '../config/config.js'
import { WordedCause } from '../deletion/errors.js'

export type RedisClient = ReturnType<typeof createClient>

/** REDIS_* settings as a connection needs them; `tls` absent (a connection built by hand, in tests): off. */
export type RedisConnectionSettings = Omit<Config['redis'], 'tls' | 'maxValueBytes'> & { readonly tls?: boolean }

export function isRedisConfigured(config: Pick<Config['redis'], 'host'>): boolean {
  return config.host.length > 0
}

/** Redis did not answer within REDIS_TIMEOUT_MS: what was asked (the command's name, never its key) and the bound. */
export class RedisTimeoutError extends WordedCause {
  override name = 'RedisTimeoutError'
  constructor(what: string, ms: number) {
    super(`redis ${what} not answered within ${ms} ms`)
  }
}

/**
 * Redis refused this service's connection for a reason a retry alone will not mend: the credentials
 * (NOAUTH: it wants a password and none was sent; WRONGPASS: the user name or password is not
 * accepted; NOPERM: the ACL user may not run a command the handshake needs) or the server's TLS
 * certificate. Worded here, naming the setting to look at and the reply's code, never the password
 * or Redis's own text. The step stays owed; the next call connects afresh.
 */
export class RedisRefusedError extends WordedCause {
  override name = 'RedisRefusedError'
  constructor(
    message: string,
    /** The reply's code (NOAUTH, WRONGPASS, NOPERM) or the TLS error's code. */
    readonly code: string,
  ) {
    super(message)
  }
}

/** The code of an error reply: its first word when that is one in capitals (WRONGTYPE, NOAUTH, LOADING…). */
export function replyCode(err: unknown): string | undefined {
  if (!(err instanceof ErrorReply)) return undefined
  return /^([A-Z][A-Z_]{1,31})\b/.exec(err.message)?.[1]
}

/** Node's codes for a certificate it does not trust, or one for another host. */
const UNTRUSTED_CERTIFICATE = /^(CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_|ERR_TLS_CERT_ALTNAME_INVALID$|ERR_SSL_)/

/**
 * Whether `err`, met while connecting, is a refusal (RedisRefusedError), worded for the log: the
 * credentials or the certificate. Anything else (refused, reset, slow) is an outage the reconnects
 * and the timeout deal with, and is not named here.
 */
export function refusalOf(err: unknown): RedisRefusedError | undefined {
  const code = replyCode(err)
  if (code === 'NOAUTH') return new RedisRefusedError('redis refused the connection: it requires a password (NOAUTH) and none is set: set sunbird_redis_password', code)
  if (code === 'WRONGPASS')
    return new RedisRefusedError('redis refused the credentials (WRONGPASS): the password in sunbird_redis_password (and the user in REDIS_USERNAME, when set) is not accepted', code)
  if (code === 'NOPERM')
    return new RedisRefusedError('redis refused the user a command the connection needs (NOPERM): grant the ACL user of REDIS_USERNAME SELECT, and the reads (+@read) and DEL on user:*', code)
  const tlsCode = (err as { code?: unknown } | null)?.code
  if (typeof tlsCode === 'string' && UNTRUSTED_CERTIFICATE.test(tlsCode))
    return new RedisRefusedError(
      `redis's TLS certificate was not accepted (${tlsCode}): add its authority with NODE_EXTRA_CA_CERTS, or check sunbird_redis_host names the host the certificate is for`,
      tlsCode,
    )
  return undefined
}

/**
 * The connection to Sunbird's user cache (sunbird_redis_host / sunbird_redis_port, DB 12), with
 * the password (sunbird_redis_password), ACL user (REDIS_USERNAME) and TLS (REDIS_TLS) when set.
 * Client: @redis/client, the core of node-redis (maintained by Redis and recommended by it over
 * ioredis; the `redis` package adds only modules this service does not use).
 * Connects on first use, reconnects in the background, and never queues a command while down:
 * a call fails at once instead of hanging the request that made it.
 *
 * Connecting and each command are bounded by REDIS_TIMEOUT_MS (`command`). The client's own bounds
 * do not cover a command Redis received and never answered: its per-command `timeout` and
 * `abortSignal` stop only a command still waiting to be written, and `socketTimeout` is an idle
 * timer that every other command written restarts. So the bound is kept here, and when it runs out
 * the connection is dropped: Redis answers in order, so every later reply would wait behind the
 * missing one. Dropping it fails that command and those queued behind it (node-redis rejects them),
 * and the next call connects afresh.
 */
export class RedisConnection {
  private readonly client: RedisClient
  private connecting: Promise<RedisClient> | undefined

  constructor(private readonly config: RedisConnectionSettings) {
    if (!isRedisConfigured(config)) throw new Error('redis is not configured (sunbird_redis_host is empty)')
    const socket = { host: config.host, port: config.port, connectTimeout: config.timeoutMs, reconnectStrategy: (retries: number) => Math.min(200 * 2 ** retries, 5000) }
    this.client = createClient({
      // TLS checks the certificate against Node's authorities (NODE_EXTRA_CA_CERTS adds one) and the host's name.
      socket: config.tls ? { ...socket, tls: true as const } : socket,
      // An empty value is no credential: node-redis sends AUTH only for a user name or a password given.
      ...(config.username ? { username: config.username } : {}),
      ...(config.password ? { password: config.password } : {}),
      database: config.db,
      // RESP2: node-redis's default, RESP3, opens with HELLO, which a Redis before 6 (still behind
      // older Sunbird installations) refuses, so every cache step would stay owed. This service's
      // few commands (SELECT, TYPE, the size checks, HGETALL, UNLINK or DEL and the reads of other types) answer alike in both.
      RESP: 2,
      disableOfflineQueue: true,
    })
    // Without a listener node-redis rethrows connection errors as uncaught; callers see failures on their own calls.
    // A refusal met while connecting fails that connect at once (node-redis would only reconnect and be refused again).
    this.client.on('error', (err: unknown) => {
      const refusal = this.refuseConnect && refusalOf(err)
      if (refusal) this.refuseConnect?.(refusal)
    })
  }

  /** Rejects the connect under way, when one is. */
  private refuseConnect: ((refusal: RedisRefusedError) => void) | undefined

  /**
   * The connected client (connecting first if needed), within the configured timeout. A connect that
   * Redis refuses (RedisRefusedError: the credentials, the certificate) fails at once and the
   * connection is dropped, rather than reconnecting until the timeout and failing as not answered.
   */
  async connected(): Promise<RedisClient> {
    if (this.client.isReady) return this.client
    if (!this.connecting) {
      const refused = new Promise<never>((_, reject) => {
        this.refuseConnect = reject
      })
      const attempt: Promise<RedisClient> = Promise.race([this.client.connect().then(() => this.client), refused])
        .catch((err: unknown) => {
          if (err instanceof RedisRefusedError) this.drop()
          throw err
        })
        .finally(() => {
          if (this.connecting === attempt) {
            this.connecting = undefined
            this.refuseConnect = undefined
          }
        })
      this.connecting = attempt
    }
    return this.bounded(this.connecting, 'connect')
  }

  /**
   * Runs one command on the connected client, connecting first if needed; each within the
   * configured timeout, after which it fails with RedisTimeoutError and the connection is dropped.
   * `name` says which command, for the error (never the key: it holds a user id).
   */
  async command<T>(name: string, call: (client: RedisClient) => Promise<T>): Promise<T> {
    const client = await this.connected()
    return this.bounded(call(client), name)
  }

  /** PING within the timeout; false when Redis does not answer. */
  async ping(): Promise<boolean> {
    try {
      return (await this.command('PING', (client) => client.ping())) === 'PONG'
    } catch {
      return false
    }
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close().catch(() => this.client.destroy())
    else if (this.connecting) this.client.destroy()
  }

  /** `work` within the configured timeout; when it runs out, the connection is dropped (see the class). */
  private bounded<T>(work: Promise<T>, what: string): Promise<T> {
    const ms = this.config.timeoutMs
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Rejected first, so the race settles on the timeout rather than on the drop's own rejection of `work`.
        reject(new RedisTimeoutError(what, ms))
        this.drop()
      }, ms)
    })
    return Promise.race([work, late]).finally(() => clearTimeout(timer))
  }

  /** Tears the connection down (idempotent); a connect under way fails, and the next call starts a new one. */
  private drop(): void {
    this.connecting = undefined
    this.refuseConnect = undefined
    if (this.client.isOpen) this.client.destroy()
  }
}
