/**
 * Run as its own process (tsx) by the Redis TLS test: loads the configuration from the environment,
 * as the service does (sunbird_redis_host, sunbird_redis_port, sunbird_redis_password, REDIS_TLS),
 * reads and deletes `user:<argv[2]>` through the service's own adapter, and prints one JSON line.
 * Its own process, because the authority Node trusts is only added at start-up (NODE_EXTRA_CA_CERTS).
 */
import { DependencyUnavailableError } from '../../src/deletion/errors.js'
import { loadConfig } from '../../src/config/load-config.js'
import { RedisConnection } from '../../src/redis/redis-client.js'
import { RedisUserCache } from '../../src/redis/redis-user-cache.js'

const userId = process.argv[2] ?? ''
const connection = new RedisConnection(loadConfig({ logging: { level: 'silent' } }).redis)
const cache = new RedisUserCache(connection)
try {
  const read = await cache.readUser(userId)
  const deleted = await cache.deleteUser(userId)
  console.log(JSON.stringify({ read, deleted }))
} catch (err) {
  const cause = err instanceof DependencyUnavailableError ? err.cause : err
  console.log(JSON.stringify({ failed: err instanceof Error ? err.name : 'error', why: cause instanceof Error ? cause.message : String(cause) }))
} finally {
  await connection.close()
}
