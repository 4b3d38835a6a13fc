import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { configDir, projectRoot } from '../../src/config/project-root.js'
import { buildOpenApiDocument } from '../../src/http/openapi.js'
import { routes } from '../../src/http/routes/index.js'
import { readSchemas } from '../../src/schemas/schema-registry.js'

/** Where `npm run openapi` writes the document: the repository root, for readers and client generators. */
export const openApiFile = join(projectRoot, 'openapi.json')

/**
 * The committed document's text. It uses the body limit of config/default.json (a deployment's own
 * limit shows in its served /openapi.json), so the file depends on the code alone, not on env.
 */
export function renderOpenApiFile(): string {
  const defaults = JSON.parse(readFileSync(join(configDir, 'default.json'), 'utf8')) as { http: { maxBodyBytes: number } }
  const document = buildOpenApiDocument({ routes, schemas: readSchemas(), maxBodyBytes: defaults.http.maxBodyBytes })
  return `${JSON.stringify(document, null, 2)}\n`
}
