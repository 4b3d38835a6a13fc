import { parseArgs } from 'node:util'
import { asksForHelp } from '../../../src/shared/asks-for-help.js'
import { whyArgumentsRefused } from '../refused-arguments.js'
import { schemas } from './batch-api.js'
import { CliEnding, endCli, fail } from './terminal.js'

// Flags are all checked before anything is read or sent.

const USAGE =
  'usage: npm run deletion:batch -- (--file ids.txt [--mode soft|hard] [--dry-run] [--idempotency-key <key>] | --job <jobId>[,<jobId>…] [--cancel]) [--url http://127.0.0.1:9000] [--give-up-after <seconds, 120>]'
const DEFAULT_GIVE_UP_SECONDS = 120
const BATCH_HINTS = {
  positional: 'every value follows its flag, e.g. --file ids.txt, and the flags follow npm run deletion:batch --',
  flags: 'the flags are --file, --mode, --dry-run, --idempotency-key, --job, --cancel, --url and --give-up-after',
}
/** The keys this CLI makes and prints (randomUUID): lower-case, as they are sent. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export interface Options {
  file?: string
  jobIds?: string[]
  mode?: 'soft' | 'hard'
  /** The key a run printed when it could not tell whether its submit was recorded: submitting under it again records no job twice. */
  idempotencyKey?: string
  dryRun: boolean
  /** Cancel the --job jobs before following them. */
  cancel: boolean
  base: string
  giveUpMs: number
}

/** The flags that take one value: given twice, one would be dropped without a word (parseArgs keeps the last). */
const SINGLE_VALUED = ['file', 'mode', 'url', 'job', 'idempotency-key', 'give-up-after'] as const

/** What to do instead of repeating a flag. */
const INSTEAD: Partial<Record<(typeof SINGLE_VALUED)[number], string>> = {
  file: 'one file per run: put the ids in one file, or run once per file',
  job: 'name several jobs in one --job, comma-separated: --job <jobId>,<jobId>',
}

function parseFlags() {
  let parsed: ReturnType<typeof parseAll>
  try {
    parsed = parseAll()
  } catch (err) {
    // A stray argument is most often a value whose flag npm took for its own (`npm run deletion:batch --file x`, without `--`).
    return fail(`${whyArgumentsRefused(err, BATCH_HINTS)}\n${USAGE}`)
  }
  // Refused rather than one of them used: `--file a --file b` deleting only b's users, or `--mode soft --mode hard` deleting hard, would be a surprise found too late. Values not repeated back.
  for (const name of SINGLE_VALUED) {
    if (parsed.tokens.filter((token) => token.kind === 'option' && token.name === name).length > 1)
      fail(`--${name} is given more than once; it takes one value${INSTEAD[name] ? `: ${INSTEAD[name]}` : ''}\n${USAGE}`)
  }
  return parsed.values
}

function parseAll() {
  return parseArgs({
    options: {
      file: { type: 'string' },
      mode: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      cancel: { type: 'boolean', default: false },
      url: { type: 'string', default: 'http://127.0.0.1:9000' },
      job: { type: 'string' },
      'idempotency-key': { type: 'string' },
      'give-up-after': { type: 'string', default: String(DEFAULT_GIVE_UP_SECONDS) },
    },
    strict: true,
    tokens: true,
  })
}

/** The command line's options; a flag that is wrong or missing ends the CLI with the usage (`--help` or `-h`: on stdout, exit 0). */
export function readOptions(): Options {
  if (asksForHelp(process.argv.slice(2))) {
    console.log(USAGE)
    // The CLI's one way out, as for every other end: on a pipe, the usage is written before the exit.
    endCli(0)
    throw new CliEnding()
  }
  const values = parseFlags()
  if (values.file !== undefined && values.job !== undefined) fail(`--file submits a file and --job follows jobs already submitted: use one\n${USAGE}`)
  if (values['dry-run'] && values.job !== undefined) fail(`--dry-run checks a --file before anything is submitted; it does not go with --job\n${USAGE}`)
  // A job's mode was set when it was submitted: following it cannot change it.
  if (values.mode !== undefined && values.job !== undefined) fail(`--mode goes with the --file it submits; a job followed with --job keeps the mode it was submitted with\n${USAGE}`)
  // Only jobs already submitted, named one by one, are cancelled: never a file's, by a slip of the flags.
  if (values.cancel && values.job === undefined) fail(`--cancel stops the jobs named with --job <jobId>[,<jobId>…]\n${USAGE}`)
  if (!values.file && values.job === undefined) fail(USAGE)
  if (values.mode !== undefined && values.mode !== 'soft' && values.mode !== 'hard') fail(`--mode is soft or hard\n${USAGE}`)
  const jobIds = values.job === undefined ? undefined : jobIdsOf(values.job)
  const idempotencyKey = values['idempotency-key'] === undefined ? undefined : idempotencyKeyOf(values['idempotency-key'], values.job !== undefined)
  return {
    ...(values.file && { file: values.file }),
    ...(jobIds && { jobIds }),
    ...(values.mode && { mode: values.mode }),
    ...(idempotencyKey && { idempotencyKey }),
    dryRun: values['dry-run'],
    cancel: values.cancel,
    base: baseUrl(values.url),
    giveUpMs: giveUpAfter(values['give-up-after']),
  }
}

/**
 * The --job ids, checked as the status route checks them, each once: the service reads a job id in
 * either case, so `<id>,<ID>` is one job (followed, cancelled and counted once), sent and named in
 * the lower case it was issued in.
 */
function jobIdsOf(text: string): string[] {
  const given = text
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '')
  if (given.length === 0) fail(`--job needs a job id\n${USAGE}`)
  // Not repeated back: a wrong one may be anything pasted.
  const validStatusRequest = schemas.validator('user-delete-batch-status.request')
  const wrong = given.filter((jobId) => !validStatusRequest({ request: { jobId } })).length
  if (wrong > 0) fail(`--job takes the job ids this CLI printed (UUIDs): ${wrong} of those given ${wrong === 1 ? 'is' : 'are'} not one\n${USAGE}`)
  return [...new Set(given.map((jobId) => jobId.toLowerCase()))]
}

/**
 * The key of an earlier run that could not tell whether its submit was recorded. The service reads
 * a key as written, so it is taken back lower-case, as the CLI printed it; not repeated back when wrong.
 */
function idempotencyKeyOf(text: string, withJob: boolean): string {
  if (withJob) fail(`--idempotency-key goes with the --file it submits again; --job submits nothing\n${USAGE}`)
  const key = text.trim().toLowerCase()
  if (!UUID.test(key)) fail(`--idempotency-key takes the key this CLI printed (a UUID); the one given is not one\n${USAGE}`)
  return key
}

/** The service's address: http or https only (fetch reads `127.0.0.1:9000` as a scheme, and fails on every call), no user or password in it. */
function baseUrl(text: string): string {
  const url = URL.canParse(text.trim()) ? new URL(text.trim()) : undefined
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return fail(`--url is an http:// or https:// address, as http://127.0.0.1:9000\n${USAGE}`)
  if (url.username || url.password) fail('--url carries no user or password: the credentials come from API_BEARER and USER_TOKEN')
  // The API's paths are added to it: a query or fragment, even an empty one (`…/?`), would swallow them.
  if (/[?#]/.test(url.href)) fail(`--url is the service's base address, without ? or #, as http://127.0.0.1:9000\n${USAGE}`)
  return url.href.replace(/\/+$/, '')
}

function giveUpAfter(text: string): number {
  const seconds = Number(text)
  if (!Number.isFinite(seconds) || seconds <= 0) fail(`--give-up-after is a number of seconds above 0\n${USAGE}`)
  return seconds * 1000
}
