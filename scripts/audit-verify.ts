import { composeService } from '../src/compose.js'
import { loadConfig } from '../src/config/load-config.js'
import { createLogger } from '../src/logging/logger.js'

// `npm run audit:verify`: walks the deletion audit chain and recomputes every hash. Exit code 0
// when intact, 1 with the first broken sequence number when a record was altered or removed.
const config = loadConfig()
const service = composeService(config, createLogger('warn'))
try {
  const verdict = await service.audit.verify()
  console.log(JSON.stringify(verdict))
  process.exitCode = verdict.ok ? 0 : 1
} finally {
  await service.close()
}
