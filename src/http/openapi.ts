import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../config/project-root.js'
import type { JsonSchema } from '../schemas/schema-registry.js'
import { apiIdForPath, errorEnvelope } from './envelope.js'
import { errorCodes, type ErrorCode, type ErrorCodeEntry } from './error-codes.js'
import type { RouteMeta } from './routes/route-meta.js'

export interface OpenApiOptions {
  /** The documented operations (src/http/routes/index.ts). */
  routes: readonly RouteMeta[]
  /** Every schema of schemas/ by $id, as read by readSchemas(). */
  schemas: ReadonlyMap<string, JsonSchema>
  /** The body limit named in the 413 message, as the renderer fills it in. */
  maxBodyBytes: number
}

type JsonObject = Record<string, unknown>

// Fixed values make the document reproducible: `npm run openapi` output only changes with the contract.
const EXAMPLE_TS = '2024-05-20 10:09:45:837+0000'
const EXAMPLE_MSGID = '4abb4c0bdd99feea7a7070eeade15aaa'
const SCHEMA_PREFIX = '#/components/schemas/'

/** Component keys may hold letters, digits, `.`, `-` and `_`; our $ids already do. */
function componentName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_')
}

function walk(value: unknown, visit: (node: JsonObject) => void): void {
  if (Array.isArray(value)) for (const item of value) walk(item, visit)
  else if (typeof value === 'object' && value !== null) {
    visit(value as JsonObject)
    for (const inner of Object.values(value)) walk(inner, visit)
  }
}

/** The schema files the operations name, and every file those refer to, transitively. */
function reachableSchemaIds(routes: readonly RouteMeta[], schemas: OpenApiOptions['schemas']): string[] {
  const pending = ['error.response', ...routes.flatMap((route) => [route.requestSchema, route.responseSchema, ...Object.values(route.errorSchemas ?? {})])]
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
 * the base URI its $refs resolve against), with `$ref: "user-id"` and local `#/...` refs rewritten
 * to point inside the document.
 */
function toComponent(id: string, schema: JsonSchema, schemas: OpenApiOptions['schemas']): JsonObject {
  const copy = structuredClone(schema) as JsonObject
  delete copy.$id
  delete copy.$schema
  walk(copy, (node) => {
    if (typeof node.$ref !== 'string') return
    const [base = '', fragment = ''] = node.$ref.split('#')
    const target = base === '' ? id : base
    if (!schemas.has(target)) throw new Error(`OpenAPI: ${id} refers to ${node.$ref}, which is not in schemas/`)
    node.$ref = `${SCHEMA_PREFIX}${componentName(target)}${fragment}`
  })
  return copy
}

const schemaRef = (id: string) => ({ $ref: `${SCHEMA_PREFIX}${componentName(id)}` })
const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` })

function errmsgOf(entry: ErrorCodeEntry, maxBodyBytes: number): string {
  return entry.errmsg.replace('{limit}', String(maxBodyBytes))
}

function errorExample(apiId: string, entry: ErrorCodeEntry, maxBodyBytes: number): JsonObject {
  // Spread then override keeps the envelope's key order (ts stays third).
  return { ...errorEnvelope(apiId, EXAMPLE_MSGID, entry, errmsgOf(entry, maxBodyBytes)), ts: EXAMPLE_TS }
}

/** The `examples` of a schema file that belong to this operation and answer (by envelope id and err). */
function schemaExamples(schema: JsonSchema | undefined, apiId: string, err: string | null): JsonObject {
  const values = ((schema?.examples as unknown[] | undefined) ?? []).filter((value) => {
    const envelope = value as { id?: string; params?: { err?: string | null } }
    return (envelope.id === undefined || envelope.id === apiId) && (envelope.params === undefined || envelope.params.err === err)
  })
  return Object.fromEntries(values.map((value, index) => [`example-${index + 1}`, { value }]))
}

function operationId(route: RouteMeta, pathIndex: number): string {
  const base = route.apiId
    .replace(/^api\./, '')
    .split(/[._-]/)
    .map((part, index) => (index === 0 ? part : part.charAt(0).toUpperCase() + part.slice(1)))
    .join('')
  return pathIndex === 0 ? base : `${base}Alias${pathIndex}`
}

function errorResponses(route: RouteMeta, options: OpenApiOptions): JsonObject {
  const byStatus = new Map<number, ErrorCode[]>()
  for (const code of route.errors) byStatus.set(errorCodes[code].status, [...(byStatus.get(errorCodes[code].status) ?? []), code])
  const responses: JsonObject = {}
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const description = codes
      .map((code) => `\`${errorCodes[code].err}\` ${errmsgOf(errorCodes[code], options.maxBodyBytes)}: ${errorCodes[code].description}`)
      .join('\n\n')
    const headers: JsonObject = { 'Access-Control-Allow-Origin': headerRef('Access-Control-Allow-Origin') }
    if (status === 503) headers['Retry-After'] = headerRef('Retry-After')
    if (codes.includes('FORBIDDEN')) {
      // Sunbird answers 403 in plain text, not in the envelope.
      const message = errorCodes.FORBIDDEN.errmsg
      headers['x-request-allowed'] = headerRef('x-request-allowed')
      responses[String(status)] = { description, headers, content: { 'text/plain': { schema: { type: 'string', const: message }, example: message } } }
      continue
    }
    const schemaIds = [...new Set(codes.map((code) => route.errorSchemas?.[code] ?? 'error.response'))]
    const examples: JsonObject = {}
    for (const code of codes) {
      const entry = errorCodes[code]
      const own = route.errorSchemas?.[code]
      // Keyed by code name, not err: two codes may share an err (UOS_USRDLT0013 for a user and for a request).
      if (own) Object.assign(examples, Object.fromEntries(Object.values(schemaExamples(options.schemas.get(own), route.apiId, entry.err)).map((example, i) => [`${code}-${i + 1}`, example])))
      else examples[code] = { summary: errmsgOf(entry, options.maxBodyBytes), description: entry.description, value: errorExample(route.apiId, entry, options.maxBodyBytes) }
    }
    const schema = schemaIds.length === 1 ? schemaRef(schemaIds[0] as string) : { oneOf: schemaIds.map(schemaRef) }
    responses[String(status)] = { description, headers, content: { 'application/json': { schema, examples } } }
  }
  return responses
}

function operation(route: RouteMeta, pathIndex: number, options: OpenApiOptions): JsonObject {
  const aliasOf = pathIndex > 0 ? `Alias of \`${route.method} ${route.paths[0]}\` (the service path behind Sunbird's gateway).` : undefined
  const op: JsonObject = {
    operationId: operationId(route, pathIndex),
    summary: route.summary,
    ...((route.description ?? aliasOf) && { description: [aliasOf, route.description].filter(Boolean).join('\n\n') }),
    tags: [route.authenticated ? 'users' : 'operations'],
    'x-sunbird-api-id': route.apiId,
    security: route.authenticated ? [{ apiBearer: [], userToken: [] }] : [],
    parameters: [
      ...(route.authenticated ? [{ $ref: '#/components/parameters/X-Authenticated-For' }] : []),
      { $ref: '#/components/parameters/x-request-id' },
      { $ref: '#/components/parameters/X-msgId' },
    ],
  }
  if (route.requestSchema) {
    op.requestBody = {
      required: true,
      content: { 'application/json': { schema: schemaRef(route.requestSchema), examples: schemaExamples(options.schemas.get(route.requestSchema), route.apiId, null) } },
    }
  }
  op.responses = {
    200: {
      description: 'Done: the success envelope.',
      headers: { 'x-response-length': headerRef('x-response-length'), 'Access-Control-Allow-Origin': headerRef('Access-Control-Allow-Origin') },
      content: { 'application/json': { schema: schemaRef(route.responseSchema), examples: schemaExamples(options.schemas.get(route.responseSchema), route.apiId, null) } },
    },
    ...errorResponses(route, options),
  }
  return op
}

function errorTable(maxBodyBytes: number): string {
  const rows = (Object.values(errorCodes) as ErrorCodeEntry[]).map((entry) =>
    // The 403 is Sunbird's plain-text body: no envelope, so no responseCode or err either.
    entry === errorCodes.FORBIDDEN
      ? `| ${entry.status} | — | — (plain text body) | ${entry.errmsg} |`
      : `| ${entry.status} | ${entry.responseCode} | \`${entry.err}\` | ${errmsgOf(entry, maxBodyBytes)} |`,
  )
  return ['| HTTP | responseCode | err | errmsg |', '|---|---|---|---|', ...rows].join('\n')
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version
}

/**
 * The OpenAPI 3.1 document of the service, built from what the service itself runs on: the JSON
 * Schemas of schemas/ (as components, unchanged but for their $refs), the route metadata, and the
 * error table of error-codes.ts. Nothing here is written by hand twice.
 */
export function buildOpenApiDocument(options: OpenApiOptions): JsonObject {
  const { routes, schemas, maxBodyBytes } = options
  const paths: JsonObject = {}
  for (const route of routes) {
    route.paths.forEach((path, index) => {
      const item = (paths[path] ??= {}) as JsonObject
      item[route.method.toLowerCase()] = operation(route, index, options)
    })
  }
  const componentSchemas = Object.fromEntries(reachableSchemaIds(routes, schemas).map((id) => [componentName(id), toComponent(id, schemas.get(id) as JsonSchema, schemas)]))
  const unknownPath = '/api/user/v2/delete'
  return {
    // No jsonSchemaDialect: the default (OpenAPI 3.1's base dialect, Draft 2020-12 plus OpenAPI's
    // own keywords) covers schemas/, and Swagger UI shows any other value as a warning to readers.
    openapi: '3.1.0',
    info: {
      title: 'sunbird-user-delete',
      version: packageVersion(),
      summary: "Sunbird-compatible user deletion: Sunbird's request, envelope, error codes and messages.",
      description: [
        'Every JSON answer is Sunbird\'s envelope `id, ver, ts, params{resmsgid,msgid,err,status,errmsg}, responseCode, result`, with `Access-Control-Allow-Origin: *`. ' +
          '`msgid` = `resmsgid` = the `x-request-id` header, else `X-msgId`, else a new UUID v4; the service log carries it on every line of the request.',
        'Checks run in this order and the first failing one answers: size, JSON, API bearer, user token, body schema, authorization, role restriction, existence, already deleted.',
        'A method a path does not serve answers 405 with `Allow` (see `MethodNotAllowed`); an unknown path answers 404 `UOS_APINOTFOUND` (see `ApiNotFound`). ' +
          '`OPTIONS` on the delete paths answers the CORS preflight (204).',
        `Every error code:\n\n${errorTable(maxBodyBytes)}`,
      ].join('\n\n'),
    },
    tags: [
      { name: 'users', description: 'Account deletion, Sunbird-compatible' },
      { name: 'operations', description: 'Probes for orchestrators and load balancers' },
    ],
    paths,
    components: {
      schemas: componentSchemas,
      securitySchemes: {
        apiBearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: "The gateway consumer JWT (`Authorization: Bearer …`), verified as Kong's jwt plugin does: `iss` names the consumer, `exp` required, the consumer's algorithm (HS256 or RS256).",
        },
        userToken: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Authenticated-User-token',
          description: "The end user's Keycloak access token (RS256, `typ: Bearer`, issuer = the realm). The user id is the part of `sub` after its last `:`.",
        },
      },
      parameters: {
        'X-Authenticated-For': {
          name: 'X-Authenticated-For',
          in: 'header',
          required: false,
          description: "A managed child's Keycloak token, sent by its managing parent to delete the child: its `parentId` must be the requester and its subject the target.",
          schema: { type: 'string' },
        },
        'x-request-id': {
          name: 'x-request-id',
          in: 'header',
          required: false,
          description: 'Becomes `msgid` and `resmsgid` when it is 1–255 visible ASCII characters.',
          schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
          example: 'e413d019f31bcb2d3736b7054f1fd6e2',
        },
        'X-msgId': {
          name: 'X-msgId',
          in: 'header',
          required: false,
          description: 'Used as `msgid` when `x-request-id` is absent or unusable.',
          schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
        },
      },
      headers: {
        'x-response-length': { description: 'UTF-8 bytes of the JSON `result` (Sunbird).', schema: { type: 'integer', minimum: 0 }, example: 22 },
        'Retry-After': { description: 'Seconds to wait before retrying; nothing was half-written.', schema: { type: 'integer', minimum: 1 }, example: 5 },
        Allow: { description: 'The methods the path serves.', schema: { type: 'string' }, example: 'POST, OPTIONS' },
        'x-request-allowed': { description: 'Sunbird marks a refused authorization with `no`.', schema: { const: 'no' } },
        'Access-Control-Allow-Origin': { description: 'Sent on every answer.', schema: { const: '*' } },
      },
      responses: {
        MethodNotAllowed: {
          description: `\`${errorCodes.METHOD_NOT_ALLOWED.err}\` ${errorCodes.METHOD_NOT_ALLOWED.errmsg}: ${errorCodes.METHOD_NOT_ALLOWED.description}`,
          headers: { Allow: headerRef('Allow'), 'Access-Control-Allow-Origin': headerRef('Access-Control-Allow-Origin') },
          content: { 'application/json': { schema: schemaRef('error.response'), example: errorExample('api.user.delete', errorCodes.METHOD_NOT_ALLOWED, maxBodyBytes) } },
        },
        ApiNotFound: {
          description: `\`${errorCodes.API_NOT_FOUND.err}\` ${errorCodes.API_NOT_FOUND.errmsg}: ${errorCodes.API_NOT_FOUND.description}`,
          headers: { 'Access-Control-Allow-Origin': headerRef('Access-Control-Allow-Origin') },
          content: { 'application/json': { schema: schemaRef('error.response'), example: errorExample(apiIdForPath(unknownPath), errorCodes.API_NOT_FOUND, maxBodyBytes) } },
        },
      },
    },
  }
}
