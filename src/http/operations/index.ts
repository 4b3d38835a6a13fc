import type { Operation } from '../operation.js'
import { bearerUserDelete } from './bearer-user-delete.js'
import { health, ready } from './health.js'
import { sessionUserDelete } from './session-user-delete.js'
import { userDelete } from './user-delete.js'
import { userDeleteBatch } from './user-delete-batch.js'
import { userDeleteBatchCancel } from './user-delete-batch-cancel.js'
import { userDeleteBatchStatus } from './user-delete-batch-status.js'
import { userDeleteCancel } from './user-delete-cancel.js'
import { userDeleteStatus } from './user-delete-status.js'
import { userExport } from './user-export.js'
import { v1UsersDelete } from './v1-users-delete.js'
import { v2UserDelete } from './v2-user-delete.js'

/**
 * Every operation of the API. Registration (routes, 405 with Allow, CORS preflights), the OpenAPI
 * document and the shared security suite are all built from this list: adding an operation is one
 * file in this folder and one line here.
 */
export const operations: readonly Operation[] = [
  userDelete,
  userDeleteStatus,
  userDeleteCancel,
  userDeleteBatch,
  userDeleteBatchStatus,
  userDeleteBatchCancel,
  userExport,
  // Clients of other deletion APIs, each in its own dialect (README: "Clients of other deletion APIs").
  v2UserDelete,
  v1UsersDelete,
  sessionUserDelete,
  bearerUserDelete,
  health,
  ready,
]
