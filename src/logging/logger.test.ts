import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createLogger } from './logger.js'

function capture() {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>)
      done()
    },
  })
  return { logger: createLogger('debug', stream), lines }
}

describe('createLogger', () => {
  it('when lines are written by the process, then they have no msgid and later lines gain no stray fields', () => {
    const { logger, lines } = capture()

    logger.info({ port: 9000 }, 'listening')
    logger.info('stopped')

    expect(lines[0]).not.toHaveProperty('msgid')
    expect(lines[1]).not.toHaveProperty('port')
  })

  it('when an object carrying credentials or contact data is logged, then those fields are redacted', () => {
    const { logger, lines } = capture()

    logger.info({ token: 'eyJ.secret.sig', email: 'a@example.org', phone: '9876543210', username: 'asha', headers: { authorization: 'Bearer x' } }, 'oops')

    expect(JSON.stringify(lines[0])).not.toMatch(/eyJ\.secret|a@example\.org|9876543210|asha|Bearer x/)
  })
})
