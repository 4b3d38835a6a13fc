import type { BatchDeletionStatus } from '../../src/schemas/schema-types.js'
import { waitUntil } from './wait-until.js'

/** The body of a batch status answer's `result`, as its schema defines it. */
export type BatchStatusResult = NonNullable<BatchDeletionStatus['result']>

/** POSTs a JSON body to a route: in-process (an app's `request`) or over HTTP (a base URL). */
export type Post = (path: string, body: unknown, headers: Record<string, string>) => Promise<Response>

export function postTo(base: string | { request(path: string, init: RequestInit): Response | Promise<Response> }, apiBearer: string): Post {
  return (path, body, headers) => {
    const init: RequestInit = { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${apiBearer}`, ...headers }, body: JSON.stringify(body) }
    return typeof base === 'string' ? fetch(`${base}${path}`, init) : Promise.resolve(base.request(path, init))
  }
}

/** The user token header, or none: a trusted consumer calls with its API bearer alone. */
const asPerson = (token: string | undefined): Record<string, string> => (token === undefined ? {} : { 'x-authenticated-user-token': token })

/** Submits a job as the person of `token`, or (undefined) as the consumer of the Post's API bearer alone. */
export async function submitJob(post: Post, token: string | undefined, userIds: string[], extra: Record<string, unknown> = {}): Promise<{ jobId: string; total: number }> {
  const response = await post('/api/user/v1/delete/batch', { request: { userIds, ...extra } }, asPerson(token))
  const body = (await response.json()) as { result: { jobId: string; total: number } }
  if (response.status !== 202) throw new Error(`batch refused: ${response.status} ${JSON.stringify(body)}`)
  return body.result
}

export async function jobStatus(post: Post, token: string | undefined, jobId: string, page: { offset?: number; limit?: number } = {}): Promise<BatchStatusResult> {
  const response = await post('/api/user/v1/delete/batch/status', { request: { jobId, ...page } }, asPerson(token))
  if (response.status !== 200) throw new Error(`status refused: ${response.status} ${await response.text()}`)
  return ((await response.json()) as { result: BatchStatusResult }).result
}

export function waitForJob(post: Post, token: string | undefined, jobId: string, until: (status: BatchStatusResult) => boolean, timeoutMs = 60_000): Promise<BatchStatusResult> {
  return waitUntil(
    `job ${jobId}`,
    async () => {
      const status = await jobStatus(post, token, jobId, { limit: 1000 }).catch(() => undefined)
      return status && until(status) ? status : undefined
    },
    { timeoutMs, intervalMs: 250 },
  )
}
