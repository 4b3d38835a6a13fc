import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../config/project-root.js'
import type { JsonSchema } from '../schemas/schema-registry.js'
import { REST_EXPOSED } from './cors.js'
import type { AnyDialect, DocsContext } from './dialect.js'
import { errorCodes, type ErrorCodeEntry, fillPlaceholders, type PlaceholderValues } from './error-codes.js'
import { bodyLimitOf, type OperationMeta } from './operation.js'
import { REQUEST_ID_HEADER } from './dialects/rest-dialect.js'
import { IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER } from './idempotency.js'
import { componentName, CREDENTIALED_ALLOW_ORIGIN, corsAnswerHeaders, headerRef, type JsonObject, SCHEMA_PREFIX, schemaExamples, schemaRef } from './openapi-parts.js'

export interface OpenApiOptions extends PlaceholderValues {
  /** The documented operations (src/http/operations/index.ts). */
  operations: readonly OperationMeta[]
  /** Every schema of schemas/ by $id, as read by readSchemas(). */
  schemas: ReadonlyMap<string, JsonSchema>
  /** The dialect of answers no operation gives (unknown path): it documents the shared responses. */
  defaultDialect: AnyDialect
}

function walk(value: unknown, visit: (node: JsonObject) => void): void {
  if (Array.isArray(value)) for (const item of value) walk(item, visit)
  else if (typeof value === 'object' && value !== null) {
    visit(value as JsonObject)
    for (const inner of Object.values(value)) walk(inner, visit)
  }
}

/** The schema files the document refers to (paths and shared responses), and every file those refer to, transitively. */
function reachableSchemaIds(document: unknown, schemas: OpenApiOptions['schemas']): string[] {
  const byComponent = new Map([...schemas.keys()].map((id) => [componentName(id), id]))
  const pending: string[] = []
  walk(document, (node) => {
    if (typeof node.$ref === 'string' && node.$ref.startsWith(SCHEMA_PREFIX)) {
      const name = node.$ref.slice(SCHEMA_PREFIX.length).split('/')[0] as string
      pending.push(byComponent.get(name) ?? name)
    }
  })
  const found = new Set<string>()
  while (pending.length > 0) {
    const id = pending.pop()
    if (id === undefined || found.has(id)) continue
    const schema = schemas.get(id)
    if (!schema) throw new Error(`OpenAPI: no schema with $id ${id} in schemas/`)
    found.add(id)
    walk(schema, (node) => {
      if (typeof node.$ref === 'string' && !node.$ref.startsWith('#')) pending.push(node.$ref.split('#')[0] as string)
    })
  }
  return [...found].sort()
}

/**
 * A schema file as a component: without $id and $schema (an $id inside the document would move
 * the base URI its $refs resolve against) and the type generator's tsType, with `$ref: "user-id"`
 * and local `#/...` refs rewritten to point inside the document.
 */
function toComponent(id: string, schema: JsonSchema, schemas: OpenApiOptions['schemas']): JsonObject {
  const copy = structuredClone(schema) as JsonObject
  delete copy.$id
  delete copy.$schema
  walk(copy, (node) => {
    // The type generator's annotation (npm run schemas:types): no part of the HTTP contract.
    delete node.tsType
  })
  walk(copy, (node) => {
    if (typeof node.$ref !== 'string') return
    const [base = '', fragment = ''] = node.$ref.split('#')
    const target = base === '' ? id : base
    if (!schemas.has(target)) throw new Error(`OpenAPI: ${id} refers to ${node.$ref}, which is not in schemas/`)
    node.$ref = `${SCHEMA_PREFIX}${componentName(target)}${fragment}`
  })
  return copy
}

function operationId(operation: OperationMeta, pathIndex: number): string {
  const base = operation.id
    .replace(/^api\./, '')
    .split(/[._-]/)
    .map((part, index) => (index === 0 ? part : part.charAt(0).toUpperCase() + part.slice(1)))
    .join('')
  return pathIndex === 0 ? base : `${base}Alias${pathIndex}`
}

/** OpenAPI's `{name}` for the router's `:name`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')

/** Path or query parameters, one per property of the schema that validates them. */
function inputParameters(where: 'path' | 'query', id: string | undefined, schemas: OpenApiOptions['schemas']): JsonObject[] {
  if (id === undefined) return []
  const schema = schemas.get(id) as (JsonSchema & { properties?: Record<string, JsonObject>; required?: string[] }) | undefined
  if (!schema) throw new Error(`OpenAPI: no schema with $id ${id} in schemas/`)
  return Object.keys(schema.properties ?? {}).map((name) => ({
    name,
    in: where,
    required: where === 'path' || (schema.required ?? []).includes(name),
    schema: { $ref: `${SCHEMA_PREFIX}${componentName(id)}/properties/${name}` },
  }))
}

function operationObject(operation: OperationMeta, pathIndex: number, options: OpenApiOptions): JsonObject {
  const context: DocsContext = {
    operation: {
      id: operation.id,
      ...(operation.successStatus && { successStatus: operation.successStatus }),
      ...(operation.responseSchema && { responseSchema: operation.responseSchema }),
      ...(operation.errorSchemas && { errorSchemas: operation.errorSchemas }),
    },
    schemas: options.schemas,
    placeholders: { ...options, maxBodyBytes: bodyLimitOf(operation, options.maxBodyBytes) },
  }
  const aliasOf = pathIndex > 0 ? `Alias of \`${operation.method} ${operation.paths[0]}\`${operation.aliasNote ? ` (${operation.aliasNote})` : ''}.` : undefined
  const docs = operation.dialect.docs
  const { openApi } = operation.credentials
  const op: JsonObject = {
    operationId: operationId(operation, pathIndex),
    summary: operation.summary,
    ...((operation.description ?? aliasOf) && { description: [aliasOf, operation.description].filter(Boolean).join('\n\n') }),
    tags: [operation.tag],
    ...docs.operationFields?.(context),
    security: openApi.security,
    parameters: [
      ...Object.keys(openApi.parameters).map((name) => ({ $ref: `#/components/parameters/${name}` })),
      ...inputParameters('path', operation.request.params, options.schemas),
      ...inputParameters('query', operation.request.query, options.schemas),
      ...(operation.idempotent ? [{ $ref: `#/components/parameters/${IDEMPOTENCY_KEY_HEADER}` }] : []),
      { $ref: '#/components/parameters/x-request-id' },
      { $ref: '#/components/parameters/X-msgId' },
    ],
  }
  const body = operation.request.body
  if (body) {
    op.requestBody = {
      required: true,
      content: { 'application/json': { schema: schemaRef(body), examples: schemaExamples(options.schemas.get(body), operation.id, null) } },
    }
  }
  const success = docs.success(context)
  // A replayed answer is the first one again, marked.
  if (operation.idempotent) for (const response of Object.values(success)) addHeaders(response, [REPLAYED_HEADER])
  // A success that ends the session says how (the expired session cookie).
  if (operation.endsSession) for (const response of Object.values(success)) addHeaders(response, Object.keys(operation.credentials.openApi.endSessionHeaders ?? {}))
  op.responses = { ...success, ...docs.errors(operation.errors, context) }
  // The operation's own headers, then the CORS headers of its policy, are on every answer it gives.
  for (const response of Object.values(op.responses as Record<string, JsonObject>))
    mergeHeaders(response, { ...headerRefs(Object.keys(operation.responseHeaders ?? {})), ...corsAnswerHeaders(operation.cors) })
  const unauthorized = (op.responses as Record<string, JsonObject>)['401']
  if (unauthorized && operation.credentials.challenge) addHeaders(unauthorized, ['WWW-Authenticate'])
  return op
}

function addHeaders(response: JsonObject, names: readonly string[]): void {
  if (names.length === 0) return
  mergeHeaders(response, headerRefs(names))
}

/** Adds `headers` to the answer's, a header it already has taking the new value. */
function mergeHeaders(response: JsonObject, headers: JsonObject): void {
  response.headers = { ...(response.headers as JsonObject | undefined), ...headers }
}

/** Each header named, as a reference to its components.headers entry. */
function headerRefs(names: readonly string[]): JsonObject {
  return Object.fromEntries(names.map((name) => [name, headerRef(name)]))
}

function errorTable(values: PlaceholderValues): string {
  const rows = (Object.values(errorCodes) as ErrorCodeEntry[]).map((entry) =>
    // A plain-text answer has no envelope, so no responseCode or err either.
    entry.body === 'plain-text'
      ? `| ${entry.status} | — | — (plain text body) | ${fillPlaceholders(entry.errmsg, values)} |`
      : `| ${entry.status} | ${entry.responseCode} | \`${entry.err}\` | ${fillPlaceholders(entry.errmsg, values)} |`,
  )
  return ['| HTTP | responseCode | err | errmsg |', '|---|---|---|---|', ...rows].join('\n')
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version
}

/**
 * The OpenAPI 3.1 document of the service, built from what the service itself runs on: the
 * operation declarations (src/http/operations/), their credential schemes and dialects, the JSON
 * Schemas of schemas/ (as components, unchanged but for their $refs), and the error table of
 * error-codes.ts. Nothing here is written by hand twice.
 */
export function buildOpenApiDocument(options: OpenApiOptions): JsonObject {
  const { operations, schemas } = options
  const paths: JsonObject = {}
  for (const operation of operations) {
    operation.paths.forEach((path, index) => {
      const item = (paths[openApiPath(path)] ?? {}) as JsonObject
      paths[openApiPath(path)] = item
      item[operation.method.toLowerCase()] = operationObject(operation, index, options)
    })
  }
  const sharedResponses = options.defaultDialect.docs.components?.({ schemas, placeholders: options }).responses ?? {}
  const schemes = [...new Set(operations.map((operation) => operation.credentials))]
  const componentSchemas = Object.fromEntries(reachableSchemaIds({ paths, sharedResponses }, schemas).map((id) => [componentName(id), toComponent(id, schemas.get(id) as JsonSchema, schemas)]))
  return {
    // No jsonSchemaDialect: the default (OpenAPI 3.1's base dialect, Draft 2020-12 plus OpenAPI's
    // own keywords) covers schemas/, and Swagger UI shows any other value as a warning to readers.
    openapi: '3.1.0',
    info: {
      title: 'sunbird-user-delete',
      version: packageVersion(),
      summary: "Sunbird-compatible user deletion: Sunbird's request, envelope, error codes and messages.",
      description: [
        "Every JSON answer of the Sunbird routes is Sunbird's envelope `id, ver, ts, params{resmsgid,msgid,err,status,errmsg}, responseCode, result`, with `Access-Control-Allow-Origin: *`. " +
          '`msgid` = `resmsgid` = the `x-request-id` header, else `X-msgId`, else a new UUID v4; the service log carries it on every line of the request.',
        'Checks run in this order and the first failing one answers: size, JSON, API bearer, user token, body schema, mass-deletion guard (a requester deleting someone else), authorization, role restriction, existence, already deleted.',
        'A method a path does not serve answers 405 with `Allow` (see `MethodNotAllowed`); an unknown path answers 404 `UOS_APINOTFOUND` (see `ApiNotFound`). ' +
          'The GET-only paths, `/health`, `/ready` and those this document does not list (`/metrics`, `/openapi.json`, `/docs` and the files that page loads), serve GET and HEAD and answer any other method, `OPTIONS` included, 405 with `Allow: GET` in the same envelope, its `id` made of the path’s words (`api.metrics`). ' +
          '`OPTIONS` on the delete paths answers the CORS preflight (204).',
        'The REST routes of other deletion APIs (`DELETE /api/v2/user/{id}/`, `/api/v1/users/{id}`, `/api/users/{user_id}` and `/api/users/{user_id}/`) answer in the dialect of the API their clients know, with the status of the same error-table entry, and `X-Request-Id` on every answer.',
        `Every error code:\n\n${errorTable(options)}`,
      ].join('\n\n'),
    },
    tags: [
      { name: 'users', description: 'Account deletion, Sunbird-compatible' },
      { name: 'operations', description: 'Probes for orchestrators and load balancers' },
    ],
    paths,
    components: {
      schemas: componentSchemas,
      securitySchemes: Object.assign({}, ...schemes.map((scheme) => scheme.openApi.securitySchemes)),
      parameters: {
        ...Object.assign({}, ...schemes.map((scheme) => scheme.openApi.parameters)),
        'x-request-id': {
          name: 'x-request-id',
          in: 'header',
          required: false,
          description: 'Becomes `msgid` and `resmsgid` when it is 1–255 visible ASCII characters.',
          schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
          example: 'e413d019f31bcb2d3736b7054f1fd6e2',
        },
        [IDEMPOTENCY_KEY_HEADER]: {
          name: IDEMPOTENCY_KEY_HEADER,
          in: 'header',
          required: false,
          description:
            'Makes a retry safe: the same caller, key and request within 24 h answer the first answer again (same status and body, `Idempotent-Replayed: true`) and nothing happens twice. The key with another request: 422; while the first still runs: 409. 1–255 characters.',
          schema: { type: 'string', minLength: 1, maxLength: 255 },
          example: '7c0f3c1e-52a4-4f4b-9b9e-2d1f0c6a8b31',
        },
        'X-msgId': {
          name: 'X-msgId',
          in: 'header',
          required: false,
          description: 'Used as `msgid` when `x-request-id` is absent or unusable.',
          schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
        },
      },
      // Every header an answer may carry; dialects and error-table entries refer to them by name.
      headers: {
        'x-response-length': { description: 'UTF-8 bytes of the JSON `result` (Sunbird).', schema: { type: 'integer', minimum: 0 }, example: 22 },
        [REQUEST_ID_HEADER]: {
          description:
            'The request’s id, picked as the Sunbird routes pick `msgid`: the caller’s `X-Request-Id`, else its `X-msgId`, each only when 1–255 visible ASCII characters (0x21–0x7E), else a new UUID. ' +
            'On a success, the deletion request this call made: that id, or one of the service’s when the caller’s already names another request or has a batch item’s shape (`batch-` and 32 hex digits). ' +
            'Follow it with `POST /api/user/v1/delete/status`.',
          schema: { type: 'string' },
          example: 'e413d019f31bcb2d3736b7054f1fd6e2',
        },
        'Retry-After': { description: 'Seconds to wait before retrying; nothing was half-written.', schema: { type: 'integer', minimum: 1 }, example: 5 },
        Allow: {
          description:
            'The methods the path serves: `POST, OPTIONS` on the Sunbird routes, `DELETE, OPTIONS` on the REST routes with a preflight (`DELETE` on `/api/v1/users/{id}`), `GET` on the GET-only paths (`/health`, `/ready`, `/metrics`, `/openapi.json`, `/docs`).',
          schema: { type: 'string' },
          example: 'POST, OPTIONS',
        },
        Connection: {
          description: 'The server closes the connection after this answer: the body it refused was not read, and is not read after it. Send the next request on a new connection.',
          schema: { const: 'close' },
        },
        'x-request-allowed': { description: 'Sunbird marks a refused authorization with `no`.', schema: { const: 'no' } },
        'Access-Control-Allow-Origin': {
          description: 'As Sunbird’s gateway sends it, on every answer but the session-cookie route’s (which answers an allowed origin with itself).',
          schema: { const: '*' },
        },
        [CREDENTIALED_ALLOW_ORIGIN]: {
          description:
            'The session-cookie route’s credentialed CORS: the request’s `Origin` when it is one of `SESSION_ALLOWED_ORIGINS`, never `*`; absent for any other origin (the browser then keeps the answer from the script).',
          schema: { type: 'string' },
          example: 'https://portal.example.org',
        },
        'Access-Control-Allow-Credentials': {
          description: 'Only with an allowed origin’s `Access-Control-Allow-Origin` (absent for any other origin, as that is): the browser may send the cookie and show the answer to the script.',
          schema: { const: 'true' },
        },
        Vary: {
          description: 'On every answer of the session-cookie route, whatever the origin: its CORS headers depend on the request’s `Origin`, so a cache keeps one answer per origin.',
          required: true,
          schema: { const: 'Origin' },
        },
        'Access-Control-Expose-Headers': { description: 'The answer headers a browser script may read beyond the CORS-safelisted ones.', schema: { const: REST_EXPOSED.join(', ') } },
        [REPLAYED_HEADER]: { description: 'The stored answer to an earlier request with the same `Idempotency-Key`, replayed.', schema: { const: 'true' } },
        'Cache-Control': { description: 'Personal data: no cache may keep it.', schema: { const: 'no-store' } },
        'WWW-Authenticate': {
          description:
            'Step-up’s 401 (RFC 9470), on every route that has step-up: `Bearer error="insufficient_user_authentication", max_age=…`: log in again, at most `max_age` seconds before the retry. ' +
            'On the REST routes that take `Authorization: Bearer` every other 401 challenges too (RFC 6750): `Bearer` when no token was sent, `Bearer error="invalid_token"` when the one sent was refused; their 400 `UOS_USRDLT0142` (two `Authorization` headers, or more than one token in one) is `Bearer error="invalid_request"`. ' +
            "The other 401s of the Sunbird routes (whose answers are Sunbird's) and of the session-cookie route (no HTTP authentication scheme fits a cookie) carry none.",
          schema: { type: 'string' },
          example: 'Bearer error="insufficient_user_authentication", max_age=300',
        },
        ...Object.assign({}, ...schemes.map((scheme) => scheme.openApi.endSessionHeaders)),
      },
      responses: sharedResponses,
    },
  }
}
