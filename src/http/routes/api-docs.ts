import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Hono } from 'hono'
import type { SchemaRegistry } from '../../schemas/schema-registry.js'
import type { AppEnv } from '../app-env.js'
import { sunbirdEnvelope } from '../dialects/sunbird-envelope.js'
import { buildOpenApiDocument } from '../openapi.js'
import { operations } from '../operations/index.js'
import { getOnly } from './get-only.js'
import { lazyAsset, serveAsset, staticAsset } from './static-asset.js'

// Resolved at start: a missing swagger-ui-dist stops the service here, not on a reader's first visit.
const swaggerUiDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
const swaggerUiVersion = (JSON.parse(readFileSync(join(swaggerUiDir, 'package.json'), 'utf8')) as { version: string }).version

/** The files of swagger-ui-dist the page loads, with the type each is served as. */
const swaggerUiFiles = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
} as const

export const apiDocsPaths = {
  document: '/openapi.json',
  reference: '/docs',
  initializer: '/docs/swagger-initializer.js',
  /** Versioned by the installed swagger-ui-dist, so its files can be cached for good. */
  assets: `/docs/swagger-ui/${swaggerUiVersion}`,
} as const

// Everything the page needs comes from this service: it renders on admin networks with no internet,
// and this policy keeps the browser from fetching anything from elsewhere.
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

// Links are relative (no leading `/`), so the page still finds its files and the document when a
// gateway serves the service under a path prefix.
const relative = (path: string) => path.slice(1)

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sunbird-user-delete API</title>
<link rel="icon" type="image/png" sizes="32x32" href="${relative(apiDocsPaths.assets)}/favicon-32x32.png">
<link rel="icon" type="image/png" sizes="16x16" href="${relative(apiDocsPaths.assets)}/favicon-16x16.png">
<link rel="stylesheet" href="${relative(apiDocsPaths.assets)}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="./${relative(apiDocsPaths.document)}"></div>
<script src="${relative(apiDocsPaths.assets)}/swagger-ui-bundle.js"></script>
<script src="${relative(apiDocsPaths.initializer)}"></script>
</body>
</html>
`

// A file rather than an inline script, so the policy above needs no 'unsafe-inline' for scripts.
// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
const initializer = `var root = document.getElementById('swagger-ui');
window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  domNode: root,
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`

const pageAsset = lazyAsset(() => staticAsset(page, 'text/html; charset=utf-8'))
const initializerAsset = lazyAsset(() => staticAsset(initializer, 'text/javascript; charset=utf-8'))

// The page and the initializer change with the service: revalidate (cheap, by ETag). The package's
// files never change under their versioned path.
const REVALIDATE = 'no-cache'
const IMMUTABLE = 'public, max-age=31536000, immutable'

export interface ApiDocsDeps {
  schemas: SchemaRegistry
  maxBodyBytes: number
  retryAfterSeconds: number
}

/**
 * /openapi.json: the contract, built once at start from schemas/ and the operation declarations
 * (with this deployment's body limit in the 413 message). /docs: Swagger UI over it, every file
 * served by the service itself from the installed swagger-ui-dist, never from a CDN.
 */
export function registerApiDocs(app: Hono<AppEnv>, deps: ApiDocsDeps): void {
  const document = JSON.stringify(
    buildOpenApiDocument({ operations, schemas: deps.schemas.schemas, maxBodyBytes: deps.maxBodyBytes, retryAfterSeconds: deps.retryAfterSeconds, defaultDialect: sunbirdEnvelope }),
  )
  getOnly(app, apiDocsPaths.document, (c) => c.body(document, 200, { 'content-type': 'application/json; charset=UTF-8' }))
  getOnly(app, apiDocsPaths.reference, (c) => serveAsset(c, pageAsset(), REVALIDATE, { 'Content-Security-Policy': contentSecurityPolicy }))
  getOnly(app, apiDocsPaths.initializer, (c) => serveAsset(c, initializerAsset(), REVALIDATE, { 'X-Content-Type-Options': 'nosniff' }))
  for (const [file, contentType] of Object.entries(swaggerUiFiles)) {
    const asset = lazyAsset(() => staticAsset(readFileSync(join(swaggerUiDir, file)), contentType))
    getOnly(app, `${apiDocsPaths.assets}/${file}`, (c) => serveAsset(c, asset(), IMMUTABLE, { 'X-Content-Type-Options': 'nosniff' }))
  }
}
