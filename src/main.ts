import type { Server as HttpServer } from 'node:http'
import { serve } from '@hono/node-server'
import { startPeriodicJobs } from './background-jobs.js'
import { composeService } from './compose.js'
import { loadConfig, orExitOnConfigError } from './config/load-config.js'
import { LOCK_DECISION_WAIT_MS } from './deletion/commit-gate.js'
import { deferContinueToRoutes } from './http/expect-continue.js'
import { gracefulClose } from './http/graceful-close.js'
import { leaseAdvice } from './lease-advice.js'
import { applyConnectionLimits, httpServerOptions } from './http/server-limits.js'
import { createLogger } from './logging/logger.js'
import { shutdownOnSignal } from './shutdown.js'

const config = orExitOnConfigError(loadConfig)
const logger = createLogger(config.logging.level)
for (const { msg, ...values } of leaseAdvice(config)) logger.warn(values, msg)
const service = orExitOnConfigError(() => composeService(config, logger))
// Said at start, "not configured" included: an operator sees which of Sunbird's stores this instance reaches.
logger.info(service.searchAndCache.describe(), 'search engine and user cache')
// Whether the user row's contacts are decrypted to find the codes keyed by the plain value: whether the key is set, never the key.
logger.info({ contacts: config.deletion.sunbirdEncryptionKey ? 'decrypted (sunbird_encryption_key set)' : 'used as stored (sunbird_encryption_key not set)' }, 'user row contacts')

const server = serve({ fetch: service.app.fetch, port: config.http.port, hostname: config.http.host, serverOptions: httpServerOptions(config.http) }, (info) => {
  logger.info({ port: info.port, host: config.http.host, env: config.env }, 'listening')
})
// A port another process holds (a second `npm start`): one line and exit 1, not an unhandled 'error' event's stack trace.
server.on('error', (err: NodeJS.ErrnoException) => {
  logger.fatal({ code: err.code, port: config.http.port, host: config.http.host }, err.code === 'EADDRINUSE' ? 'port already in use: stop the process holding it, or set PORT' : 'cannot listen')
  process.exit(1)
})
applyConnectionLimits(server as HttpServer, config.http)
deferContinueToRoutes(server as HttpServer)
const closeServer = gracefulClose(server)

// The sweeper resumes deletion requests a crash or an outage left open; the relay publishes events.
const jobs = startPeriodicJobs(
  [
    { name: 'deletion-sweeper', intervalMs: config.deletion.sweepIntervalMs, run: (stopping) => service.resumeOpen(stopping) },
    { name: 'event-relay', intervalMs: config.events.relayIntervalMs, run: (stopping) => service.publishEvents(stopping) },
  ],
  logger,
  () => service.schema.ready(),
)

// Batch jobs: this instance takes its share of every open job's slices.
service.batches.start()

/** The latest an in-flight request answers: its deadline, or a deletion's wait past it for its lock (see answerByDeadline). */
const answeredWithinMs = config.http.requestTimeoutMs + LOCK_DECISION_WAIT_MS
// Stop the background work at once, let in-flight requests and passes finish (bounded by the request
// deadline; a second more lets them answer), then close the stores.
const shutdown = shutdownOnSignal({
  logger,
  jobs,
  batches: service.batches,
  settles: { finish: () => service.requests.finishSettling(), unsettled: () => service.requests.unsettled(), unwithdrawn: () => service.requests.unwithdrawn() },
  closeServer,
  closeService: () => service.close(),
  exit: (code) => process.exit(code),
  drainMs: answeredWithinMs + 1000,
  closeMs: 4000,
})
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
