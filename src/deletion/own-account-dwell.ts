/** How often the batch CLI (npm run deletion:batch) reads the status of the jobs it follows. */
export const BATCH_CLI_POLL_MS = 1000

/**
 * How long a job's creator's own account waits, once every other user of the job is settled,
 * before its deletion begins: three of the CLI's polls, so a creator following the job reads
 * "every other id settled, my own pending" at least once before the deletion locks them out (and
 * the 401 after that read tells the CLI their account is gone). A fixed wait, not a setting: it
 * follows the CLI's poll, not the deployment.
 */
export const OWN_ACCOUNT_DWELL_MS = 3 * BATCH_CLI_POLL_MS
