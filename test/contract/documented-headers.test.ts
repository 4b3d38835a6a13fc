import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ContractServer, startContractServer } from '../support/contract-server.js'

// biome-ignore lint/suspicious/noExplicitAny: a JSON document walked by path; each assertion checks the shape it reads
type Node = Record<string, any>

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']
/** A method no path of the API serves. */
const UNSERVED_METHOD = 'PATCH'
const SAMPLE_ID = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'

function resolve(document: Node, node: Node): Node {
  if (typeof node.$ref !== 'string') return node
  return (node.$ref as string)
    .slice(2)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<Node>((inner, segment) => inner[segment], document)
}

/**
 * Black-box: the headers the served OpenAPI document lists on an answer are the headers the built
 * server sends with it, so a client generated from the document reads what is there.
 */
describe('the headers the OpenAPI document lists, against the built server', () => {
  let server: ContractServer
  let document: Node

  beforeAll(async () => {
    server = await startContractServer()
    document = (await (await fetch(`${server.url}/openapi.json`)).json()) as Node
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('when a documented path is asked with a method it does not serve, then the 405 carries every header the document lists for it, Allow among them, naming the documented methods', async () => {
    const paths = Object.entries(document.paths as Record<string, Node>)
    expect(paths.length).toBeGreaterThan(10)

    for (const [path, item] of paths) {
      // Arrange: the path's own 405 where its operations list one, else the shared answer of the default dialect.
      const methods = Object.keys(item).filter((key) => HTTP_METHODS.includes(key))
      const own = methods.map((method) => item[method].responses['405']).filter(Boolean) as Node[]
      const documented = own.length > 0 ? own.map((response) => resolve(document, response)) : [document.components.responses.MethodNotAllowed as Node]
      const listed = [...new Set(documented.flatMap((response) => Object.keys(response.headers ?? {})))]

      // Act
      const response = await fetch(`${server.url}${path.replace(/\{[^}]+\}/g, SAMPLE_ID)}`, { method: UNSERVED_METHOD })

      // Assert
      expect(response.status, path).toBe(405)
      expect(listed, path).toContain('Allow')
      for (const name of listed) {
        const value = response.headers.get(name)
        expect(value, `${path}: ${name}`).not.toBeNull()
        const fixed = resolve(document, document.components.headers[name] as Node).schema?.const
        if (fixed !== undefined) expect(value, `${path}: ${name}`).toBe(fixed)
      }
      expect(response.headers.get('allow')?.split(', '), path).toEqual(expect.arrayContaining(methods.map((method) => method.toUpperCase())))
    }
  })
})
