/** The flags every operator CLI reads as a request for its usage. */
const HELP_FLAGS: readonly string[] = ['--help', '-h']

/**
 * Whether an operator CLI's command line asks for its usage: `--help` or `-h` among its arguments,
 * before a `--` (after it, everything is a value, such as an id that starts with -). The one rule
 * of every operator CLI (db:migrate, db:seed, search:migrate, deletion:resume, deletion:verify,
 * deletion:batch, audit:verify): it then prints its usage on stdout and exits 0, having read,
 * checked or contacted nothing else.
 */
export function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--')
  return (end < 0 ? args : args.slice(0, end)).some((arg) => HELP_FLAGS.includes(arg))
}
