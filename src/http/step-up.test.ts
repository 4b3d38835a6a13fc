import { describe, expect, it } from 'vitest'
import { ApiError } from './api-error.js'
import { requireRecentLogin, type SessionClock } from './step-up.js'

const NOW = 1_800_000_000
const SKEW = 60
const MAX_AGE = 300
const USER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'

/** A Keycloak whose session (`sid`) started at `startSeconds`, by the realm's clock. */
const sessionStartedAt = (startSeconds: number): SessionClock => ({ startedAt: async () => new Date(startSeconds * 1000), clockSkewSeconds: SKEW })

const reasonOf = (run: Promise<void>) =>
  run.then(
    () => 'admitted',
    (err: unknown) => (err instanceof ApiError ? err.code : err),
  )

describe('requireRecentLogin, judged by the session start when the token has no auth_time', () => {
  it('when the session started within the max age, or ahead of now by no more than the clock skew, then the login is recent', async () => {
    const person = { userId: USER, sessionId: 'sid-1' }

    expect(await reasonOf(requireRecentLogin(person, MAX_AGE, sessionStartedAt(NOW - 10), NOW))).toBe('admitted')
    expect(await reasonOf(requireRecentLogin(person, MAX_AGE, sessionStartedAt(NOW + SKEW), NOW))).toBe('admitted')
  })

  it('when the session started later than now plus the clock skew (a realm clock far ahead), then the login time is unknown: step-up is required', async () => {
    // The realm that stamped a login an hour ahead stamped its session's start too: taken, it would read as recent for the whole session.
    const person = { userId: USER, sessionId: 'sid-1' }

    expect(await reasonOf(requireRecentLogin(person, MAX_AGE, sessionStartedAt(NOW + 3600), NOW))).toBe('STEP_UP_REQUIRED')
    expect(await reasonOf(requireRecentLogin(person, MAX_AGE, sessionStartedAt(NOW - MAX_AGE - 1), NOW))).toBe('STEP_UP_REQUIRED')
  })
})
