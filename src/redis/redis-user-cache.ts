import { DependencyUnavailableError } from '../deletion/errors.js'
import type { UserCache } from '../deletion/ports.js'
import type { RedisClient, RedisConnection } from './redis-client.js'

/** Sunbird's user cache key (Lern's user-cache-updater and user-deletion-cleanup use the same prefix). */
export const userCacheKey = (userId: string) => `user:${userId}`

/**
 * The user hash in Sunbird's cache DB (12). Any failure to talk to Redis is a dependency down: the
 * step is owed. That includes a Redis that takes the command and never answers: each command is
 * bounded by REDIS_TIMEOUT_MS (RedisConnection.command).
 */
export class RedisUserCache implements UserCache {
  constructor(private readonly connection: RedisConnection) {}

  private async run<T>(name: string, call: (client: RedisClient) => Promise<T>): Promise<T> {
    try {
      return await this.connection.command(name, call)
    } catch (err) {
      throw new DependencyUnavailableError('redis', { cause: err })
    }
  }

  async readUser(userId: string): Promise<Record<string, string> | undefined> {
    const hash = await this.run('HGETALL', (client) => client.hGetAll(userCacheKey(userId)))
    return Object.keys(hash).length > 0 ? { ...hash } : undefined
  }

  async deleteUser(userId: string): Promise<number> {
    return this.run('DEL', (client) => client.del(userCacheKey(userId)))
  }
}
