import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { createSchemaRegistry } from '../../schemas/schema-registry.js'
import type { AppEnv } from '../app-env.js'
import { apiDocsPaths, registerApiDocs } from './api-docs.js'
import { acceptsGzip } from './static-asset.js'

const swaggerUiDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
const installedVersion = (JSON.parse(readFileSync(join(swaggerUiDir, 'package.json'), 'utf8')) as { version: string }).version

const app = new Hono<AppEnv>()
registerApiDocs(app, { schemas: createSchemaRegistry(), maxBodyBytes: 65536, retryAfterSeconds: 5 })
const ORIGIN = 'http://docs.test'
const get = (path: string, headers: Record<string, string> = {}) => app.request(`${ORIGIN}${path}`, { headers })

/** Every URL the page loads (src and href), as the browser resolves it against /docs. */
function linksOf(html: string): URL[] {
  return [...html.matchAll(/\b(?:src|href|data-openapi-url)="([^"]+)"/g)].map((match) => new URL(match[1] as string, `${ORIGIN}${apiDocsPaths.reference}`))
}

describe('/docs, Swagger UI served by the service itself', () => {
  it('when /docs is opened, then it is an HTML page revalidated by ETag, under a policy that allows no other origin', async () => {
    const response = await get('/docs')

    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('no-cache')
    expect(response.headers.get('etag')).toMatch(/^W\/".+"$/)
    const policy = response.headers.get('content-security-policy') ?? ''
    expect(policy).toContain("default-src 'none'")
    expect(policy).toContain("script-src 'self'")
    expect(policy).toContain("connect-src 'self'")
  })

  it('when the page names its files, then every one is on the same origin and answers with its own content type', async () => {
    // Arrange
    const html = await (await get('/docs')).text()
    const expectedType: Record<string, RegExp> = { '.js': /^text\/javascript; charset=utf-8$/, '.css': /^text\/css; charset=utf-8$/, '.png': /^image\/png$/, '.json': /^application\/json/ }

    // Act
    const links = linksOf(html)

    // Assert: the stylesheet, the bundle, the initializer, two icons and the document.
    expect(links.map((url) => url.pathname).sort()).toEqual(
      [
        '/openapi.json',
        `/docs/swagger-initializer.js`,
        `/docs/swagger-ui/${installedVersion}/favicon-16x16.png`,
        `/docs/swagger-ui/${installedVersion}/favicon-32x32.png`,
        `/docs/swagger-ui/${installedVersion}/swagger-ui-bundle.js`,
        `/docs/swagger-ui/${installedVersion}/swagger-ui.css`,
      ].sort(),
    )
    for (const url of links) {
      expect(url.origin, `${url} leaves the service`).toBe(ORIGIN)
      const response = await get(url.pathname)
      expect(response.status, url.pathname).toBe(200)
      const extension = url.pathname.slice(url.pathname.lastIndexOf('.'))
      expect(response.headers.get('content-type'), url.pathname).toMatch(expectedType[extension] as RegExp)
    }
  })

  it('when the links are relative, then a gateway prefix in front of the service keeps them working', async () => {
    const html = await (await get('/docs')).text()

    const absolute = [...html.matchAll(/\b(?:src|href|data-openapi-url)="([^"]+)"/g)].map((match) => match[1] as string).filter((link) => /^(\/|[a-z]+:)/i.test(link))

    expect(absolute).toEqual([])
  })

  it("when Swagger UI's bundle is fetched, then it is the installed package's file, cached for a year under its versioned path", async () => {
    const response = await get(`${apiDocsPaths.assets}/swagger-ui-bundle.js`)

    expect(apiDocsPaths.assets).toBe(`/docs/swagger-ui/${installedVersion}`)
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(Buffer.from(await response.arrayBuffer()).equals(readFileSync(join(swaggerUiDir, 'swagger-ui-bundle.js')))).toBe(true)
  })

  it('when the caller accepts gzip, then text comes compressed, and unpacks to the same bytes', async () => {
    const response = await get(`${apiDocsPaths.assets}/swagger-ui.css`, { 'accept-encoding': 'br, gzip;q=0.8' })
    const body = Buffer.from(await response.arrayBuffer())

    expect(response.headers.get('content-encoding')).toBe('gzip')
    expect(response.headers.get('vary')).toBe('Accept-Encoding')
    expect(body.length).toBeLessThan(readFileSync(join(swaggerUiDir, 'swagger-ui.css')).length / 3)
    expect(gunzipSync(body).equals(readFileSync(join(swaggerUiDir, 'swagger-ui.css')))).toBe(true)
  })

  it('when an image is fetched with gzip accepted, then it comes as it is (PNG does not compress)', async () => {
    const response = await get(`${apiDocsPaths.assets}/favicon-32x32.png`, { 'accept-encoding': 'gzip' })

    expect(response.headers.get('content-encoding')).toBeNull()
    expect(Buffer.from(await response.arrayBuffer()).equals(readFileSync(join(swaggerUiDir, 'favicon-32x32.png')))).toBe(true)
  })

  it("when the browser's copy is current (If-None-Match), then the answer is 304 with no body", async () => {
    for (const path of ['/docs', apiDocsPaths.initializer, `${apiDocsPaths.assets}/swagger-ui-bundle.js`]) {
      const first = await get(path)
      const etag = first.headers.get('etag') ?? ''

      const again = await get(path, { 'if-none-match': etag })

      expect(again.status, path).toBe(304)
      expect(await again.text(), path).toBe('')
      expect(again.headers.get('etag'), path).toBe(etag)
    }
  })

  it("when the browser's copy is stale, then the full file comes back", async () => {
    const response = await get('/docs', { 'if-none-match': 'W/"an-older-page"' })

    expect(response.status).toBe(200)
    expect(await response.text()).toContain('swagger-ui-bundle.js')
  })

  it('when a file the page does not use is asked for under the versioned path, then nothing is served', async () => {
    const response = await get(`${apiDocsPaths.assets}/index.html`)

    expect(response.status).toBe(404)
  })

  it('when the initializer runs, then it points Swagger UI at the served document and at no validator service', async () => {
    const script = await (await get(apiDocsPaths.initializer)).text()

    expect(script).toContain('root.dataset.openapiUrl')
    expect(script).toContain('validatorUrl: null')
  })
})

describe('acceptsGzip', () => {
  it.each([
    ['gzip, deflate, br', true],
    ['br;q=1.0, gzip;q=0.5', true],
    ['*', true],
    ['GZIP', true],
    ['gzip;q=0', false],
    ['gzip; q=0.000', false],
    ['identity', false],
    ['br', false],
    ['', false],
    [undefined, false],
  ])('when Accept-Encoding is %j, then gzip is %s', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected)
  })
})
