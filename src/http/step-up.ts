import { ApiError } from './api-error.js'

/** The person whose login counts, with what their token says about it. */
export interface LoginFacts {
  userId: string
  /** `auth_time` of the token (seconds since the epoch), when it has one. */
  authTime?: number
  /** `sid` of the token: the identity provider's session it was issued in. */
  sessionId?: string
}

/** Where a session's start can be read when the token carries no `auth_time` (Keycloak's admin API). */
export interface SessionClock {
  startedAt(userId: string, sessionId: string): Promise<Date | undefined>
  /**
   * AUTH_CLOCK_SKEW_SECONDS: a start later than now plus this is no start known, as a token's
   * `auth_time` is not (UserTokenVerifier). The realm's clock that stamped a login in the future
   * stamped its session's start too: taken, it would read as recent for the session's whole life.
   */
  readonly clockSkewSeconds: number
}

/**
 * Step-up (DELETION_MAX_AUTH_AGE_SECONDS): the person must have logged in no longer ago than the
 * setting allows, else 401 with RFC 9470's `WWW-Authenticate: Bearer
 * error="insufficient_user_authentication", max_age=<n>`, so the portal sends them through login
 * again. The login time is the token's `auth_time` (the `basic` client scope's mapper puts it in
 * access tokens after a browser login); a token without it (Keycloak's password grant sets no
 * AUTH_TIME note) is judged by the start of its session (`sid`), which for a password grant is the
 * login itself and for a browser session is never later than the last one. Unknown is too old, and
 * so is a login time later than now plus the clock skew (see SessionClock).
 */
export async function requireRecentLogin(person: LoginFacts | undefined, maxAuthAgeSeconds: number | undefined, sessions: SessionClock, nowSeconds = Date.now() / 1000): Promise<void> {
  if (maxAuthAgeSeconds === undefined) return
  let authTime = person?.authTime
  if (authTime === undefined && person?.sessionId) {
    const started = await sessions.startedAt(person.userId, person.sessionId)
    if (started && started.getTime() / 1000 <= nowSeconds + sessions.clockSkewSeconds) authTime = started.getTime() / 1000
  }
  if (authTime === undefined) throw new ApiError('STEP_UP_REQUIRED', { reason: 'login time unknown' })
  if (nowSeconds - authTime > maxAuthAgeSeconds) throw new ApiError('STEP_UP_REQUIRED', { reason: 'login too old' })
}
