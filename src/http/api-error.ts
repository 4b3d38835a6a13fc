import { type ErrorCode, errorEntry, type PlaceholderValues } from './error-codes.js'

/** Thrown anywhere below a handler; rendered by the operation's dialect through the one error handler. */
export class ApiError extends Error {
  override name = 'ApiError'
  readonly headers: Readonly<Record<string, string>>
  /** What the operation still reports along with the error (the checks of a failing /ready); most errors have none. */
  readonly result: Record<string, unknown> | undefined
  /** Values its message names that are this error's own, not the configured ones (a route's own body limit). */
  readonly placeholders: Partial<PlaceholderValues> | undefined
  constructor(
    readonly code: ErrorCode,
    options: { cause?: unknown; reason?: string; headers?: Record<string, string>; result?: Record<string, unknown>; placeholders?: Partial<PlaceholderValues> } = {},
  ) {
    // A 4xx is a refusal the caller can act on: its stack is never logged (render-error.ts logs the
    // stack of a 500 only), so none is captured, which a refused request otherwise pays for.
    const limit = Error.stackTraceLimit
    if (errorEntry(code).status < 500) Error.stackTraceLimit = 0
    // `reason` is for the log only (never rendered): which check failed, without the offending value.
    // The cause option only when there is one: an explicit `cause: undefined` still costs the constructor a property.
    super(options.reason ?? code, options.cause === undefined ? undefined : { cause: options.cause })
    Error.stackTraceLimit = limit
    this.headers = options.headers ?? {}
    this.result = options.result
    this.placeholders = options.placeholders
  }
}
