import { composeService } from '../src/compose.js'
import { loadConfig } from '../src/config/load-config.js'
import { deletionResumeCommand, type ResumeConnection } from './lib/deletion-resume-command.js'
import { createLogger } from '../src/logging/logger.js'
import { exitAfterFlush } from './lib/exit-after-flush.js'

// `npm run deletion:resume [-- <requestId>]`: the operator's sweeper. Without an id it goes round
// every open deletion request once, as many sweeper passes of 200 as that takes (those held by a
// running instance are left to it), resuming each whose runner is gone (crash), that still owes a
// step (Keycloak was down; without waiting out the sweeper's retry delay) or whose grace period has ended; with an id, that request alone (created
// first from its open entry when its create never applied, as the sweeper would). Then
// it publishes queued events until none is left to send or Kafka refuses what is left. Safe to run
// while the service runs: a lease keeps one runner per request. One JSON line on stdout (counts, or
// the request's id and state, and the events published and left), log lines on stderr.
// Exit 0: gone round / the request is finished; 1: the request is still open; 2: could not
// (bad argument, configuration, no such request, schema behind, Cassandra unreachable); 3: as 0,
// but events are left because Kafka refused them. See RESUME_EXIT.
function connect(): ResumeConnection {
  const config = loadConfig()
  // Log lines go to stderr: stdout holds the result alone.
  return composeService(config, createLogger(config.logging.level, process.stderr))
}

const code = await deletionResumeCommand(process.argv.slice(2), connect, { out: (text) => console.log(text), err: (text) => console.error(text) })
exitAfterFlush(code)
