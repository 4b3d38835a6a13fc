import type { Context } from 'hono'
import type { ApiConsumerVerifier } from '../../auth/api-consumer-verifier.js'
import type { LockOutStanding } from '../../auth/deleted-user-gate.js'
import type { UserTokenVerifier } from '../../auth/user-token-verifier.js'
import type { AppEnv } from '../app-env.js'
import type { LoginFacts, SessionClock } from '../step-up.js'

/** What the credential schemes verify with, built once by the composition root. */
export interface Verifiers {
  apiConsumers: ApiConsumerVerifier
  userTokens: UserTokenVerifier
  /** Where a user id stands for the lock-out: a deleted user's still-unexpired tokens are refused. */
  deletedUsers: { standing(userId: string): Promise<LockOutStanding> }
  /** When a login session began, for step-up when a token carries no `auth_time`. */
  sessions: SessionClock
  /** The session-cookie scheme's settings (SESSION_COOKIE_NAME, SESSION_ALLOWED_ORIGINS, SESSION_COOKIE_SECURE). */
  sessionCookie: SessionCookieSettings
  /**
   * USER_TOKEN_DIRECT_CLIENTS: the Keycloak clients (`azp`) whose tokens the schemes taking the
   * person's token alone accept (no gateway JWT beside it); empty: any client of the realm.
   */
  directTokenClients: readonly string[]
}

export interface SessionCookieSettings {
  name: string
  /** Browser origins allowed to call with the cookie (credentialed CORS); any other Origin is refused as CSRF. */
  allowedOrigins: readonly string[]
  secure: boolean
}

type JsonObject = Record<string, unknown>

/** Whom the operation's lock-out lets through besides active persons (see the operation spec's flags of the same names). */
export interface LockOutOptions {
  admitSoftDeleted: boolean
  admitSoftDeletedManagedUser?: boolean
}

/**
 * How an operation's caller proves who they are: which credentials, where, verified how, and how
 * OpenAPI documents it. The operation mechanism (operation.ts) calls, in order:
 * 1. `authenticate`: the credentials verified (signature, expiry, issuer), or ApiError('UNAUTHORIZED');
 * 2. the Idempotency-Key lookup, when the operation takes one, keyed by `idempotencyOwner`
 *    (skipped when `refusedAtLockOut`);
 * 3. `lockOut`: a deleted person's still-valid token refused (ApiError('UNAUTHORIZED')), except a
 *    soft-deleted person's own where the operation admits them (cancel); then a refusal the
 *    principal carries (e.g. X-Authenticated-For's), told only to a person it lets in;
 * 4. step-up, when the operation asks for it, on the login of `person`.
 * The shared security suite (test/integration/security.test.ts) runs its missing / forged /
 * expired / deleted-user cases against every operation whose scheme is not `none`.
 */
export interface CredentialScheme<Principal> {
  /** A name the security suite and the docs know it by. */
  readonly name: string
  /** Request headers it reads, for a CORS preflight's Access-Control-Allow-Headers. */
  readonly headers: readonly string[]
  readonly openApi: {
    /** The operation's security requirement (OpenAPI: an empty list means none). */
    readonly security: readonly Record<string, readonly string[]>[]
    /** components.securitySchemes it names. */
    readonly securitySchemes: Readonly<Record<string, JsonObject>>
    /** Header parameters beside the credentials (components.parameters), by name. */
    readonly parameters: Readonly<Record<string, JsonObject>>
    /** Headers (components.headers) of the answer that ends the session (endSession), by name. */
    readonly endSessionHeaders?: Readonly<Record<string, JsonObject>>
  }
  /**
   * A scheme that decides without waiting may answer synchronously, and refuse by throwing
   * synchronously: a request refused that way (no API bearer, a forged one) then costs no promise.
   */
  authenticate(c: Context<AppEnv>, verifiers: Verifiers): Principal | Promise<Principal>
  lockOut(principal: Principal, verifiers: Verifiers, options: LockOutOptions): Promise<Principal>
  /**
   * Whether the principal carries a refusal its lock-out tells once it has judged the person (e.g. a
   * refused X-Authenticated-For): the lock-out refuses it whatever the operation admits, so its
   * Idempotency-Key is not looked up, and the refusal neither claims a key nor is answered by one's
   * stored answer. Absent: never.
   */
  refusedAtLockOut?(principal: Principal): boolean
  /** Whose an Idempotency-Key is: the API consumer where the scheme has one, else the person. */
  idempotencyOwner(principal: Principal): string
  /** The person whose login step-up judges, or undefined for a scheme without one. */
  person(principal: Principal): LoginFacts | undefined
  /**
   * Ends the caller's session on the answer, for an operation that says so (`endsSession`): e.g.
   * the session cookie expired once its account is deleted. Absent: the scheme keeps no session.
   */
  endSession?(c: Context<AppEnv>, verifiers: Verifiers): void
  /**
   * The `WWW-Authenticate` challenge of the operation's 401s (unless the answer has its own, as
   * step-up's): e.g. bearerChallenge. Absent on the Sunbird routes, whose answers are frozen, and
   * where no HTTP authentication scheme fits (a session cookie).
   */
  challenge?(c: Context<AppEnv>): string
}
