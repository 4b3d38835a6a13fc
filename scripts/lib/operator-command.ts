import { errors as searchErrors } from '@opensearch-project/opensearch'
import { asksForHelp } from '../../src/shared/asks-for-help.js'
import { ColumnTypeMismatchError } from '../../src/store/column-addition.js'
import { MigrationLockError } from '../../src/store/migration-lock.js'
import { whyNotVerified } from '../../src/verification/deletion-verify-command.js'

/** Exit codes of the commands that take no arguments: done; stopped (one line on stderr says why); an argument given. */
export const OPERATOR_EXIT = { ok: 0, failed: 1, badArguments: 2 } as const

/** Why the work stopped: settings and kinds of error, never a driver's or an engine's own message (it may quote what it was sent). */
function whyStopped(err: unknown): string {
  if (err instanceof searchErrors.ConnectionError || err instanceof searchErrors.TimeoutError || err instanceof searchErrors.NoLivingConnectionsError) {
    return `search unavailable: sunbird_es_host unreachable (${err.name})`
  }
  if (err instanceof searchErrors.ResponseError) return `search refused a request (HTTP ${err.statusCode ?? 'no status'})`
  // Worded by this service, one line: the lock's holder (a host, a process id) and times, no data.
  if (err instanceof MigrationLockError) return err.message
  // Worded by this service, one line: a table, a column and two CQL types, no data.
  if (err instanceof ColumnTypeMismatchError) return err.message
  return whyNotVerified(err)
}

/**
 * Runs an operator command that takes no arguments (`db:migrate`, `db:seed`, `search:migrate`):
 * any argument is refused with the usage before anything is done (exit 2), so a mistyped flag is
 * never silently ignored, but `--help` or `-h`, which prints it on stdout (exit 0); anything that
 * stops the work is one line on stderr (exit 1), never a stack trace.
 */
export async function runWithoutArguments(
  name: string,
  args: readonly string[],
  work: () => Promise<void>,
  err: (line: string) => void = (line) => console.error(line),
  out: (line: string) => void = (line) => console.log(line),
): Promise<number> {
  if (asksForHelp(args)) {
    out(`usage: npm run ${name}`)
    return OPERATOR_EXIT.ok
  }
  // Any argument, a lone `--` too (parseArgs takes it as the end of options): none is read, and one given means a mistake.
  if (args.length > 0) {
    err(`${name}: takes no arguments\nusage: npm run ${name}`)
    return OPERATOR_EXIT.badArguments
  }
  try {
    await work()
    return OPERATOR_EXIT.ok
  } catch (failure) {
    err(`${name}: ${whyStopped(failure)}`)
    return OPERATOR_EXIT.failed
  }
}
