import { describe, expect, it } from 'vitest'
import { capturedLogger } from '../../test/support/captured-logger.js'

describe('createLogger', () => {
  it('when lines are written by the process, then they have no msgid and later lines gain no stray fields', () => {
    const { logger, lines } = capturedLogger()

    logger.info({ port: 9000 }, 'listening')
    logger.info('stopped')

    expect(lines[0]).not.toHaveProperty('msgid')
    expect(lines[1]).not.toHaveProperty('port')
  })

  it('when an object carrying credentials or contact data is logged, then those fields are redacted', () => {
    const { logger, lines } = capturedLogger()

    logger.info({ token: 'eyJ.secret.sig', email: 'a@example.org', phone: '9876543210', username: 'asha', headers: { authorization: 'Bearer x' } }, 'oops')

    expect(JSON.stringify(lines[0])).not.toMatch(/eyJ\.secret|a@example\.org|9876543210|asha|Bearer x/)
  })
})
