/** Domain errors of the deletion workflow. They carry no HTTP knowledge and no personal data. */

export class UserNotFoundError extends Error {
  override name = 'UserNotFoundError'
}

export class UserAlreadyDeletedError extends Error {
  override name = 'UserAlreadyDeletedError'
}

export class RoleRestrictedError extends Error {
  override name = 'RoleRestrictedError'
}

/** The caller is authenticated but may not delete this user. */
export class NotPermittedError extends Error {
  override name = 'NotPermittedError'
}

/** A store or identity provider did not answer in time; nothing was committed by the failing call. */
export class DependencyUnavailableError extends Error {
  override name = 'DependencyUnavailableError'
  constructor(
    readonly dependency: 'cassandra' | 'keycloak' | 'kafka',
    options: { cause?: unknown } = {},
  ) {
    super(`${dependency} unavailable`, options)
  }
}
