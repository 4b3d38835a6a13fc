import { describe, expect, it } from 'vitest'
import { asksForHelp } from './asks-for-help.js'

describe('asksForHelp (every operator CLI)', () => {
  it.each([[['--help']], [['-h']], [['--file', 'ids.txt', '--help']], [['req-1', '-h', '--', 'x']]])('when the arguments are %j, then they ask for the usage', (args) => {
    expect(asksForHelp(args)).toBe(true)
  })

  it.each([[[]], [['--', '-h']], [['--', '--help']], [['--helpme']], [['--chain=-h']], [['-H']], [['help']]])(
    'when the arguments are %j, then they do not: after --, -h is a value such as an id',
    (args) => {
      expect(asksForHelp(args)).toBe(false)
    },
  )
})
