import { compile, type JSONSchema } from 'json-schema-to-typescript'
import { readSchemas } from '../../src/schemas/schema-registry.js'

/** Where `npm run schemas:types` writes the TypeScript types of schemas/. */
export const schemaTypesFile = 'src/schemas/schema-types.ts'

const HEADER = `// Generated from schemas/ by \`npm run schemas:types\` (json-schema-to-typescript): do not edit.
// SchemaTypes maps each schema $id to the type of a value that schema accepts; operations take
// their validated body, path and query types from it (see src/http/operation.ts), and the service
// its configuration type (Config, src/config/config.ts) from ServiceConfiguration.
`

/**
 * The types of every schema in schemas/, as one module: a SchemaTypes interface keyed by $id, and
 * a named type per schema (named by its title). \`$ref\`s are by $id, resolved from the same files.
 */
export async function renderSchemaTypes(): Promise<string> {
  const schemas = readSchemas()
  const ids = [...schemas.keys()].sort()
  const root = {
    title: 'SchemaTypes',
    type: 'object',
    additionalProperties: false,
    required: ids,
    properties: Object.fromEntries(ids.map((id) => [id, { $ref: id }])),
  }
  const byId = (url: string) => url.slice(url.lastIndexOf('/') + 1)
  const body = await compile(root as JSONSchema, 'SchemaTypes', {
    bannerComment: '',
    additionalProperties: false,
    unreachableDefinitions: false,
    style: { singleQuote: true, semi: false, printWidth: 200, trailingComma: 'all' },
    $refOptions: {
      resolve: {
        // Each read gets its own copy: the generator annotates the objects it is given.
        schemasById: { order: 1, canRead: (file: { url: string }) => schemas.has(byId(file.url)), read: (file: { url: string }) => structuredClone(schemas.get(byId(file.url))) },
      },
    } as never,
  })
  return `${HEADER}\n${body}\n/** The $id of a schema in schemas/ that has a type here. */\nexport type SchemaId = keyof SchemaTypes\n`
}
