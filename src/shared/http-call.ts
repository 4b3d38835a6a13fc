import { type Dispatcher, request } from 'undici'

/** An HTTP answer. Its body is read once (`json`) or released (`discard`): undici reuses the connection only then. */
export interface HttpAnswer {
  status: number
  ok: boolean
  json(): Promise<unknown>
  discard(): Promise<void>
}

export interface HttpCallOptions {
  method: Dispatcher.HttpMethod
  headers?: Record<string, string>
  body?: string
  /** From the call's start to the end of its body. */
  timeoutMs: number
}

/**
 * One HTTP call through undici's `request` rather than `fetch`: the same Keycloak admin call cost
 * the calling process about a third of the CPU (measured 2026-12-03, 1,000 calls 50 at a time:
 * 0.32–0.51 ms a call against 0.94–1.43 ms through `fetch`), and a deletion makes one or two.
 */
export async function httpCall(url: string, options: HttpCallOptions): Promise<HttpAnswer> {
  const signal = AbortSignal.timeout(options.timeoutMs)
  const { statusCode, body } = await request(url, {
    method: options.method,
    signal,
    ...(options.headers && { headers: options.headers }),
    ...(options.body !== undefined && { body: options.body }),
  })
  return {
    status: statusCode,
    ok: statusCode >= 200 && statusCode < 300,
    json: () => body.json(),
    // Best effort: a body that fails while being released takes its connection with it, nothing more.
    discard: () => body.dump().catch(() => undefined),
  }
}
