import { swaggerUI } from '@hono/swagger-ui'
import type { Hono } from 'hono'
import type { SchemaRegistry } from '../../schemas/schema-registry.js'
import type { AppEnv } from '../app-env.js'
import { sunbirdEnvelope } from '../dialects/sunbird-envelope.js'
import { buildOpenApiDocument } from '../openapi.js'
import { operations } from '../operations/index.js'

export const apiDocsPaths = { document: '/openapi.json', reference: '/docs' } as const

export interface ApiDocsDeps {
  schemas: SchemaRegistry
  maxBodyBytes: number
  retryAfterSeconds: number
}

/**
 * /openapi.json: the contract, built once at start from schemas/ and the operation declarations
 * (with this deployment's body limit in the 413 message). /docs: Swagger UI over it; the page loads
 * its script and styles from the jsDelivr CDN in the reader's browser, the service serves no assets.
 */
export function registerApiDocs(app: Hono<AppEnv>, deps: ApiDocsDeps): void {
  const document = JSON.stringify(
    buildOpenApiDocument({ operations, schemas: deps.schemas.schemas, maxBodyBytes: deps.maxBodyBytes, retryAfterSeconds: deps.retryAfterSeconds, defaultDialect: sunbirdEnvelope }),
  )
  app.get(apiDocsPaths.document, (c) => c.body(document, 200, { 'content-type': 'application/json; charset=UTF-8' }))
  // Relative, so the page still finds the document when a gateway serves it under a path prefix.
  app.get(apiDocsPaths.reference, swaggerUI({ url: `.${apiDocsPaths.document}`, title: 'sunbird-user-delete API' }))
}
