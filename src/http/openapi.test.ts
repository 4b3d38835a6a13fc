import { describe, expect, it } from 'vitest'
import { readSchemas, type JsonSchema } from '../schemas/schema-registry.js'
import { type ErrorCode, errorCodes, errorEntry } from './error-codes.js'
import { buildOpenApiDocument } from './openapi.js'
import { sunbirdEnvelope } from './dialects/sunbird-envelope.js'
import type { OperationMeta } from './operation.js'
import { operations } from './operations/index.js'
import { sessionUserDelete } from './operations/session-user-delete.js'
import { userDelete } from './operations/user-delete.js'

// biome-ignore lint/suspicious/noExplicitAny: a JSON document walked by path; each assertion checks the shape it reads
type Node = Record<string, any>

const schemas = readSchemas()
const build = (overrides: { operations?: readonly OperationMeta[]; schemas?: ReadonlyMap<string, JsonSchema>; maxBodyBytes?: number } = {}) =>
  buildOpenApiDocument({ operations, schemas, maxBodyBytes: 65536, retryAfterSeconds: 5, defaultDialect: sunbirdEnvelope, ...overrides }) as Node

function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refsIn(item, found)
  else if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') found.push(inner)
      else refsIn(inner, found)
    }
  }
  return found
}

function resolvePointer(document: Node, ref: string): unknown {
  return ref
    .slice(2)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, segment) => (node as Node | undefined)?.[segment], document)
}

describe('buildOpenApiDocument', () => {
  it('when built, then every $ref points inside the document and resolves', () => {
    const document = build()

    const refs = refsIn(document)

    expect(refs.length).toBeGreaterThan(10)
    for (const ref of refs) {
      expect(ref, ref).toMatch(/^#\//)
      expect(resolvePointer(document, ref), ref).toBeDefined()
    }
  })

  it('when built, then each component schema is its schemas/ file, keyed by $id, with only $id, $schema, the top-level tsType and $ref changed', () => {
    const document = build()

    const components = document.components.schemas as Record<string, Node>

    expect(Object.keys(components)).toEqual(expect.arrayContaining(['envelope', 'error.response', 'health.response', 'user-delete.request', 'user-delete.response', 'user-id']))
    // Only what the operations use: the service's own configuration is no part of the HTTP contract.
    expect(Object.keys(components)).not.toContain('config')
    for (const [name, component] of Object.entries(components)) {
      const { $id: _id, $schema: _schema, tsType: _tsType, ...original } = schemas.get(name) as JsonSchema
      // Undo the rewrite: "#/components/schemas/user-id" back to "user-id".
      const restored = JSON.parse(JSON.stringify(component).replace(/"#\/components\/schemas\/([^"#/]+)"/g, '"$1"'))
      expect(restored, name).toEqual(original)
    }
  })

  it('when an operation lists errors, then each is documented under its HTTP status with its err code and message', () => {
    const document = build({ maxBodyBytes: 1234 })

    const operation = document.paths['/api/user/v1/delete'].post

    for (const code of userDelete.errors) {
      const entry = errorEntry(code)
      const response = operation.responses[String(entry.status)]
      expect(response, code).toBeDefined()
      if (entry.body === 'plain-text') {
        expect(response.content['text/plain'].example).toBe(entry.errmsg)
        continue
      }
      const example = response.content['application/json'].examples[code]
      expect(example.value.params).toMatchObject({ err: entry.err, errmsg: entry.errmsg.replace('{limit}', '1234'), status: 'FAILED' })
      expect(example.value.responseCode).toBe(entry.responseCode)
    }
  })

  it('when the error table has an entry, then some operation lists it in its errors, so the document shows it (but the unknown path’s 404, which the default dialect documents)', () => {
    const listed = new Set(operations.flatMap((operation) => operation.errors))

    const unlisted = (Object.keys(errorCodes) as ErrorCode[]).filter((code) => !listed.has(code))

    expect(unlisted).toEqual(['API_NOT_FOUND'])
  })

  it('when a route deletes only the caller’s own account (the session route), then it documents no 429, which the guard never answers to self-deletion; a route that may delete others does', () => {
    const document = build()

    const session = document.paths['/api/users/{user_id}'].delete.responses
    const bearer = document.paths['/api/users/{user_id}/'].delete.responses

    expect(session['200']).toBeDefined()
    expect(Object.keys(session)).not.toContain('429')
    expect(sessionUserDelete.errors).not.toContain('DELETION_LIMIT_REACHED')
    expect(bearer['429'].headers['Retry-After']).toBeDefined()
  })

  it('when a REST route answers, then every answer documents the CORS headers it carries: `*` and the exposed headers on the bearer routes, the allowed origin, Allow-Credentials and Vary on the session-cookie route', () => {
    const document = build()
    const headersOf = (path: string) => Object.values(document.paths[path].delete.responses as Record<string, Node>).map((response) => response.headers as Node)

    for (const headers of [...headersOf('/api/v2/user/{id}/'), ...headersOf('/api/users/{user_id}/')]) {
      expect(headers['Access-Control-Allow-Origin']).toEqual({ $ref: '#/components/headers/Access-Control-Allow-Origin' })
      expect(headers['Access-Control-Expose-Headers']).toEqual({ $ref: '#/components/headers/Access-Control-Expose-Headers' })
    }
    for (const headers of headersOf('/api/users/{user_id}')) {
      expect(headers['Access-Control-Allow-Origin']).toEqual({ $ref: '#/components/headers/Access-Control-Allow-Origin.credentialed' })
      expect(Object.keys(headers)).toEqual(expect.arrayContaining(['Access-Control-Allow-Credentials', 'Vary', 'Access-Control-Expose-Headers']))
    }
    expect(document.components.headers['Access-Control-Expose-Headers'].schema.const).toBe('X-Request-Id, Retry-After, WWW-Authenticate, Idempotent-Replayed')
  })

  it('when an operation answers success with its own status (202 for a batch job), then the document gives that status and not 200', () => {
    const document = build()

    const sunbirdOperations = operations.filter((operation) => operation.dialect === sunbirdEnvelope)

    expect(sunbirdOperations.some((operation) => operation.successStatus === 202)).toBe(true)
    for (const operation of sunbirdOperations) {
      const status = String(operation.successStatus ?? 200)
      for (const path of operation.paths) {
        const responses = document.paths[path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')][operation.method.toLowerCase()].responses
        expect(
          Object.keys(responses).filter((key) => key.startsWith('2')),
          `${operation.method} ${path}`,
        ).toEqual([status])
      }
    }
  })

  it('when built, then the headers callers act on are documented: x-response-length on 200, Retry-After on 503, Allow on 405', () => {
    const document = build()

    const responses = document.paths['/api/user/v1/delete'].post.responses

    expect(responses['200'].headers['x-response-length']).toEqual({ $ref: '#/components/headers/x-response-length' })
    expect(responses['503'].headers['Retry-After']).toEqual({ $ref: '#/components/headers/Retry-After' })
    expect(responses['403'].headers['x-request-allowed']).toBeDefined()
    expect(document.components.responses.MethodNotAllowed.headers.Allow).toEqual({ $ref: '#/components/headers/Allow' })
    expect(document.paths['/ready'].get.responses['503'].headers['Retry-After']).toBeDefined()
  })

  it('when built, then every 405 an operation lists names Allow, as the one 405 the service sends carries it', () => {
    const document = build()

    const listed = Object.values(document.paths as Record<string, Node>).flatMap((item) =>
      Object.values(item)
        .map((operation: Node) => operation.responses['405'])
        .filter(Boolean),
    )

    expect(listed.length).toBeGreaterThan(0)
    for (const response of listed) expect(response.headers.Allow).toEqual({ $ref: '#/components/headers/Allow' })
  })

  it('when an operation serves GET only (the probes), then the document lists its own 405, with Allow and an envelope of its own id, not only the shared one whose example names a POST route', () => {
    const document = build()

    const getOnly = operations.filter((operation) => operation.method === 'GET')

    expect(getOnly.map((operation) => operation.paths[0])).toEqual(['/health', '/ready'])
    for (const operation of getOnly) {
      const response = document.paths[operation.paths[0] as string].get.responses['405']
      expect(response?.headers.Allow, operation.id).toEqual({ $ref: '#/components/headers/Allow' })
      expect(response.content['application/json'].examples.METHOD_NOT_ALLOWED.value).toMatchObject({ id: operation.id, params: { err: errorEntry('METHOD_NOT_ALLOWED').err } })
    }
  })

  it('when an operation needs both credentials, then it requires the bearer and the user-token schemes together', () => {
    const document = build()

    expect(document.paths['/api/user/v1/delete'].post.security).toEqual([{ apiBearer: [], userToken: [] }])
    expect(document.paths['/v1/user/delete'].post.security).toEqual([{ apiBearer: [], userToken: [] }])
    expect(document.paths['/health'].get.security).toEqual([])
    expect(document.components.securitySchemes.apiBearer).toMatchObject({ type: 'http', scheme: 'bearer' })
    expect(document.components.securitySchemes.userToken).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-Authenticated-User-token' })
  })

  it('when a route has an alias path, then both paths are documented with distinct operation ids', () => {
    const document = build()

    const ids = userDelete.paths.map((path) => document.paths[path].post.operationId)

    expect(new Set(ids).size).toBe(userDelete.paths.length)
  })

  it('when a schema refers to a file that is not in schemas/, then building fails instead of emitting a dangling $ref', () => {
    const broken = new Map(schemas)
    broken.set('user-id', { ...(schemas.get('user-id') as JsonSchema), allOf: [{ $ref: 'no-such-schema' }] })

    expect(() => build({ schemas: broken })).toThrow(/no-such-schema/)
  })
})
