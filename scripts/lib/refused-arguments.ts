/** A flag's name as an operator types one: shown back when unknown (a typo); anything else may be a pasted value. */
const FLAG_NAME = /^-{1,2}[a-z][a-z-]{0,23}$/

/** What a command says, in its own terms, after the rule's words. */
export interface ArgumentHints {
  /** After a stray argument: where its values go instead. */
  positional: string
  /** After an unknown option: the flags it takes. */
  flags: string
}

/**
 * Why node:util parseArgs refused a command line, never repeating what it refused: parseArgs
 * quotes a stray argument whole (and an unknown option twice), and a token or an email pasted in
 * the wrong place would land in the terminal's log. Only a flag-shaped name of an unknown option is
 * shown (a typo to spot), once. The operator CLIs' one rule for this (deletion:batch, audit:verify,
 * deletion:resume).
 */
export function whyArgumentsRefused(err: unknown, hints: ArgumentHints): string {
  const code = (err as { code?: unknown } | undefined)?.code
  const message = err instanceof Error ? err.message : ''
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument (not shown): ${hints.positional}`
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = /^Unknown option '([^']*)'/.exec(message)?.[1]
    return `unknown option ${name !== undefined && FLAG_NAME.test(name) ? `'${name}'` : '(not shown)'}: ${hints.flags}`
  }
  // A flag of the command without its value, or a value given to a boolean one: named, its value (if any) not.
  const flag = /^Option '(--[a-z-]+)/.exec(message)?.[1]
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag !== undefined && FLAG_NAME.test(flag))
    return message.includes('does not take an argument') ? `${flag} takes no value` : `${flag} needs a value right after it (one starting with - as ${flag}=-…)`
  return 'the command line could not be read (not shown)'
}
