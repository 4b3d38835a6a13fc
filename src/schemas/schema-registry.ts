import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { schemasDir } from '../config/project-root.js'

const addFormats = addFormatsModule.default

export type JsonSchema = Record<string, unknown> & { $id: string }

/** Every JSON Schema in schemas/, keyed by $id. Read once; the files are the single source of truth. */
export function readSchemas(dir = schemasDir): Map<string, JsonSchema> {
  const schemas = new Map<string, JsonSchema>()
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const schema = JSON.parse(readFileSync(join(dir, file), 'utf8')) as JsonSchema
    if (typeof schema.$id !== 'string') throw new Error(`schemas/${file} has no $id`)
    schemas.set(schema.$id, schema)
  }
  return schemas
}

export interface SchemaRegistry {
  readonly schemas: ReadonlyMap<string, JsonSchema>
  /** The compiled validator for a schema $id; compiled once, then cached by AJV. */
  validator<T = unknown>(id: string): ValidateFunction<T>
}

/**
 * One AJV (Draft 2020-12, strict) over every file in schemas/. Request validation stops at the
 * first error (cheap on hostile input); the contract tests ask for allErrors to see everything.
 */
export function createSchemaRegistry(options: { allErrors?: boolean } = {}): SchemaRegistry {
  const schemas = readSchemas()
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: options.allErrors ?? false, verbose: true })
  addFormats(ajv)
  // Annotation only: which error-table entry a failing keyword answers with (see src/http/validation-error.ts).
  ajv.addKeyword({ keyword: 'x-error-codes', schemaType: 'object' })
  // Annotation only: the TypeScript type json-schema-to-typescript emits where it cannot tell (npm run schemas:types).
  ajv.addKeyword({ keyword: 'tsType', schemaType: 'string' })
  // Annotation only: a configuration secret the service refuses to run with as shipped (src/config/shipped-secrets.ts).
  ajv.addKeyword({ keyword: 'x-secret', schemaType: 'boolean' })
  for (const schema of schemas.values()) ajv.addSchema(schema)
  return {
    schemas,
    validator<T>(id: string) {
      const validate = ajv.getSchema<T>(id)
      if (!validate) throw new Error(`no schema with $id ${id} in schemas/`)
      return validate
    },
  }
}

let shared: SchemaRegistry | undefined
let sharedAllErrors: SchemaRegistry | undefined

/**
 * The process's one registry (first error only), built on first use: compiling every schema in
 * schemas/ takes time and memory, so the service's parts and the CLIs share it. Tests that want
 * their own call createSchemaRegistry.
 */
export function sharedSchemaRegistry(): SchemaRegistry {
  shared ??= createSchemaRegistry()
  return shared
}

/**
 * The process's one registry that reports every error, built on first use: the configuration's
 * check lists every bad setting at once (loadConfig runs more than once in a process: the service,
 * its tools, the tests), so it is built once like the first-error one.
 */
export function sharedAllErrorsSchemaRegistry(): SchemaRegistry {
  sharedAllErrors ??= createSchemaRegistry({ allErrors: true })
  return sharedAllErrors
}
