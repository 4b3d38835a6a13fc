import type { Hono } from 'hono'
import { userIdFromSubject } from '../../auth/user-token-verifier.js'
import type { DeleteUserInput, DeleteUserResult } from '../../deletion/delete-user.js'
import type { SchemaRegistry } from '../../schemas/schema-registry.js'
import type { AppEnv } from '../app-env.js'
import { authenticate, type AuthenticateDeps } from '../authenticate.js'
import { sendOk } from '../envelope.js'
import type { ErrorCode } from '../error-codes.js'
import type { RouteMeta } from './route-meta.js'
import { readJsonBody } from '../read-json-body.js'
import { validateBody } from '../validate-body.js'

export const userDeleteRoute = {
  apiId: 'api.user.delete',
  method: 'POST',
  summary: 'Delete a user account (Sunbird-compatible)',
  authenticated: true,
  /** The public path, and the service path Sunbird's gateway forwards to. */
  paths: ['/api/user/v1/delete', '/v1/user/delete'],
  requestSchema: 'user-delete.request',
  responseSchema: 'user-delete.response',
  errors: [
    'INVALID_REQUEST_DATA',
    'MANDATORY_PARAM_MISSING',
    'MANDATORY_PARAM_EMPTY',
    'DATA_TYPE_ERROR',
    'INVALID_USER_ID',
    'PAYLOAD_TOO_LARGE',
    'UNAUTHORIZED',
    'FORBIDDEN',
    'ROLE_RESTRICTED',
    'USER_NOT_FOUND',
    'ALREADY_DELETED',
    'SERVICE_UNAVAILABLE',
    'SERVER_ERROR',
  ] satisfies ErrorCode[],
} as const satisfies RouteMeta

export interface UserDeleteDeps extends AuthenticateDeps {
  schemas: SchemaRegistry
  maxBodyBytes: number
  deleteUser(input: DeleteUserInput): Promise<DeleteUserResult>
}

export function registerUserDelete(app: Hono<AppEnv>, deps: UserDeleteDeps): void {
  const chain = [readJsonBody({ maxBytes: deps.maxBodyBytes }), authenticate(deps), validateBody(deps.schemas, userDeleteRoute.requestSchema)] as const
  for (const path of userDeleteRoute.paths) {
    app.post(path, ...chain, async (c) => {
      const body = c.get('body') as { request: { userId: string } }
      // Sunbird reduces a federated subject (f:<provider>:<id>) to the id before anything else.
      const result = await deps.deleteUser({ requestId: c.get('msgid'), userId: userIdFromSubject(body.request.userId), caller: c.get('caller') })
      return sendOk(c, userDeleteRoute.apiId, { ...result })
    })
  }
}
