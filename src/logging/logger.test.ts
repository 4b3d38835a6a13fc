import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { deferred } from '../../test/support/wait-until.js'
import { runWithLogContext } from './log-context.js'
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
  it('when lines are written inside a request context, then each carries its msgid, and only its own fields', async () => {
    const { logger, lines } = capture()

    await runWithLogContext({ msgid: 'req-1' }, async () => {
      logger.info({ userId: 'u-1', outcome: 'deleted' }, 'identity erased')
      await Promise.resolve()
      logger.info({ status: 200 }, 'request')
    })

    expect(lines.map((line) => line.msgid)).toEqual(['req-1', 'req-1'])
    expect(lines[1]).not.toHaveProperty('userId')
    expect(lines[1]).not.toHaveProperty('outcome')
  })

  it("when two requests log concurrently, then neither line takes the other's msgid", async () => {
    const { logger, lines } = capture()
    const bLogged = deferred()

    // a starts first, waits while b logs, then logs itself: the two contexts interleave.
    await Promise.all([
      runWithLogContext({ msgid: 'a' }, async () => {
        await bLogged.promise
        logger.info({ n: 1 }, 'from a')
      }),
      runWithLogContext({ msgid: 'b' }, async () => {
        logger.info({ n: 2 }, 'from b')
        bLogged.resolve()
      }),
    ])

    expect(lines.find((line) => line.msg === 'from a')?.msgid).toBe('a')
    expect(lines.find((line) => line.msg === 'from b')?.msgid).toBe('b')
  })

  it('when a line is written outside any request, then it has no msgid and later lines gain no stray fields', () => {
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
