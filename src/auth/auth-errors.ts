export type Credential = 'api-bearer' | 'user-token' | 'for-token'

/** How a refusal reads in the log: the credential, then which check failed (e.g. `api-bearer: bad signature`). */
export function refusalText(credential: Credential, reason: string): string {
  return `${credential}: ${reason}`
}

/** A credential was missing or did not verify. `reason` is for the log; the caller only ever sees UOS_0070. */
export class InvalidCredentialsError extends Error {
  override name = 'InvalidCredentialsError'
  constructor(
    readonly credential: Credential,
    /** Which check failed, without the offending value. */
    readonly reason: string,
  ) {
    // A refusal, never a bug: its stack is never logged, and capturing one was a sizeable share of
    // the CPU of a refused request (the rejection paths of the bench).
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    super(refusalText(credential, reason))
    Error.stackTraceLimit = limit
  }
}
