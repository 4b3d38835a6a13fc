import { pino, type Logger } from 'pino'

export type { Logger }

/**
 * JSON lines on stdout. Credentials never reach a log line: the request logger writes no headers
 * or bodies, and these paths are redacted in case an object carrying them is ever logged. Lines
 * written for a request go through its child logger, which carries its msgid (request-context.ts).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sunbird-user-delete' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'authorization',
          'headers.authorization',
          'headers["x-authenticated-user-token"]',
          'headers["x-authenticated-for"]',
          'token',
          'password',
          'sunbirdEncryptionKey',
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
