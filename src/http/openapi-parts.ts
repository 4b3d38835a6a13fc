import type { JsonSchema } from '../schemas/schema-registry.js'
import type { CorsPolicy } from './cors.js'
import { type ErrorCode, errorEntry } from './error-codes.js'

/** Shared pieces of the OpenAPI document: the builder (openapi.ts) and each dialect's docs use them. */

export type JsonObject = Record<string, unknown>

// Fixed values make the document reproducible: `npm run openapi` output only changes with the contract.
export const EXAMPLE_TS = '2024-05-20 10:09:45:837+0000'
export const EXAMPLE_MSGID = '4abb4c0bdd99feea7a7070eeade15aaa'
export const SCHEMA_PREFIX = '#/components/schemas/'

/** Component keys may hold letters, digits, `.`, `-` and `_`; our $ids already do. */
export function componentName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_')
}

export const schemaRef = (id: string) => ({ $ref: `${SCHEMA_PREFIX}${componentName(id)}` })

/** A header of components.headers (see the list in openapi.ts). */
export const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` })

/** The components.headers entry of a credentialed answer's `Access-Control-Allow-Origin`: the allowed origin itself, never `*`. */
export const CREDENTIALED_ALLOW_ORIGIN = 'Access-Control-Allow-Origin.credentialed'

/**
 * The CORS headers a policy's answers may carry, as references to components.headers: `*`
 * (gateway-cors.ts) or, credentialed, `Vary: Origin` on every answer and the allowed origin with
 * Allow-Credentials only for an allowed origin (setCredentialedCors: their descriptions say so);
 * and the headers it exposes to scripts (register-operations.ts).
 */
export function corsAnswerHeaders(policy: CorsPolicy): JsonObject {
  return {
    ...(policy.credentialed
      ? { 'Access-Control-Allow-Origin': headerRef(CREDENTIALED_ALLOW_ORIGIN), 'Access-Control-Allow-Credentials': headerRef('Access-Control-Allow-Credentials'), Vary: headerRef('Vary') }
      : { 'Access-Control-Allow-Origin': headerRef('Access-Control-Allow-Origin') }),
    ...(policy.exposeHeaders && { 'Access-Control-Expose-Headers': headerRef('Access-Control-Expose-Headers') }),
  }
}

/**
 * The headers an entry of the error table is always sent with (Allow on a 405, Retry-After on a
 * 503 …), as references to components.headers: every dialect documents its error answers with them.
 */
export function errorEntryHeaders(code: ErrorCode): JsonObject {
  return Object.fromEntries(Object.keys(errorEntry(code).headers ?? {}).map((name) => [name, headerRef(name)]))
}

/** The `examples` of a schema file that belong to this operation and answer (by envelope id and err). */
export function schemaExamples(schema: JsonSchema | undefined, apiId: string, err: string | null): JsonObject {
  const values = ((schema?.examples as unknown[] | undefined) ?? []).filter((value) => {
    const envelope = value as { id?: string; params?: { err?: string | null } }
    return (envelope.id === undefined || envelope.id === apiId) && (envelope.params === undefined || envelope.params.err === err)
  })
  return Object.fromEntries(values.map((value, index) => [`example-${index + 1}`, { value }]))
}
