import type { Dialect, DocsContext } from '../dialect.js'
import { apiIdForPath, errorEnvelope, errorEnvelopeJson, successEnvelope } from '../envelope.js'
import { type ErrorCode, errorEntry, fillPlaceholders } from '../error-codes.js'
import { jsonAnswer } from '../final-json-answer.js'
import { EXAMPLE_MSGID, EXAMPLE_TS, errorEntryHeaders, headerRef, type JsonObject, schemaExamples, schemaRef } from '../openapi-parts.js'

/** The `result` object of a Sunbird envelope. */
export type SunbirdResult = Record<string, unknown>

/** An error answer as the Sunbird dialect renders it, with fixed ts and msgid, for the document's examples. */
export function sunbirdErrorExample(apiId: string, code: ErrorCode, context: Pick<DocsContext, 'placeholders'>): JsonObject {
  const entry = errorEntry(code)
  // Spread then override keeps the envelope's key order (ts stays third).
  return { ...errorEnvelope(apiId, EXAMPLE_MSGID, entry, fillPlaceholders(entry.errmsg, context.placeholders)), ts: EXAMPLE_TS }
}

function describeCodes(codes: readonly ErrorCode[], context: DocsContext): string {
  return codes
    .map((code) => {
      const entry = errorEntry(code)
      return `\`${entry.err}\` ${fillPlaceholders(entry.errmsg, context.placeholders)}: ${entry.description}`
    })
    .join('\n\n')
}

/**
 * Sunbird's answers: the envelope `id, ver, ts, params{resmsgid,msgid,err,status,errmsg},
 * responseCode, result` (envelope.ts), `x-response-length` on success, and for an error the entry's
 * envelope, or its message alone as plain text where the table says so (Sunbird's 403).
 */
export const sunbirdEnvelope: Dialect<SunbirdResult> = {
  name: 'sunbird-envelope',

  success(c, operation, result) {
    c.header('x-response-length', String(Buffer.byteLength(JSON.stringify(result))))
    return c.json(successEnvelope(operation.id, c.get('msgid'), result), operation.successStatus ?? 200)
  },

  error(c, { entry, errmsg, result, final }) {
    if (entry.body === 'plain-text') return c.text(errmsg, entry.status)
    // What c.json(errorEnvelope(…)) sends, with the JSON written by errorEnvelopeJson.
    return jsonAnswer(c, errorEnvelopeJson(c.get('apiId') ?? 'api.unknown', c.get('msgid'), entry, errmsg, result), entry.status, final === true)
  },

  docs: {
    success({ operation, schemas }) {
      const content = operation.responseSchema
        ? { 'application/json': { schema: schemaRef(operation.responseSchema), examples: schemaExamples(schemas.get(operation.responseSchema), operation.id, null) } }
        : undefined
      return {
        [operation.successStatus ?? 200]: {
          description: operation.successStatus === 202 ? 'Accepted: the success envelope; the work goes on.' : 'Done: the success envelope.',
          headers: { 'x-response-length': headerRef('x-response-length') },
          ...(content && { content }),
        },
      }
    },

    errors(codes, context) {
      const { operation, schemas } = context
      const byStatus = new Map<number, ErrorCode[]>()
      for (const code of codes) byStatus.set(errorEntry(code).status, [...(byStatus.get(errorEntry(code).status) ?? []), code])
      const responses: Record<string, JsonObject> = {}
      for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
        const headers: JsonObject = {}
        for (const code of group) Object.assign(headers, errorEntryHeaders(code))
        const content: JsonObject = {}
        const json = group.filter((code) => errorEntry(code).body !== 'plain-text')
        const text = group.filter((code) => errorEntry(code).body === 'plain-text')
        if (json.length > 0) {
          const schemaIds = [...new Set(json.map((code) => operation.errorSchemas?.[code] ?? 'error.response'))]
          const examples: JsonObject = {}
          for (const code of json) {
            const entry = errorEntry(code)
            const own = operation.errorSchemas?.[code]
            // Keyed by code name, not err: two codes may share an err (UOS_USRDLT0013 for a user and for a request).
            if (own) Object.assign(examples, Object.fromEntries(Object.values(schemaExamples(schemas.get(own), operation.id, entry.err)).map((example, i) => [`${code}-${i + 1}`, example])))
            else examples[code] = { summary: fillPlaceholders(entry.errmsg, context.placeholders), description: entry.description, value: sunbirdErrorExample(operation.id, code, context) }
          }
          const schema = schemaIds.length === 1 ? schemaRef(schemaIds[0] as string) : { oneOf: schemaIds.map(schemaRef) }
          content['application/json'] = { schema, examples }
        }
        if (text.length > 0) {
          const messages = text.map((code) => fillPlaceholders(errorEntry(code).errmsg, context.placeholders))
          content['text/plain'] = { schema: messages.length === 1 ? { type: 'string', const: messages[0] } : { type: 'string', enum: messages }, example: messages[0] }
        }
        responses[String(status)] = { description: describeCodes(group, context), headers, content }
      }
      return responses
    },

    components(context) {
      const described = (code: ErrorCode) => `\`${errorEntry(code).err}\` ${errorEntry(code).errmsg}: ${errorEntry(code).description}`
      return {
        responses: {
          MethodNotAllowed: {
            description: described('METHOD_NOT_ALLOWED'),
            // The entry's own headers (Allow), as every 405 is sent with them (methodNotAllowed).
            headers: { ...errorEntryHeaders('METHOD_NOT_ALLOWED'), 'Access-Control-Allow-Origin': headerRef('Access-Control-Allow-Origin') },
            content: { 'application/json': { schema: schemaRef('error.response'), example: sunbirdErrorExample('api.user.delete', 'METHOD_NOT_ALLOWED', context) } },
          },
          ApiNotFound: {
            description: described('API_NOT_FOUND'),
            headers: { 'Access-Control-Allow-Origin': headerRef('Access-Control-Allow-Origin') },
            content: { 'application/json': { schema: schemaRef('error.response'), example: sunbirdErrorExample(apiIdForPath('/api/user/v2/delete'), 'API_NOT_FOUND', context) } },
          },
        },
      }
    },

    operationFields({ operation }) {
      return { 'x-sunbird-api-id': operation.id }
    },
  },
}
