import { parseArgs } from 'node:util'
import type { Client } from 'cassandra-driver'
import { ConfigError, loadConfig } from '../src/config/load-config.js'
import { DependencyUnavailableError } from '../src/deletion/errors.js'
import { CassandraAuditReader, type ChainAnchor } from '../src/store/cassandra-audit-trail.js'
import { isCassandraUnavailable } from '../src/store/cassandra-call.js'
import { createCassandraClient } from '../src/store/cassandra-client.js'
import { CassandraDeletionRequests } from '../src/store/cassandra-deletion-requests.js'
import { whyNotVerified } from '../src/verification/deletion-verify-command.js'
import { asksForHelp } from '../src/shared/asks-for-help.js'
import { verifyTrailWithReceipts } from '../src/verification/trail-with-receipts.js'
import { readBoundedText, whyUnreadable } from './lib/bounded-text-file.js'
import { whyArgumentsRefused } from './lib/refused-arguments.js'
import { exitAfterFlush } from './lib/exit-after-flush.js'

// `npm run audit:verify`: walks every deletion audit chain (one per service instance, and the
// single chain of earlier versions), recomputes every hash and checks each chain's anchors. Exit
// code 0 when intact, 1 naming the chain and the first broken sequence number when a record was
// altered or removed, or a chain was cut short below an anchored head. `--chain <id>` (repeatable)
// walks only those chains, e.g. the ones an investigation is about. Exit code 2: no verdict (bad
// arguments, a chain named that has neither a record nor an anchor, an invalid setting, Cassandra
// not reachable), said in one line on stderr. The verdict names each chain's head (`heads`); kept
// outside the cluster and given back with `--against <file>`, every head in it must still be in its
// chain with the same hash: that catches a chain rewritten with its hashes and anchors recomputed, or
// removed whole, by someone who can write to the keyspace (anchors in the keyspace cannot).
// `--receipt <request id>` (repeatable) also holds that request's stored receipt against the digests
// (`receiptSha256`) its `deletion.completed` / `deletion.partial` records commit to, found in the same
// walk: it matches when a record of the event that settles its state carries its digest. The verdict
// lists each (`receipts`); one that a record of that event contradicts is exit 1 (`ok` false), as is
// a partial one beside its request's `deletion.completed` (an earlier receipt put back), and one no
// settle of that request can have stored (another request's, text that is not JSON, or JSON null). The
// receipts are read before the walk, so a mismatch is read again after it: a request may settle
// during the walk (a partial one completed, its deletion.completed then walked), and a receipt that
// changed is judged anew (verifyTrailWithReceipts). A request named that does not exist, has no
// receipt, has no record with its receipt's digest and none contradicting it in the chains walked
// (its record may be owed), or settled during the walk with its new record not walked, is exit 2.
// No receipt is printed, only digests.
// It builds only the Cassandra client and the chains' reader: it needs the Cassandra settings, and
// neither the receipt key nor the API consumers file (so a scheduled check holds no secret of the service).
const usage = 'usage: npm run audit:verify [-- --chain <id> ...] [--against <earlier verdict.json>] [--receipt <request id> ...]'

/** Why there is no verdict, in one line: a setting or Cassandra, never a stack trace or a stored row. */
function noVerdict(err: unknown): string {
  if (err instanceof ConfigError) {
    return err.message
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .join(' ')
  }
  if (err instanceof DependencyUnavailableError || isCassandraUnavailable(err)) {
    const cause = err instanceof DependencyUnavailableError ? err.cause : err
    const detail = cause instanceof Error ? (cause.message.split('\n')[0] ?? '') : ''
    return `Cassandra did not answer${detail ? ` (${detail})` : ''}`
  }
  // Anything else by its kind only: a driver's own message may quote what it was sent.
  return whyNotVerified(err)
}

/** Why the command line is refused: said with the usage by the CLI's one way out (main), exit 2. */
class ArgumentsRefused extends Error {}

/** Refused arguments are not repeated back (whyArgumentsRefused): a chain id is pasted, and so may be anything else. */
function refuse(why: string): never {
  throw new ArgumentsRefused(why)
}

/** Far more than a verdict's heads (one line per chain) and receipts: past it the file is refused rather than read to its end, which an endless one (/dev/zero) never has. */
const MAX_VERDICT_FILE_BYTES = 16 * 1024 * 1024

/** The heads of an earlier verdict (its `heads`), or why the file cannot be used: never its content. */
function headsIn(file: string): Record<string, ChainAnchor> {
  const notVerdict = '--against: not a verdict of audit:verify (JSON)'
  let text: string | 'too large'
  try {
    text = readBoundedText(file, MAX_VERDICT_FILE_BYTES)
  } catch (err) {
    refuse(`--against: ${whyUnreadable(err)}`)
  }
  if (text === 'too large') refuse('--against: the file is larger than 16 MiB, too large for a verdict of audit:verify')
  let verdict: unknown
  try {
    verdict = JSON.parse(text)
  } catch {
    refuse(notVerdict)
  }
  const heads = (verdict as { heads?: unknown } | null)?.heads
  if (typeof heads !== 'object' || heads === null || Array.isArray(heads)) refuse('--against: the file has no heads (a verdict of audit:verify that passed has them)')
  for (const head of Object.values(heads)) {
    const { seq, hash } = (head ?? {}) as { seq?: unknown; hash?: unknown }
    if (!Number.isSafeInteger(seq) || (seq as number) < 1 || typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) refuse('--against: a head in the file is not a sequence number and a hash')
  }
  return heads as Record<string, ChainAnchor>
}

/** What a run walks and holds against the chains, as the command line asks. */
interface Walk {
  chains?: string[]
  pinned?: Record<string, ChainAnchor>
  receiptsOf: string[]
}

const OPTIONS = { chain: { type: 'string', multiple: true }, against: { type: 'string' }, receipt: { type: 'string', multiple: true } } as const

/** The flags given; a command line parseArgs cannot read is refused. */
function flagsOf(args: string[]) {
  try {
    const { values, tokens } = parseArgs({ args, options: OPTIONS, tokens: true })
    // parseArgs keeps the last of a repeated single-valued flag: an earlier verdict given first would go unchecked, the run still saying ok.
    if (tokens.filter((token) => token.kind === 'option' && token.name === 'against').length > 1) refuse('--against is given more than once; it takes one file: run once per earlier verdict')
    return values
  } catch (err) {
    if (err instanceof ArgumentsRefused) throw err
    return refuse(
      whyArgumentsRefused(err, {
        positional: 'a chain id follows --chain (npm run audit:verify -- --chain <id>); without --chain, every chain is walked',
        flags: 'the flags are --chain, --against and --receipt',
      }),
    )
  }
}

/** The walk the arguments ask for; refused (ArgumentsRefused) before anything is contacted. */
function walkOf(args: string[]): Walk {
  const values = flagsOf(args)
  const chains = values.chain
  const receiptsOf = [...new Set(values.receipt)]
  const pinned = values.against === undefined ? undefined : values.against.trim() === '' ? refuse('--against needs a file') : headsIn(values.against)
  if (chains?.some((chain) => chain.trim() === '')) refuse('--chain needs a chain id')
  if (receiptsOf.some((id) => id.trim() === '')) refuse('--receipt needs a request id')
  return { ...(chains && { chains }), ...(pinned && { pinned }), receiptsOf }
}

/** Why a run has no verdict, on stderr in one line: exit 2. */
function withoutVerdict(why: string): number {
  console.error(`audit:verify: ${why}`)
  return 2
}

/** Walks the chains (holding the named receipts against them), prints the verdict, answers the exit code. */
async function verify(cassandra: Client, keyspace: string, { chains, pinned, receiptsOf }: Walk): Promise<number> {
  const requests = new CassandraDeletionRequests(cassandra, keyspace)
  const reader = new CassandraAuditReader(cassandra, keyspace)
  const answer = await verifyTrailWithReceipts(receiptsOf, {
    receiptText: (id) => requests.receiptText(id),
    walk: (observe) => reader.verify({ ...(chains && { chains }), ...(pinned && { pinned }), ...(observe && { observe }) }),
  })
  if ('noVerdict' in answer) return withoutVerdict(answer.noVerdict)
  console.log(JSON.stringify(answer.verdict))
  return answer.verdict.ok ? 0 : 1
}

/** The run, from its arguments to its exit code: every way out (the usage, a refusal, a verdict or none) returns here. */
async function main(args: string[]): Promise<number> {
  if (asksForHelp(args)) {
    console.log(usage)
    return 0
  }
  let walk: Walk
  try {
    walk = walkOf(args)
  } catch (err) {
    if (!(err instanceof ArgumentsRefused)) throw err
    console.error(`audit:verify: ${err.message}\n${usage}`)
    return 2
  }
  let cassandra: Client | undefined
  try {
    const config = loadConfig({}, { usesSecrets: false })
    cassandra = createCassandraClient(config.cassandra)
    return await verify(cassandra, config.cassandra.keyspace, walk)
  } catch (err) {
    return withoutVerdict(`could not verify: ${noVerdict(err)}`)
  } finally {
    await cassandra?.shutdown().catch(() => undefined)
  }
}

// Once every line is written: on a pipe (a log, `| tee`), Node writes behind the CLI, and an exit at once drops what waits.
exitAfterFlush(await main(process.argv.slice(2)))
