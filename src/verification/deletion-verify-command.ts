import { parseArgs } from 'node:util'
import { errors as cassandraErrors, types } from 'cassandra-driver'
import { ConfigError } from '../config/load-config.js'
import { ContentionError, DependencyUnavailableError, WordedCause } from '../deletion/errors.js'
import { asksForHelp } from '../shared/asks-for-help.js'
import { withinMs } from '../shared/within-ms.js'
import { formatDeletionVerification } from './format-verification.js'
import { nothingToVerify, type VerifyDeps, verificationExitCode, verifyRequest } from './verify-deletion.js'

/**
 * deletion:verify's exit codes. 0: nothing left that the request's plan erases; 1: residue (of the
 * person or of a managed user), whatever else; 2: could not verify (no request id, no such
 * request, one with no erasure of its own: cancelled or failed, the configuration refused, a store
 * unreachable or a query timing out, a race lost to another runner: run it again); 3: no residue
 * found, but a check could not be made: by value (the request's hashes were made with another key
 * than the configured DELETION_RECEIPT_HASH_KEY, or with one it did not record), in a store the
 * deletion reached that this process is not configured with (the search engine, Redis), or in an
 * ERASURE_EXTRA_TARGETS table (or column) that does not exist.
 */
export const VERIFY_EXIT = { ok: 0, residue: 1, couldNotVerify: 2, cannotCheck: 3 } as const

/** Where the command writes: the proof to `out`, anything else (usage, a failure) to `err`. */
export interface CommandOutput {
  out(text: string): void
  err(text: string): void
}

/** The stores the verification reads, and how to let go of them. */
export interface VerifyConnection {
  deps: VerifyDeps
  close(): Promise<void>
}

/** How long letting go of the stores may take before the command ends anyway (a client stuck reconnecting). */
const CLOSE_WITHIN_MS = 5000

/**
 * What an invalid query most often means for an operator command: a keyspace that is not there
 * (CASSANDRA_KEYSPACE mistyped, or never migrated) or a schema behind this build. Read from
 * Cassandra's wording (3.x to 5.x), never printed: it names what was sent.
 */
function missingSchema(message: string): string | undefined {
  if (/^keyspace \S+ does not exist/i.test(message)) return 'no keyspace of that name: check CASSANDRA_KEYSPACE, or create it with npm run db:migrate'
  if (/^(table \S+ does not exist|unconfigured table|undefined column name)/i.test(message)) return 'a table or column this build reads is missing: run npm run db:migrate'
  return undefined
}

/** A Cassandra driver error in words of this service: its kind, never its message (a driver's message may quote what it was sent). */
function cassandraFailure(err: Error): string {
  if (err instanceof cassandraErrors.NoHostAvailableError) return 'cassandra unreachable (no host answered)'
  if (err instanceof cassandraErrors.OperationTimedOutError) return 'cassandra did not answer in time (a query, or a page of a scan)'
  if (err instanceof cassandraErrors.ResponseError) {
    const code = Object.entries(types.responseErrorCodes).find(([, value]) => value === err.code)?.[0]
    const missing = code === 'invalid' ? missingSchema(err.message) : undefined
    return `cassandra refused a query${code ? ` (${code})` : ''}${missing ? `: ${missing}` : ''}`
  }
  return `cassandra error (${err.name})`
}

/**
 * Why the verification could not run, in one line with no personal data: what this service worded
 * itself (a dependency unavailable and, when its own words, why; a configuration problem, which
 * names settings, never values), else only the kind of error. A driver's or an engine's own
 * message is never printed: it may quote a user's values.
 */
export function whyNotVerified(err: unknown): string {
  // Cassandra answered: a race lost to another runner (the deletion or a cancel of that request at work), not an outage.
  if (err instanceof ContentionError) return `${err.message}: ${err.cause instanceof WordedCause ? `${err.cause.message}; ` : ''}run it again`
  if (err instanceof DependencyUnavailableError) {
    const cause = err.cause
    if (cause instanceof WordedCause) return `${err.dependency} unavailable: ${cause.message}`
    if (cause instanceof cassandraErrors.DriverError) return cassandraFailure(cause)
    return `${err.dependency} unavailable`
  }
  if (err instanceof ConfigError) return err.message.replace(/:\s*\n\s*/, ': ').replace(/\s*\n\s*/g, '; ')
  if (err instanceof cassandraErrors.DriverError) return cassandraFailure(err)
  return `unexpected ${err instanceof Error ? err.name : typeof err}`
}

/** An id as this service issues them (UUIDs, `batch-…`, a caller's plain request id), so safe to print back; anything else (an email pasted by mistake, control characters) is not repeated. */
const PRINTABLE_ID = /^[A-Za-z0-9._:-]{1,255}$/

export const VERIFY_USAGE = 'usage: npm run deletion:verify -- <requestId>'

/** The one request id of the arguments, or undefined when they are not exactly one id (no flag is known). */
function requestIdOf(args: readonly string[]): string | undefined {
  try {
    const { positionals } = parseArgs({ args: [...args], options: {}, allowPositionals: true, strict: true })
    return positionals.length === 1 && positionals[0]?.trim() ? positionals[0] : undefined
  } catch {
    return undefined
  }
}

/**
 * `npm run deletion:verify -- <requestId>`: verifies one deletion request, prints the proof (ids
 * only, never a value) and answers the exit code (VERIFY_EXIT). Anything that stops it from
 * verifying, from connecting to a store timing out mid-scan, is one line on `err` naming the
 * request and why, and exit 2: never a stack trace, and never the exit code of residue. Arguments
 * other than one id (none, two, a flag) are refused with the usage; `--help` or `-h` prints it on `out` (exit 0).
 */
export async function deletionVerifyCommand(args: readonly string[], connect: () => VerifyConnection, output: CommandOutput): Promise<number> {
  if (asksForHelp(args)) {
    output.out(VERIFY_USAGE)
    return VERIFY_EXIT.ok
  }
  const requestId = requestIdOf(args)
  if (requestId === undefined) {
    output.err(VERIFY_USAGE)
    return VERIFY_EXIT.couldNotVerify
  }
  const named = PRINTABLE_ID.test(requestId) ? `deletion request ${requestId}` : 'the deletion request'
  const failed = (err: unknown) => {
    output.err(`deletion:verify: could not verify ${named}: ${whyNotVerified(err)}`)
    return VERIFY_EXIT.couldNotVerify
  }
  let connection: VerifyConnection
  try {
    connection = connect()
  } catch (err) {
    return failed(err)
  }
  try {
    const request = await connection.deps.requests.get(requestId)
    if (!request) {
      output.err('deletion:verify: no deletion request has that id')
      return VERIFY_EXIT.couldNotVerify
    }
    // Judged by its plan, a restore would read as residue: no verdict, and why.
    const nothing = nothingToVerify(request)
    if (nothing) {
      output.err(`deletion:verify: ${named} (plan ${request.plan}, state ${request.state}): ${nothing}`)
      return VERIFY_EXIT.couldNotVerify
    }
    const verified = await verifyRequest(connection.deps, request)
    output.out(formatDeletionVerification(verified))
    return verificationExitCode(verified)
  } catch (err) {
    return failed(err)
  } finally {
    await withinMs(CLOSE_WITHIN_MS, connection.close(), undefined)
  }
}
