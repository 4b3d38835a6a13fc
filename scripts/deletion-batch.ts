import { MAX_IDS_PER_JOB } from './lib/batch-cli/batch-api.js'
import { cancelAll } from './lib/batch-cli/cancel.js'
import { credentials, refuseExpiredUserToken } from './lib/batch-cli/credentials.js'
import { follow, report, settle } from './lib/batch-cli/follow.js'
import { readIds } from './lib/batch-cli/ids-file.js'
import { readOptions } from './lib/batch-cli/options.js'
import { userTokenFacts } from './lib/batch-cli/own-account.js'
import { ownIdLast } from './lib/batch-cli/own-id-last.js'
import { createServiceClient } from './lib/batch-cli/service-call.js'
import { submitAll } from './lib/batch-cli/submit.js'
import { CliEnding, endCli } from './lib/batch-cli/terminal.js'

// `npm run deletion:batch -- --file ids.txt [--mode hard] [--dry-run] [--idempotency-key <key>] [--url <base>]` or `-- --job <id>[,<id>…] [--cancel]`:
// submits the ids of a file (one per line; blank lines and # comments skipped) as batch deletion
// jobs of at most 1000 ids and follows them to the end with a progress bar (plain lines when the
// output is not a terminal). Credentials come from API_BEARER and USER_TOKEN, as the quick start
// prints them (API_BEARER alone: a consumer trusted with deleteAnyUser). `--job` follows jobs
// already submitted (comma-separated) instead; with `--cancel`, it cancels them first (no deletion of
// their users begins any more) and follows them until their last users are settled. Each job is submitted with an Idempotency-Key of its
// own, the same on every try, so a try whose answer was lost can be repeated without a second job; a run that
// stops part way through its submits (given up, interrupted) prints its key, and the same command
// with `--idempotency-key <key>` sends each job under its key again, recording none twice.
// Submitting or following, a service that does not answer is asked again until it has been silent
// for `--give-up-after` seconds (120); one no try can get through to (a port fetch blocks, a TLS
// handshake or certificate that fails) stops it at once. Exit code: 0 when every id was deleted
// (also when some deletions still owe steps to a store that was down: listed `owed <userId> <requestId>`
// and counted on the last line, retried until done), 1 when any failed or was spared by a cancel, 2 when
// nothing could be submitted, cancelled or followed (a job id the service does not know included). A job
// listing the caller's own account deletes it last, locking them out: a 401 (the token not expired)
// once every other id read settled, the job not cancelled (a paused one too), is that deletion, said on
// the last line, and the exit code is the rule's above. A file of several jobs listing it has it moved
// to the last job, submitted only once every other job is settled, so they are all followed to their end;
// when one of them was cancelled, the last is not submitted (a cancel means stop): said, with the
// --idempotency-key that submits it all the same, exit 2. A flag that takes a value given twice is refused.

async function main(): Promise<number> {
  // Flags and credentials: all checked before anything is read or sent.
  const options = readOptions()
  const headers = credentials()
  const service = createServiceClient(options.base, headers)
  // A job's last act may delete the caller's own account: the CLI then tells that 401 from any other.
  // A 401 past the token's expiry is that expiry, whatever the jobs did.
  const caller = userTokenFacts(headers['x-authenticated-user-token'])
  refuseExpiredUserToken(caller.tokenExpiresAt)
  if (options.jobIds && options.cancel) {
    await cancelAll(service, options.jobIds, options.giveUpMs)
    return follow(service, options.jobIds, options.giveUpMs, { answeredBefore: true, cancelled: true, ...caller })
  }
  if (options.jobIds) return follow(service, options.jobIds, options.giveUpMs, caller)
  // Across several jobs, the caller's own id goes in the last, submitted once the others are settled.
  const order = ownIdLast(readIds(options.file ?? ''), caller.ownId)
  if (options.dryRun) {
    const who = headers['x-authenticated-user-token'] ? 'API_BEARER and USER_TOKEN' : 'API_BEARER alone (a trusted consumer)'
    const ownLast = order.ownLine === undefined ? '' : `, your own id (line ${order.ownLine}) in the last, submitted once the others are settled`
    console.log(
      `dry run: ${order.ids.length} distinct ids in ${Math.ceil(order.ids.length / MAX_IDS_PER_JOB)} job(s) of at most ${MAX_IDS_PER_JOB}${ownLast}, mode ${options.mode ?? "Sunbird's deletion"}, to ${options.base}, as ${who}; nothing submitted, contacted nothing`,
    )
    return 0
  }
  const settleFirst = (jobIds: string[], heldBack: string) => settle(service, jobIds, options.giveUpMs, heldBack, caller)
  const run = await submitAll(service, order, options, settleFirst)
  // A job of the run was cancelled, so the last was not submitted: the others are reported, and the
  // run, stopped before it submitted every id, exits 2, as one stopped part way through its submits.
  if (run.keptBack) {
    report(run.keptBack.followed)
    console.log(run.keptBack.why)
    return 2
  }
  // The submit was answered: a TLS or port failure while following is waited out, not final.
  return follow(service, run.jobIds, options.giveUpMs, { answeredBefore: true, ...caller })
}

// Every way out ends in endCli: it exits once every line is written (on a pipe, a log, `| tee`, Node
// writes behind the CLI). A fail has ended the CLI already. Never a stack trace: an error nobody
// foresaw is named, not dumped (its message may hold a token).
main().then(
  (code) => endCli(code),
  (err: unknown) => {
    if (!(err instanceof CliEnding)) endCli(2, `unexpected error (${err instanceof Error ? err.name : typeof err}); nothing more was done`)
  },
)
