import { composeService } from '../src/compose.js'
import { loadConfig } from '../src/config/load-config.js'
import { createLogger } from '../src/logging/logger.js'

// `npm run audit:verify`: walks every deletion audit chain (one per service instance, and the
// single chain of earlier versions), recomputes every hash and checks each chain's anchors. Exit
// code 0 when intact, 1 naming the chain and the first broken sequence number when a record was
// altered or removed, or a chain was cut short below an anchored head.
const config = loadConfig()
const service = composeService(config, createLogger('warn'))
try {
  const verdict = await service.audit.verify()
  console.log(JSON.stringify(verdict))
  process.exitCode = verdict.ok ? 0 : 1
} finally {
  await service.close()
}
