import { Hono } from 'hono'
import { ApiError } from './http/api-error.js'
import type { AppEnv } from './http/app-env.js'
import type { Verifiers } from './http/credentials/credential-scheme.js'
import { sunbirdEnvelope } from './http/dialects/sunbird-envelope.js'
import type { IdempotencySettings } from './http/idempotency.js'
import type { Operation, OperationServices } from './http/operation.js'
import { operations } from './http/operations/index.js'
import { registerOperations } from './http/register-operations.js'
import { renderError } from './http/render-error.js'
import { requestContext } from './http/request-context.js'
import { requestDeadline } from './http/request-deadline.js'
import { requestMetrics } from './http/request-metrics.js'
import { registerApiDocs } from './http/routes/api-docs.js'
import { registerMetrics } from './http/routes/metrics.js'
import { restPrefixApiIds } from './http/unknown-path-api-id.js'
import type { Logger } from './logging/logger.js'
import type { ServiceMetrics } from './metrics/service-metrics.js'
import type { SchemaRegistry } from './schemas/schema-registry.js'

export interface AppDeps extends OperationServices, Verifiers {
  logger: Logger
  schemas: SchemaRegistry
  maxBodyBytes: number
  requestTimeoutMs: number
  /** Retry-After on every 503. */
  retryAfterSeconds: number
  metrics: ServiceMetrics
  /** Where Idempotency-Key answers are kept. */
  idempotency: IdempotencySettings
  /** DELETION_MAX_AUTH_AGE_SECONDS; absent: no step-up. */
  maxAuthAgeSeconds?: number
}

/** How long before the request deadline a deletion that cannot be undone answers "accepted". */
const ANSWER_MARGIN_MS = 250

/** Middleware order, routes, and the one error road. Nothing else. `served` is the API's operation list (tests may serve others). */
export function createApp(deps: AppDeps, served: readonly Operation[] = operations): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  const renderOptions = {
    maxBodyBytes: deps.maxBodyBytes,
    retryAfterSeconds: deps.retryAfterSeconds,
    ...(deps.maxAuthAgeSeconds !== undefined && { maxAuthAgeSeconds: deps.maxAuthAgeSeconds }),
    defaultDialect: sunbirdEnvelope,
  }
  // The app's own error road answers the caller with what it renders; an operation's own rendering
  // (an answer kept for Idempotency-Key replays, one it adds headers to) is read again after.
  const finalRenderOptions = { ...renderOptions, final: true }

  app.use('*', requestContext(deps.logger, [requestMetrics(deps.metrics)]))
  // A request deadline: past it the caller gets the 503 of the operation's dialect, never a hang;
  // a deletion past its point of no return answers ANSWER_MARGIN_MS before it.
  app.use('*', requestDeadline(deps.requestTimeoutMs, ANSWER_MARGIN_MS))

  registerApiDocs(app, deps)
  registerMetrics(app, deps.metrics)
  registerOperations(app, served, {
    services: deps,
    verifiers: deps,
    schemas: deps.schemas,
    maxBodyBytes: deps.maxBodyBytes,
    idempotency: deps.idempotency,
    ...(deps.maxAuthAgeSeconds !== undefined && { maxAuthAgeSeconds: deps.maxAuthAgeSeconds }),
    renderError: (c, err) => renderError(c, err, renderOptions),
  })

  const restPrefixApiId = restPrefixApiIds(served, renderOptions.defaultDialect)
  app.notFound((c) => {
    // Under a REST route's prefix the id is the prefix's own: no word the caller typed after it is echoed.
    const fixedId = restPrefixApiId(c.req.path)
    if (fixedId !== undefined) c.set('apiId', fixedId)
    return renderError(c, new ApiError('API_NOT_FOUND'), finalRenderOptions)
  })
  app.onError((err, c) => {
    const response = renderError(c, err, finalRenderOptions)
    // The request deadline's 503 comes here, not through the operation: its own headers still apply.
    const withOperationHeaders = c.get('answerHeaders')
    return withOperationHeaders ? withOperationHeaders(response) : response
  })
  return app
}
