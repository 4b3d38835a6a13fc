import { healthRoute, readyRoute } from './health.js'
import type { RouteMeta } from './route-meta.js'
import { userDeleteRoute } from './user-delete.js'
import { userDeleteStatusRoute } from './user-delete-status.js'

/** Every documented operation: the OpenAPI document is built from this list (src/http/openapi.ts). */
export const routes: readonly RouteMeta[] = [userDeleteRoute, userDeleteStatusRoute, healthRoute, readyRoute]
