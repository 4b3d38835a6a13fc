import { serve } from '@hono/node-server'
import { composeService } from './compose.js'
import { loadConfig } from './config/load-config.js'
import { createLogger } from './logging/logger.js'

const config = loadConfig()
const logger = createLogger(config.logging.level)
const service = composeService(config, logger)

const server = serve({ fetch: service.app.fetch, port: config.http.port, hostname: config.http.host }, (info) => {
  logger.info({ port: info.port, host: config.http.host, env: config.env }, 'listening')
})

// Owed Keycloak erasures are settled in the background; one pass at a time, never overlapping.
let sweeping: Promise<void> | undefined
const sweepTimer =
  config.deletion.sweepIntervalMs > 0
    ? setInterval(() => {
        sweeping ??= service
          .sweep()
          .then((report) => {
            if (report.settled || report.stillPending || report.abandoned) logger.info({ ...report }, 'identity erasure sweep')
          })
          .catch((err: unknown) => logger.warn({ err }, 'identity erasure sweep failed'))
          .finally(() => {
            sweeping = undefined
          })
      }, config.deletion.sweepIntervalMs)
    : undefined
sweepTimer?.unref()

let stopping = false
/** Stop accepting, let in-flight requests finish (bounded by the request deadline), then close the pool. */
function shutdown(signal: string): void {
  if (stopping) return
  stopping = true
  if (sweepTimer) clearInterval(sweepTimer)
  logger.info({ signal }, 'shutting down')
  const force = setTimeout(() => {
    logger.error('in-flight requests did not finish in time; exiting')
    process.exit(1)
  }, config.http.requestTimeoutMs + 5000)
  force.unref()
  server.close(() => {
    Promise.resolve(sweeping)
      .then(() => service.close())
      .catch((err: unknown) => logger.error({ err }, 'closing Cassandra failed'))
      .finally(() => {
        logger.info('stopped')
        process.exit(0)
      })
  })
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
