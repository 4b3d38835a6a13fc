import { Writable } from 'node:stream'
import { createLogger } from '../../src/logging/logger.js'

/** A debug-level logger of the service's own configuration whose lines are kept, parsed, in `lines`. */
export function capturedLogger() {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>)
      done()
    },
  })
  return { logger: createLogger('debug', stream), lines }
}
