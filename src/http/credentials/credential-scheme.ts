import type { Context } from 'hono'
import type { ApiConsumerVerifier } from '../../auth/api-consumer-verifier.js'
import type { UserTokenVerifier } from '../../auth/user-token-verifier.js'
import type { AppEnv } from '../app-env.js'

/** What the credential schemes verify with, built once by the composition root. */
export interface Verifiers {
  apiConsumers: ApiConsumerVerifier
  userTokens: UserTokenVerifier
  /** Whether a user id belongs to a deleted user: their still-unexpired tokens are refused. */
  deletedUsers: { isDeleted(userId: string): Promise<boolean> }
}

type JsonObject = Record<string, unknown>

/**
 * How an operation's caller proves who they are: which credentials, where, verified how, and how
 * OpenAPI documents it. `authenticate` answers the verified principal or throws
 * ApiError('UNAUTHORIZED'); the shared security suite (test/integration/security.test.ts) runs its
 * missing / forged / expired / deleted-user cases against every operation whose scheme is not `none`.
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
  }
  authenticate(c: Context<AppEnv>, verifiers: Verifiers): Promise<Principal>
}
