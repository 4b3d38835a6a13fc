/** A credential was missing or did not verify. `reason` is for the log; the caller only ever sees UOS_0070. */
export class InvalidCredentialsError extends Error {
  override name = 'InvalidCredentialsError'
  constructor(
    readonly credential: 'api-bearer' | 'user-token' | 'for-token',
    /** Which check failed, without the offending value. */
    readonly reason: string,
  ) {
    // A refusal, never a bug: its stack is never logged, and capturing one was a sizeable share of
    // the CPU of a refused request (the rejection paths of the bench).
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    super(`${credential}: ${reason}`)
    Error.stackTraceLimit = limit
  }
}
