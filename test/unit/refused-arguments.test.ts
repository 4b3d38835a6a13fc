import { parseArgs } from 'node:util'
import { describe, expect, it } from 'vitest'
import { whyArgumentsRefused } from '../../scripts/lib/refused-arguments.js'

// The operator CLIs' one rule for a command line parseArgs refuses (deletion:batch, audit:verify,
// deletion:resume): say why without repeating what was refused. Each CLI's own wording: its tests.

const HINTS = { positional: 'values follow their flag', flags: 'the one flag is --chain' }
const EMAIL = 'demo.user@example.org'
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.sig'

/** What the rule says of `args` under a command that takes `--chain <id>` and `--quiet`, no positionals. */
function refusal(args: string[], allowPositionals = false): string {
  try {
    parseArgs({ args, options: { chain: { type: 'string', multiple: true }, quiet: { type: 'boolean' } }, allowPositionals, strict: true })
  } catch (err) {
    return whyArgumentsRefused(err, HINTS)
  }
  throw new Error('parseArgs accepted the arguments')
}

const occurrences = (text: string, part: string) => text.split(part).length - 1

describe('whyArgumentsRefused', () => {
  it.each([
    ['an email pasted as an argument', [EMAIL], 'unexpected argument (not shown): values follow their flag'],
    ['a token after --', ['--', TOKEN], 'unexpected argument (not shown): values follow their flag'],
    ['a token pasted as an option', [`--${TOKEN}`], 'unknown option (not shown): the one flag is --chain'],
    ['an email pasted as an option', [`--${EMAIL}`], 'unknown option (not shown): the one flag is --chain'],
    ['an unknown option carrying a token', [`--token=${TOKEN}`], "unknown option '--token': the one flag is --chain"],
    ['a value given to a flag that takes none', [`--quiet=${TOKEN}`], '--quiet takes no value'],
    ['a flag without its value', ['--chain'], '--chain needs a value right after it (one starting with - as --chain=-…)'],
  ])('when the command line holds %s, then the reason says so without repeating it', (_case, args, why) => {
    const said = refusal(args)

    expect(said).toBe(why)
    for (const value of [EMAIL, TOKEN, 'c2VjcmV0']) expect(said).not.toContain(value)
  })

  it('when an unknown option is flag-shaped (a typo), then it is named once, not twice as parseArgs does', () => {
    let parseArgsSaid = ''
    try {
      parseArgs({ args: ['--anything'], options: {}, allowPositionals: true, strict: true })
    } catch (err) {
      parseArgsSaid = (err as Error).message
    }
    expect(occurrences(parseArgsSaid, '--anything')).toBe(2)

    const said = refusal(['--anything'], true)

    expect(said).toBe("unknown option '--anything': the one flag is --chain")
    expect(occurrences(said, '--anything')).toBe(1)
  })

  it('when the error is not one of parseArgs’, then nothing of its message is shown', () => {
    expect(whyArgumentsRefused(new Error(`bad ${EMAIL}`), HINTS)).toBe('the command line could not be read (not shown)')
  })
})
