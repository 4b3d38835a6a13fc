import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { configDir, projectRoot } from '../../src/config/project-root.js'
import { sunbirdEnvelope } from '../../src/http/dialects/sunbird-envelope.js'
import { buildOpenApiDocument } from '../../src/http/openapi.js'
import { operations } from '../../src/http/operations/index.js'
import { readSchemas } from '../../src/schemas/schema-registry.js'

/** Where `npm run openapi` writes the document: the repository root, for readers and client generators. */
export const openApiFile = join(projectRoot, 'openapi.json')

/**
 * The committed document's text. It uses the body limit and retry delay of config/default.json (a
 * deployment's own show in its served /openapi.json), so the file depends on the code alone, not on env.
 */
export function renderOpenApiFile(): string {
  const defaults = JSON.parse(readFileSync(join(configDir, 'default.json'), 'utf8')) as { http: { maxBodyBytes: number; retryAfterSeconds: number } }
  const document = buildOpenApiDocument({
    operations,
    schemas: readSchemas(),
    maxBodyBytes: defaults.http.maxBodyBytes,
    retryAfterSeconds: defaults.http.retryAfterSeconds,
    defaultDialect: sunbirdEnvelope,
  })
  return `${JSON.stringify(document, null, 2)}\n`
}
