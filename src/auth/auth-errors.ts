/** A credential was missing or did not verify. `reason` is for the log; the caller only ever sees UOS_0070. */
export class InvalidCredentialsError extends Error {
  override name = 'InvalidCredentialsError'
  constructor(
    readonly credential: 'api-bearer' | 'user-token' | 'for-token',
    reason: string,
  ) {
    super(`${credential}: ${reason}`)
  }
}
