import type { MiddlewareHandler } from 'hono'
import type { ApiConsumerVerifier } from '../auth/api-consumer-verifier.js'
import { InvalidCredentialsError } from '../auth/auth-errors.js'
import type { Caller } from '../deletion/caller.js'
import { bearerToken } from '../auth/compact-jwt.js'
import type { UserTokenVerifier } from '../auth/user-token-verifier.js'
import { ApiError } from './api-error.js'
import type { AppEnv } from './app-env.js'

export interface AuthenticateDeps {
  apiConsumers: ApiConsumerVerifier
  userTokens: UserTokenVerifier
  /** Whether a user id belongs to a deleted user: their still-unexpired tokens are refused. */
  deletedUsers: { isDeleted(userId: string): Promise<boolean> }
}

/**
 * Both credentials, in the contract's order: the gateway consumer JWT in Authorization, then the
 * end user's Keycloak token in X-Authenticated-User-token, then (when sent) the managed user's
 * token in X-Authenticated-For. A token of a deleted user is refused like a forged one: deletion
 * locks the person out at once, not when their token expires. Any failure is the same 401
 * UOS_0070; the reason goes to the log.
 */
export function authenticate(deps: AuthenticateDeps): MiddlewareHandler<AppEnv> {
  return async function authenticateCaller(c, next) {
    try {
      const apiToken = bearerToken(c.req.header('authorization'))
      if (!apiToken) throw new InvalidCredentialsError('api-bearer', 'missing')
      const { consumer } = deps.apiConsumers.verify(apiToken)

      const userToken = c.req.header('x-authenticated-user-token')?.trim()
      if (!userToken) throw new InvalidCredentialsError('user-token', 'missing')
      const user = await deps.userTokens.verify(userToken, 'user-token')
      if (await deps.deletedUsers.isDeleted(user.userId)) throw new InvalidCredentialsError('user-token', 'user is deleted')

      const caller: Caller = { consumer, userId: user.userId, roles: user.roles }
      const forToken = c.req.header('x-authenticated-for')?.trim()
      if (forToken) {
        const managed = await deps.userTokens.verify(forToken, 'for-token')
        if (!managed.parentId) throw new InvalidCredentialsError('for-token', 'no parentId')
        if (await deps.deletedUsers.isDeleted(managed.userId)) throw new InvalidCredentialsError('for-token', 'user is deleted')
        caller.managedUser = { userId: managed.userId, parentId: managed.parentId }
      }
      c.set('caller', caller)
    } catch (err) {
      if (err instanceof InvalidCredentialsError) throw new ApiError('UNAUTHORIZED', { reason: err.message })
      throw err
    }
    await next()
  }
}
