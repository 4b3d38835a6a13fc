import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedUser } from '../../scripts/lib/seed-users.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { type ContractServer, startContractServer } from '../support/contract-server.js'
import { testConfig } from '../support/harness.js'
import { TEST_KEYSPACE } from '../support/test-env.js'

// biome-ignore lint/suspicious/noExplicitAny: a JSON document walked by path; each assertion checks the shape it reads
type Node = Record<string, any>

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']
/** A method no path of the API serves. */
const UNSERVED_METHOD = 'PATCH'
const SAMPLE_ID = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const ORG = '0137000000000000000013'
/** An origin of SESSION_ALLOWED_ORIGINS: the session-cookie route's answers to it carry every CORS header it may send. */
const APP_ORIGIN = 'https://app.example'
/** HTTP's own framing headers, which the document does not list. */
const FRAMING_HEADERS = ['content-type', 'content-length', 'date', 'connection', 'keep-alive', 'transfer-encoding']

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
  const db = createCassandraClient(testConfig().cassandra)
  let server: ContractServer
  let document: Node

  beforeAll(async () => {
    // Secure on: every attribute the cookie can carry is sent.
    server = await startContractServer({ env: { SESSION_COOKIE_SECURE: 'true', SESSION_ALLOWED_ORIGINS: APP_ORIGIN } })
    document = (await (await fetch(`${server.url}/openapi.json`)).json()) as Node
  })
  afterAll(async () => {
    await server?.stop()
    await db.shutdown()
  })

  it('when a documented path is asked with a method it does not serve, then the 405 carries exactly the headers the document lists for it (besides HTTP framing), Allow among them, naming the documented methods', async () => {
    const paths = Object.entries(document.paths as Record<string, Node>)
    expect(paths.length).toBeGreaterThan(10)

    for (const [path, item] of paths) {
      // Arrange: the path's own 405 where its operations list one, else the shared answer of the default dialect.
      const methods = Object.keys(item).filter((key) => HTTP_METHODS.includes(key))
      const own = methods.map((method) => item[method].responses['405']).filter(Boolean) as Node[]
      const documented = own.length > 0 ? own.map((response) => resolve(document, response)) : [document.components.responses.MethodNotAllowed as Node]
      const listed = new Map(documented.flatMap((response) => Object.entries((response.headers ?? {}) as Record<string, Node>)))

      // Act
      const response = await fetch(`${server.url}${path.replace(/\{[^}]+\}/g, SAMPLE_ID)}`, { method: UNSERVED_METHOD, headers: { Origin: APP_ORIGIN } })

      // Assert
      expect(response.status, path).toBe(405)
      expect([...listed.keys()], path).toContain('Allow')
      for (const [name, header] of listed) {
        const value = response.headers.get(name)
        expect(value, `${path}: ${name}`).not.toBeNull()
        const fixed = resolve(document, header).schema?.const
        if (fixed !== undefined) expect(value, `${path}: ${name}`).toBe(fixed)
      }
      const documentedNames = [...listed.keys()].map((name) => name.toLowerCase())
      const sent = [...response.headers.keys()].filter((name) => !FRAMING_HEADERS.includes(name))
      expect(
        sent.filter((name) => !documentedNames.includes(name)),
        `${path}: sent but not documented`,
      ).toEqual([])
      expect(response.headers.get('allow')?.split(', '), path).toEqual(expect.arrayContaining(methods.map((method) => method.toUpperCase())))
    }
  })

  it('when the session route deletes the session’s own account, then the Set-Cookie it answers 200 with is documented on that answer, its value spelled out (name, Max-Age, Path, HttpOnly, Secure, SameSite)', async () => {
    const id = randomUUID()
    await seedUser(db, TEST_KEYSPACE, { id, rootOrgId: ORG })

    const response = await fetch(`${server.url}/api/users/${id}`, { method: 'DELETE', headers: { Cookie: `neptun-session=${server.userToken({ sub: id })}` } })

    expect(response.status).toBe(200)
    const sent = response.headers.get('set-cookie')
    expect(sent?.split('; ')).toEqual(expect.arrayContaining(['neptun-session=', 'Max-Age=0', 'Path=/', 'HttpOnly', 'Secure', 'SameSite=Lax']))
    const documented = document.paths['/api/users/{user_id}'].delete.responses['200'].headers as Node
    expect(Object.keys(documented)).toContain('Set-Cookie')
    expect(resolve(document, documented['Set-Cookie'] as Node).description).toContain(`\`${sent}\``)
  })
})
