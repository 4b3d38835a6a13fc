import type { ErrorCode } from './error-codes.js'

/** Thrown anywhere below a handler; rendered by the operation's dialect through the one error handler. */
export class ApiError extends Error {
  override name = 'ApiError'
  readonly headers: Readonly<Record<string, string>>
  /** What the operation still reports along with the error (the checks of a failing /ready); most errors have none. */
  readonly result: Record<string, unknown> | undefined
  constructor(
    readonly code: ErrorCode,
    options: { cause?: unknown; reason?: string; headers?: Record<string, string>; result?: Record<string, unknown> } = {},
  ) {
    // `reason` is for the log only (never rendered): which check failed, without the offending value.
    super(options.reason ?? code, { cause: options.cause })
    this.headers = options.headers ?? {}
    this.result = options.result
  }
}
