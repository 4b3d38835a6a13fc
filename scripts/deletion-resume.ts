import { composeService } from '../src/compose.js'
import { loadConfig } from '../src/config/load-config.js'
import { createLogger } from '../src/logging/logger.js'

// `npm run deletion:resume`: the operator's sweeper pass. Resumes every open deletion request
// whose runner is gone (crash) or that still owes a step (Keycloak was down), then publishes
// queued events. Safe to run while the service runs: a lease keeps one runner per request.
const config = loadConfig()
const service = composeService(config, createLogger(config.logging.level))
try {
  const report = await service.resumeOpen()
  const published = await service.publishEvents()
  console.log(JSON.stringify({ ...report, eventsPublished: published }))
} finally {
  await service.close()
}
