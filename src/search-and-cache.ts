import type { Client } from '@opensearch-project/opensearch'
import type { Config } from './config/config.js'
import type { ReadinessCheck } from './http/operation.js'
import { withoutCredentials } from './logging/without-credentials.js'
import { RedisConnection, isRedisConfigured } from './redis/redis-client.js'
import { checkSearch, createSearchClient, isSearchConfigured } from './search/search-client.js'
import { USER_ALIAS } from './search/sunbird-indexes.js'

/** Sunbird's search engine and user cache, each present only when configured. */
export interface SearchAndCache {
  /** undefined = not configured (sunbird_es_host empty). */
  search: Client | undefined
  /** undefined = not configured (sunbird_redis_host empty). */
  redis: RedisConnection | undefined
  /** Readiness of what is configured: the engine answers and `user_alias` exists; Redis answers PING. */
  readiness(): Promise<ReadinessCheck[]>
  /**
   * How each is configured, for the start-up log line ("not configured" is said, never silent); a
   * user name and password inside a host (`https://user:pass@es:9200`) are shown as `***`.
   */
  describe(): { search: string; redis: string }
  close(): Promise<void>
}

export function connectSearchAndCache(config: Config): SearchAndCache {
  const search = isSearchConfigured(config.search) ? createSearchClient(config.search) : undefined
  const redis = isRedisConfigured(config.redis) ? new RedisConnection(config.redis) : undefined
  return {
    search,
    redis,
    async readiness() {
      const [searchHealth, redisUp] = await Promise.all([search && checkSearch(search, USER_ALIAS), redis?.ping()])
      return [
        ...(searchHealth
          ? [
              { name: 'search', healthy: searchHealth.reachable },
              { name: 'search index', healthy: searchHealth.aliasReady },
            ]
          : []),
        ...(redis ? [{ name: 'redis', healthy: redisUp === true }] : []),
      ]
    },
    describe: () => ({
      search: search ? `${config.search.hosts.map(withoutCredentials).join(',')} port ${config.search.port}` : 'not configured',
      redis: redis ? describeRedis(config.redis) : 'not configured',
    }),
    async close() {
      await Promise.all([search?.close(), redis?.close()])
    },
  }
}

/**
 * The Redis endpoint for the start-up line: host, port and db, then TLS, the ACL user and whether a
 * password is set (`password set`), never the password itself.
 */
function describeRedis(redis: Config['redis']): string {
  const extras = [...(redis.tls ? ['tls'] : []), ...(redis.username ? [`user ${redis.username}`] : []), redis.password ? 'password set' : 'no password']
  return `${withoutCredentials(redis.host)}:${redis.port} db ${redis.db}, ${extras.join(', ')}`
}
