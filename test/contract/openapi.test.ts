import { readFileSync } from 'node:fs'
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openApiFile } from '../../scripts/lib/openapi-file.js'
import { type ContractServer, startContractServer } from '../support/contract-server.js'

type Node = Record<string, unknown>

// Any absolute URI works as the document's base; Ajv resolves "#/components/..." refs against it.
const BASE = 'https://sunbird-user-delete.invalid/openapi.json'

const pointerSegment = (key: string) => encodeURIComponent(key.replace(/~/g, '~0').replace(/\//g, '~1'))

interface ExampleCase {
  where: string
  schemaPointer: string
  value: unknown
}

/**
 * Every example the document shows a reader, with the schema it claims to satisfy: `examples`
 * arrays of schema objects, and `example` / `examples` of media types, parameters and headers.
 */
function examplesOf(document: Node): ExampleCase[] {
  const cases: ExampleCase[] = []
  const visit = (node: unknown, pointer: string) => {
    if (typeof node !== 'object' || node === null) return
    if (Array.isArray(node)) {
      for (const [index, item] of node.entries()) visit(item, `${pointer}/${index}`)
      return
    }
    const object = node as Node
    if (Array.isArray(object.examples)) {
      for (const value of object.examples) cases.push({ where: pointer, schemaPointer: pointer, value })
    } else if ('schema' in object) {
      if ('example' in object) cases.push({ where: `${pointer}/example`, schemaPointer: `${pointer}/schema`, value: object.example })
      for (const [name, example] of Object.entries((object.examples ?? {}) as Record<string, Node>)) {
        const resolved = typeof example.$ref === 'string' ? (resolveRef(document, example.$ref) as Node) : example
        cases.push({ where: `${pointer}/examples/${name}`, schemaPointer: `${pointer}/schema`, value: resolved.value })
      }
    }
    for (const [key, inner] of Object.entries(object)) visit(inner, `${pointer}/${pointerSegment(key)}`)
  }
  visit(document, '#')
  return cases
}

function resolveRef(document: Node, ref: string): unknown {
  return ref
    .slice(2)
    .split('/')
    .map((segment) => decodeURIComponent(segment).replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, segment) => (node as Node)[segment], document)
}

describe('the served OpenAPI document', () => {
  let server: ContractServer
  let document: Node

  beforeAll(async () => {
    server = await startContractServer()
    const response = await fetch(`${server.url}/openapi.json`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    document = (await response.json()) as Node
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('when fetched from the built server, then it is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator()

    const result = await validator.validate(structuredClone(document))

    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).toEqual([])
    expect(result.valid).toBe(true)
    expect(validator.version).toBe('3.1')
  })

  it('when fetched from the built server, then it is the committed openapi.json (default body limit)', () => {
    expect(document).toEqual(JSON.parse(readFileSync(openApiFile, 'utf8')))
  })

  it('when its examples are checked against the schemas they illustrate, then every one is valid', () => {
    // Arrange: one strict Draft 2020-12 validator over the document itself, so the refs the
    // document rewrote ("#/components/schemas/...") are what resolves, not the files in schemas/.
    const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true })
    addFormatsModule.default(ajv)
    ajv.addKeyword({ keyword: 'x-error-codes', schemaType: 'object' })
    ajv.addVocabulary(Object.keys(document))
    ajv.addSchema(structuredClone(document), BASE)

    // Act
    const cases = examplesOf(document)

    // Assert
    expect(cases.length).toBeGreaterThan(20)
    for (const example of cases) {
      const validate = ajv.compile({ $ref: `${BASE}${example.schemaPointer}` })
      expect(validate(example.value), `${example.where}: ${JSON.stringify(validate.errors)}`).toBe(true)
    }
  })

  it('when an error example is compared with the one renderer, then a forged one would be caught (the check is not vacuous)', () => {
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true })
    addFormatsModule.default(ajv)
    ajv.addKeyword({ keyword: 'x-error-codes', schemaType: 'object' })
    ajv.addVocabulary(Object.keys(document))
    ajv.addSchema(structuredClone(document), BASE)
    const successSchema = ajv.compile({ $ref: `${BASE}#/components/schemas/user-delete.response` })
    const errorExample = resolveRef(document, '#/paths/~1api~1user~1v1~1delete/post/responses/400/content/application~1json/examples/ALREADY_DELETED') as Node

    expect(successSchema(errorExample.value)).toBe(false)
  })

  it('when /docs is opened, then it answers an HTML page that loads this document and Swagger UI from the service itself', async () => {
    const response = await fetch(`${server.url}/docs`)
    const html = await response.text()
    const bundle = /src="([^"]*swagger-ui-bundle\.js)"/.exec(html)?.[1] ?? ''
    const bundleResponse = await fetch(new URL(bundle, `${server.url}/docs`))

    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/html/)
    expect(html).toContain('openapi.json')
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//)
    expect(bundleResponse.status).toBe(200)
    expect(bundleResponse.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(await bundleResponse.text()).toContain('SwaggerUIBundle')
  })
})
