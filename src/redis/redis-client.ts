import { createClient } from '@redis/client'
import type { Config } from '../config/config.js'

export type RedisClient = ReturnType<typeof createClient>

export function isRedisConfigured(config: Config['redis']): boolean {
  return config.host.length > 0
}

/**
 * The connection to Sunbird's user cache (sunbird_redis_host / sunbird_redis_port, DB 12).
 * Client: @redis/client, the core of node-redis (maintained by Redis and recommended by it over
 * ioredis; the `redis` package adds only modules this service does not use).
 * Connects on first use, reconnects in the background, and never queues a command while down:
 * a call fails at once instead of hanging the request that made it.
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
    this.connecting ??= this.client
      .connect()
      .then(() => this.client)
      .finally(() => {
        this.connecting = undefined
      })
    return withTimeout(this.connecting, this.config.timeoutMs, 'redis connect')
  }

  /** PING within the timeout; false when Redis does not answer. */
  async ping(): Promise<boolean> {
    try {
      const client = await this.connected()
      return (await withTimeout(client.ping(), this.config.timeoutMs, 'redis ping')) === 'PONG'
    } catch {
      return false
    }
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close().catch(() => this.client.destroy())
    else if (this.connecting) this.client.destroy()
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
  })
  return Promise.race([work, late]).finally(() => clearTimeout(timer))
}
