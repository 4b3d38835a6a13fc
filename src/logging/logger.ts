import { pino, type Logger } from 'pino'
import { currentLogContext } from './log-context.js'

export type { Logger }

/**
 * JSON lines on stdout. Credentials never reach a log line: the request logger writes no headers
 * or bodies, and these paths are redacted in case an object carrying them is ever logged. Every
 * line written while a request is served carries its msgid (see log-context.ts).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sunbird-user-delete' },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: currentLogContext,
      redact: {
        paths: [
          'authorization',
          'headers.authorization',
          'headers["x-authenticated-user-token"]',
          'headers["x-authenticated-for"]',
          'token',
          'password',
          'email',
          'phone',
          'firstName',
          'lastName',
          'username',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  )
}
