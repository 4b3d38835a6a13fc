// Generated from schemas/ by `npm run schemas:types` (json-schema-to-typescript): do not edit.
// SchemaTypes maps each schema $id to the type of a value that schema accepts; operations take
// their validated body, path and query types from it (see src/http/operation.ts).

export type ErrorEnvelope = SunbirdResponseEnvelope & {
  params?: {
    err?: string
    errmsg?: string
    status?: 'FAILED'
  }
  responseCode?: {
    [k: string]: unknown
  }
  result?: {}
}
/**
 * Answer of GET /health (the process is alive; no checks) and GET /ready (each dependency check). When a check fails /ready answers 503 with this same envelope, FAILED and UOS_USRDLT0064, so a probe sees which check failed.
 */
export type HealthAndReadiness = SunbirdResponseEnvelope & {
  id?: 'api.health' | 'api.ready'
  ver?: 'v1'
  result?: {
    name: 'sunbird-user-delete'
    healthy: boolean
    checks: {
      name: string
      healthy: boolean
    }[]
  }
}
/**
 * A user id as this system issues it: a UUID, optionally in Keycloak's federated subject form f:<provider>:<uuid>. null counts as missing (UOS_USRDLT0030), like an absent key.
 */
export type UserId = string
/**
 * State and per-step outcomes of a deletion request, with the PII-free receipt once it is completed (or partial).
 */
export type DeletionStatus = SunbirdResponseEnvelope & {
  id?: 'api.user.delete.status'
  params?: {
    err?: null
    errmsg?: null
    status?: 'SUCCESS'
  }
  responseCode?: 'OK'
  result?: {
    request: {
      requestId: string
      userId: string
      state: 'accepted' | 'in_progress' | 'completed' | 'partial' | 'failed'
      reason?: string
      steps: {
        [k: string]: {
          status: 'done' | 'pending' | 'skipped'
          action: string
          count?: number
          at: string
        }
      }
      createdAt: string
      updatedAt: string
      receipt?: DeletionReceipt
    }
  }
}
export type UserDeleteSuccess = SunbirdResponseEnvelope & {
  id?: 'api.user.delete'
  ver?: 'v1'
  params?: {
    err?: null
    errmsg?: null
    status?: 'SUCCESS'
  }
  responseCode?: 'OK'
  result?: {
    response: 'SUCCESS'
  }
}

export interface SchemaTypes {
  'deletion-receipt': DeletionReceipt
  envelope: SunbirdResponseEnvelope
  'error.response': ErrorEnvelope
  'health.response': HealthAndReadiness
  'user-delete-status.request': DeletionStatusRequest
  'user-delete-status.response': DeletionStatus
  'user-delete.request': UserDeleteRequest
  'user-delete.response': UserDeleteSuccess
  'user-id': UserId
}
/**
 * What a completed deletion did, per store, and why; no personal data: the user appears only as a keyed hash (HMAC-SHA256).
 */
export interface DeletionReceipt {
  requestId: string
  subject: string
  state: 'completed' | 'partial'
  completedAt: string
  stores: {
    store: string
    action: string
    count?: number
    why: string
  }[]
}
/**
 * Every JSON answer of the service. Key order id, ver, ts, params, responseCode, result.
 */
export interface SunbirdResponseEnvelope {
  id: string
  ver: string
  /**
   * UTC time, yyyy-MM-dd HH:mm:ss:SSS+0000
   */
  ts: string
  params: {
    resmsgid: string
    msgid: string
    err: string | null
    status: 'SUCCESS' | 'FAILED'
    errmsg: string | null
  }
  responseCode: 'OK' | 'CLIENT_ERROR' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'RESOURCE_NOT_FOUND' | 'SERVER_ERROR' | 'SERVICE_UNAVAILABLE'
  result: {}
}
/**
 * Body of POST /api/user/v1/delete/status: the deletion request id (the msgid of the delete call) or the user id; with a user id the newest request for that user is answered.
 */
export interface DeletionStatusRequest {
  request: (
    | {
        requestId: unknown
        userId?: never
      }
    | {
        userId: unknown
        requestId?: never
      }
  ) & {
    requestId?: string
    userId?: UserId
  }
}
/**
 * Body of POST /api/user/v1/delete. Unknown keys are ignored, as Sunbird's Request class ignores them, so existing clients that send id/ver/params keep working. Each keyword names the entry of the error table its failure answers with (x-error-codes).
 */
export interface UserDeleteRequest {
  request: {
    userId: UserId
  }
}

/** The $id of a schema in schemas/ that has a type here. */
export type SchemaId = keyof SchemaTypes
