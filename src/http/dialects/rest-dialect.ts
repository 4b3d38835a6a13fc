import type { Dialect, ErrorAnswer } from '../dialect.js'
import { type ErrorCode, errorEntry, fillPlaceholders } from '../error-codes.js'
import { errorEntryHeaders, headerRef, type JsonObject, schemaRef } from '../openapi-parts.js'

/** The header every REST dialect answers with: the request's id, on a success the durable request's (see its OpenAPI description), which the Sunbird status route follows. */
export const REQUEST_ID_HEADER = 'X-Request-Id'

/** What a REST deletion route's handler returns: the id of the durable request it ran. */
export interface DeletionAnswer {
  requestId: string
}

/** What one error answer is rendered from. */
export type ErrorFacts = Pick<ErrorAnswer, 'code' | 'entry' | 'errmsg'> & { method: string }

/** One REST answer shape of another deletion API: its success, its error body, and their schemas in schemas/. */
export interface RestDialectSpec {
  name: string
  success: { status: 204 } | { status: 200; body: unknown; schema: string }
  /** $id of the schema every error body satisfies. */
  errorSchema: string
  errorBody(facts: ErrorFacts): JsonObject
}

/**
 * A dialect of a REST deletion route: no envelope; the success is the seed's own (204 with no
 * body, or 200 with its body); an error is the seed's body for the entry of the error table, with
 * the entry's status and headers. Every answer, success or error, carries X-Request-Id. The OpenAPI
 * examples are rendered by the same `errorBody`, so they cannot drift from what is sent.
 */
export function restDialect(spec: RestDialectSpec): Dialect<DeletionAnswer> {
  return {
    name: spec.name,

    success(c, _operation, result) {
      c.header(REQUEST_ID_HEADER, result.requestId)
      if (spec.success.status === 204) return c.body(null, 204)
      return c.json(spec.success.body as JsonObject, 200)
    },

    error(c, { code, entry, errmsg }) {
      c.header(REQUEST_ID_HEADER, c.get('msgid'))
      return c.json(spec.errorBody({ code, entry, errmsg, method: c.req.method }), entry.status)
    },

    docs: {
      success(): Record<string, JsonObject> {
        const headers = { [REQUEST_ID_HEADER]: headerRef(REQUEST_ID_HEADER) }
        if (spec.success.status === 204) return { 204: { description: 'Deleted: no body.', headers } }
        return {
          200: { description: 'Deleted.', headers, content: { 'application/json': { schema: schemaRef(spec.success.schema), example: spec.success.body } } },
        }
      },

      errors(codes, context) {
        const byStatus = new Map<number, ErrorCode[]>()
        for (const code of codes) byStatus.set(errorEntry(code).status, [...(byStatus.get(errorEntry(code).status) ?? []), code])
        const responses: Record<string, JsonObject> = {}
        for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
          const headers: JsonObject = { [REQUEST_ID_HEADER]: headerRef(REQUEST_ID_HEADER) }
          for (const code of group) Object.assign(headers, errorEntryHeaders(code))
          const examples: JsonObject = {}
          for (const code of group) {
            const entry = errorEntry(code)
            const errmsg = fillPlaceholders(entry.errmsg, context.placeholders)
            examples[code] = { summary: `${entry.err}: ${entry.description}`, value: spec.errorBody({ code, entry, errmsg, method: 'GET' }) }
          }
          responses[String(status)] = {
            description: group.map((code) => `\`${code}\` (\`${errorEntry(code).err}\` in the service log): ${errorEntry(code).description}`).join('\n\n'),
            headers,
            content: { 'application/json': { schema: schemaRef(spec.errorSchema), examples } },
          }
        }
        return responses
      },
    },
  }
}
