import type { ErrorCode } from './error-codes.js'

/** Thrown anywhere below a handler; rendered into the envelope by the one error handler. */
export class ApiError extends Error {
  override name = 'ApiError'
  readonly headers: Readonly<Record<string, string>>
  constructor(
    readonly code: ErrorCode,
    options: { cause?: unknown; reason?: string; headers?: Record<string, string> } = {},
  ) {
    // `reason` is for the log only (never rendered): which check failed, without the offending value.
    super(options.reason ?? code, { cause: options.cause })
    this.headers = options.headers ?? {}
  }
}
