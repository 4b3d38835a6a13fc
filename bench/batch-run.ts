/**
 * The batch row: `userIds.length` deletions submitted as batch jobs (`POST /api/user/v1/delete/batch`,
 * at most 1,000 ids a job, as the route allows) by an ORG_ADMIN of the users' organisation, then
 * followed through `POST /api/user/v1/delete/batch/status` until every job is completed. The
 * service runs them with the pace limit off (BATCH_MAX_DELETIONS_PER_SECOND=0), so the row measures
 * what the batch path itself costs.
 */
export interface BatchRun {
  jobs: number
  total: number
  succeeded: number
  failed: Record<string, number>
  /** From the first submission to the last job seen completed. */
  seconds: number
  deletionsPerSecond: number
  /** Jobs not completed when the run gave up waiting. */
  unfinished: number
}

const MAX_IDS_PER_JOB = 1000

interface StatusResult {
  state: 'running' | 'paused' | 'completed'
  total: number
  done: number
  succeeded: number
  failed: Record<string, number>
}

async function post(url: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  return { status: response.status, json: (await response.json()) as Record<string, unknown> }
}

export async function runBatchJobs(options: {
  url: string
  headers: Record<string, string>
  userIds: readonly string[]
  /** Give up after this long (the row then fails). */
  maxSeconds: number
  log(message: string): void
}): Promise<BatchRun> {
  const { url, headers, userIds, log } = options
  const started = Date.now()
  const jobIds: string[] = []
  for (let from = 0; from < userIds.length; from += MAX_IDS_PER_JOB) {
    const ids = userIds.slice(from, from + MAX_IDS_PER_JOB)
    const answer = await post(`${url}/api/user/v1/delete/batch`, headers, { request: { userIds: ids } })
    const jobId = (answer.json.result as { jobId?: string } | undefined)?.jobId
    if (answer.status !== 202 || !jobId) throw new Error(`batch submit answered ${answer.status}: ${JSON.stringify(answer.json).slice(0, 300)}`)
    jobIds.push(jobId)
  }
  const finished = new Map<string, StatusResult>()
  let lastLog = 0
  let endedAt = Date.now()
  while (finished.size < jobIds.length && Date.now() - started < options.maxSeconds * 1000) {
    await new Promise((resolve) => setTimeout(resolve, 500))
    let done = 0
    for (const jobId of jobIds) {
      const known = finished.get(jobId)
      if (known) {
        done += known.done
        continue
      }
      const answer = await post(`${url}/api/user/v1/delete/batch/status`, headers, { request: { jobId, limit: 1 } })
      const result = answer.json.result as StatusResult | undefined
      if (answer.status !== 200 || !result) throw new Error(`batch status answered ${answer.status}: ${JSON.stringify(answer.json).slice(0, 300)}`)
      done += result.done
      if (result.state === 'completed') {
        finished.set(jobId, result)
        endedAt = Date.now()
      }
    }
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now()
      log(`batch: ${done}/${userIds.length} done, ${finished.size}/${jobIds.length} jobs completed, ${Math.round((Date.now() - started) / 1000)} s`)
    }
  }
  const results = [...finished.values()]
  const failed: Record<string, number> = {}
  for (const result of results) for (const [code, n] of Object.entries(result.failed)) failed[code] = (failed[code] ?? 0) + n
  const succeeded = results.reduce((n, r) => n + r.succeeded, 0)
  const seconds = (endedAt - started) / 1000
  return { jobs: jobIds.length, total: userIds.length, succeeded, failed, seconds, deletionsPerSecond: succeeded / Math.max(seconds, 0.001), unfinished: jobIds.length - finished.size }
}
