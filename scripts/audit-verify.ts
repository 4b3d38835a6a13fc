import { parseArgs } from 'node:util'
import { composeService } from '../src/compose.js'
import { loadConfig } from '../src/config/load-config.js'
import { createLogger } from '../src/logging/logger.js'

// `npm run audit:verify`: walks every deletion audit chain (one per service instance, and the
// single chain of earlier versions), recomputes every hash and checks each chain's anchors. Exit
// code 0 when intact, 1 naming the chain and the first broken sequence number when a record was
// altered or removed, or a chain was cut short below an anchored head. `--chain <id>` (repeatable)
// walks only those chains, e.g. the ones an investigation is about. Exit code 2: no verdict (bad
// arguments, Cassandra not reachable).
let chains: string[] | undefined
try {
  chains = parseArgs({ options: { chain: { type: 'string', multiple: true } } }).values.chain
} catch (err) {
  console.error(`audit:verify: ${(err as Error).message}\nusage: npm run audit:verify [-- --chain <id> ...]`)
  process.exit(2)
}
const config = loadConfig()
const service = composeService(config, createLogger('warn'))
try {
  const verdict = await service.audit.verify(chains ? { chains } : {})
  console.log(JSON.stringify(verdict))
  process.exitCode = verdict.ok ? 0 : 1
} catch (err) {
  // Could not walk the chains (Cassandra down, no such keyspace): no verdict, and no stack trace.
  console.error(`audit:verify: could not verify: ${(err as Error).message}`)
  process.exitCode = 2
} finally {
  await service.close()
}
