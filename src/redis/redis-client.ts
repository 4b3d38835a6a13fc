import { createClient } from '@redis/client'
import type { Config } from '../config/config.js'
import { WordedCause } from '../deletion/errors.js'

export type RedisClient = ReturnType<typeof createClient>

export function isRedisConfigured(config: Config['redis']): boolean {
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
 * The connection to Sunbird's user cache (sunbird_redis_host / sunbird_redis_port, DB 12).
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

  constructor(private readonly config: Config['redis']) {
    if (!isRedisConfigured(config)) throw new Error('redis is not configured (sunbird_redis_host is empty)')
    this.client = createClient({
      socket: {
        host: config.host,
        port: config.port,
        connectTimeout: config.timeoutMs,
        reconnectStrategy: (retries) => Math.min(200 * 2 ** retries, 5000),
      },
      database: config.db,
      disableOfflineQueue: true,
    })
    // Without a listener node-redis rethrows connection errors as uncaught; callers see failures on their own calls.
    this.client.on('error', () => undefined)
  }

  /** The connected client (connecting first if needed), within the configured timeout. */
  async connected(): Promise<RedisClient> {
    if (this.client.isReady) return this.client
    if (!this.connecting) {
      const attempt: Promise<RedisClient> = this.client
        .connect()
        .then(() => this.client)
        .finally(() => {
          if (this.connecting === attempt) this.connecting = undefined
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
    this.client.destroy()
  }
}
