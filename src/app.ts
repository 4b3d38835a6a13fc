import { Hono } from 'hono'
import { timeout } from 'hono/timeout'
import type { Logger } from './logging/logger.js'
import { ApiError } from './http/api-error.js'
import type { AppEnv } from './http/app-env.js'
import { renderError } from './http/render-error.js'
import { requestContext } from './http/request-context.js'
import { requestMetrics } from './http/request-metrics.js'
import { registerApiDocs } from './http/routes/api-docs.js'
import { registerMetrics } from './http/routes/metrics.js'
import { registerHealth, type HealthDeps } from './http/routes/health.js'
import { registerUserDelete, userDeleteRoute, type UserDeleteDeps } from './http/routes/user-delete.js'
import { registerUserDeleteStatus, userDeleteStatusRoute, type UserDeleteStatusDeps } from './http/routes/user-delete-status.js'
import type { ServiceMetrics } from './metrics/service-metrics.js'

export interface AppDeps extends UserDeleteDeps, UserDeleteStatusDeps, HealthDeps {
  logger: Logger
  requestTimeoutMs: number
  retryAfterSeconds: number
  metrics: ServiceMetrics
}

const ALLOWED_HEADERS = 'Content-Type, Authorization, X-Authenticated-User-Token, X-Authenticated-For, X-Request-ID, X-msgId, X-Channel-Id, X-Device-Id, X-App-Id'

/** Middleware order, routes, and the one error road. Nothing else. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  const renderOptions = { maxBodyBytes: deps.maxBodyBytes, retryAfterSeconds: deps.retryAfterSeconds }

  app.use('*', requestContext(deps.logger))
  app.use('*', requestMetrics(deps.metrics))
  // A request deadline: past it the caller gets the 503 envelope, never a hang.
  app.use('*', timeout(deps.requestTimeoutMs))

  registerHealth(app, deps)
  registerApiDocs(app, deps)
  registerMetrics(app, deps.metrics)
  registerUserDelete(app, deps)
  registerUserDeleteStatus(app, deps)

  for (const path of [userDeleteRoute, userDeleteStatusRoute].flatMap((route) => route.paths)) {
    // Browsers may call the portal path directly; answer their preflight like a gateway would.
    app.options(path, (c) => {
      c.header('Access-Control-Allow-Methods', `${userDeleteRoute.method}, OPTIONS`)
      c.header('Access-Control-Allow-Headers', ALLOWED_HEADERS)
      c.header('Access-Control-Max-Age', '600')
      return c.body(null, 204)
    })
    app.all(path, () => {
      throw new ApiError('METHOD_NOT_ALLOWED', { headers: { Allow: `${userDeleteRoute.method}, OPTIONS` } })
    })
  }

  app.notFound((c) => renderError(c, new ApiError('API_NOT_FOUND'), renderOptions))
  app.onError((err, c) => renderError(c, err, renderOptions))
  return app
}
