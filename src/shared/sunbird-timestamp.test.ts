import { describe, expect, it } from 'vitest'
import { formatSunbirdTimestamp, parseSunbirdTimestamp } from './sunbird-timestamp.js'

describe('parseSunbirdTimestamp', () => {
  it('when given an envelope ts, then it names the instant formatSunbirdTimestamp wrote it from', () => {
    const instant = new Date('2026-12-07T03:04:05.678Z')

    expect(parseSunbirdTimestamp(formatSunbirdTimestamp(instant))?.toISOString()).toBe('2026-12-07T03:04:05.678Z')
  })

  it.each([
    ['another format', '2026-12-07T03:04:05.678Z'],
    ['another zone', '2026-12-07 03:04:05:678+0530'],
    ['a month that is not there', '2026-13-07 03:04:05:678+0000'],
    ['an hour that is not there', '2026-12-07 25:04:05:678+0000'],
    ['no text', undefined],
    ['a number', 1765076645678],
  ])('when given %s, then it names no instant', (_what, text) => {
    expect(parseSunbirdTimestamp(text)).toBeUndefined()
  })
})
