import type { Hono } from 'hono'
import { userIdFromSubject } from '../../auth/user-token-verifier.js'
import type { DeletionRequest } from '../../deletion/deletion-request.js'
import type { Caller } from '../../auth/caller.js'
import type { SchemaRegistry } from '../../schemas/schema-registry.js'
import type { AppEnv } from '../app-env.js'
import { authenticate, type AuthenticateDeps } from '../authenticate.js'
import { sendOk } from '../envelope.js'
import { readJsonBody } from '../read-json-body.js'
import { validateBody } from '../validate-body.js'
import type { RouteMeta } from './route-meta.js'

export const userDeleteStatusRoute = {
  apiId: 'api.user.delete.status',
  method: 'POST',
  summary: 'Follow a deletion request: state, per-step outcomes, and the PII-free receipt',
  authenticated: true,
  paths: ['/api/user/v1/delete/status', '/v1/user/delete/status'],
  requestSchema: 'user-delete-status.request',
  responseSchema: 'user-delete-status.response',
  errors: [
    'INVALID_REQUEST_DATA', 'MANDATORY_PARAM_MISSING', 'DATA_TYPE_ERROR', 'MANDATORY_PARAM_EMPTY', 'INVALID_USER_ID', 'PAYLOAD_TOO_LARGE', 'UNAUTHORIZED',
    'FORBIDDEN', 'DELETION_REQUEST_NOT_FOUND', 'SERVICE_UNAVAILABLE', 'SERVER_ERROR',
  ],
} as const satisfies RouteMeta

export interface UserDeleteStatusDeps extends AuthenticateDeps {
  schemas: SchemaRegistry
  maxBodyBytes: number
  readDeletionStatus(input: { caller: Caller } & ({ requestId: string } | { userId: string })): Promise<DeletionRequest>
}

/** The wire view: dates as ISO strings, no internal fields. */
function view(request: DeletionRequest) {
  return {
    requestId: request.id,
    userId: request.userId,
    state: request.state,
    ...(request.reason ? { reason: request.reason } : {}),
    steps: request.steps,
    createdAt: request.createdAt.toISOString(),
    updatedAt: request.updatedAt.toISOString(),
    ...(request.receipt ? { receipt: request.receipt } : {}),
  }
}

export function registerUserDeleteStatus(app: Hono<AppEnv>, deps: UserDeleteStatusDeps): void {
  const chain = [readJsonBody({ maxBytes: deps.maxBodyBytes }), authenticate(deps), validateBody(deps.schemas, userDeleteStatusRoute.requestSchema)] as const
  for (const path of userDeleteStatusRoute.paths) {
    app.post(path, ...chain, async (c) => {
      const { request } = c.get('body') as { request: { requestId?: string; userId?: string } }
      const caller = c.get('caller')
      const found = await deps.readDeletionStatus(
        request.requestId !== undefined ? { caller, requestId: request.requestId } : { caller, userId: userIdFromSubject(request.userId as string) },
      )
      return sendOk(c, userDeleteStatusRoute.apiId, { request: view(found) })
    })
  }
}
