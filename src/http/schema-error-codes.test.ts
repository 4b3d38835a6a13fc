import { describe, expect, it } from 'vitest'
import { readSchemas } from '../schemas/schema-registry.js'
import { errorCodes } from './error-codes.js'
import { operations } from './operations/index.js'

interface Annotation {
  where: string
  keyword: string
  entry: unknown
  /** Whether the schema object that carries the annotation uses that keyword itself. */
  keywordPresent: boolean
}

/** Every `x-error-codes` annotation of every schema file, with where it sits. */
function annotations(): Annotation[] {
  const found: Annotation[] = []
  const visit = (node: unknown, where: string) => {
    if (Array.isArray(node)) {
      for (const [index, item] of node.entries()) visit(item, `${where}/${index}`)
      return
    }
    if (typeof node !== 'object' || node === null) return
    const object = node as Record<string, unknown>
    const codes = object['x-error-codes']
    if (typeof codes === 'object' && codes !== null) {
      for (const [keyword, entry] of Object.entries(codes)) found.push({ where, keyword, entry, keywordPresent: keyword in object })
    }
    for (const [key, inner] of Object.entries(object)) if (key !== 'x-error-codes') visit(inner, `${where}/${key}`)
  }
  for (const [id, schema] of readSchemas()) visit(schema, id)
  return found
}

/** Every code the `x-error-codes` annotations of a schema, and of the schemas it refers to, can answer with. */
function codesReachableFrom(id: string, schemas = readSchemas(), seen = new Set<string>()): Set<string> {
  const codes = new Set<string>()
  if (seen.has(id)) return codes
  seen.add(id)
  const visit = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(visit)
    if (typeof node !== 'object' || node === null) return
    const object = node as Record<string, unknown>
    const annotated = object['x-error-codes']
    if (typeof annotated === 'object' && annotated !== null) for (const code of Object.values(annotated)) codes.add(String(code))
    if (typeof object.$ref === 'string') for (const code of codesReachableFrom(object.$ref, schemas, seen)) codes.add(code)
    for (const [key, inner] of Object.entries(object)) if (key !== 'x-error-codes') visit(inner)
  }
  visit(schemas.get(id))
  return codes
}

describe('x-error-codes in schemas/', () => {
  const all = annotations()

  it('when the schemas are read, then they carry annotations (guard against an empty walk)', () => {
    expect(all.length).toBeGreaterThanOrEqual(10)
  })

  it('when every annotation is resolved, then each names an entry of the error table (a typo would silently become INVALID_REQUEST_DATA)', () => {
    const unknown = all.filter((annotation) => typeof annotation.entry !== 'string' || !Object.hasOwn(errorCodes, annotation.entry))

    expect(unknown).toEqual([])
  })

  it('when an annotation names a keyword, then that keyword is used by the schema object carrying it', () => {
    const dangling = all.filter((annotation) => !annotation.keywordPresent)

    expect(dangling).toEqual([])
  })

  it("when an operation validates its request, then each code its schemas can answer with is in the operation's errors (the OpenAPI documents only those)", () => {
    const undeclared = operations.flatMap((operation) =>
      Object.values(operation.request)
        .flatMap((schemaId) => [...codesReachableFrom(schemaId)])
        .filter((code) => !operation.errors.includes(code as (typeof operation.errors)[number]))
        .map((code) => `${operation.id}: ${code}`),
    )

    expect(undeclared).toEqual([])
  })
})
