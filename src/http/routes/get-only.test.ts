import { describe, expect, it } from 'vitest'
import { appOverFakes } from '../../../test/support/fakes/app-over-fakes.js'
import { errorEntry } from '../error-codes.js'
import { apiDocsPaths } from './api-docs.js'
import { metricsPath } from './metrics.js'

describe('the GET-only routes (/health, /ready, /metrics, /openapi.json, /docs) through the app', () => {
  const { app } = appOverFakes()

  // Each path with the envelope id docs/integrating.md names for its 405: the probe's own, else the path's words.
  it.each([
    ['/health', 'api.health'],
    ['/ready', 'api.ready'],
    [metricsPath, 'api.metrics'],
    [apiDocsPaths.document, 'api.openapi.json'],
    [apiDocsPaths.reference, 'api.docs'],
    [apiDocsPaths.initializer, 'api.docs.swagger-initializer.js'],
  ])(
    'when %s is asked for with POST, PUT, DELETE or OPTIONS, then 405 with Allow: GET in the service envelope (id %s, Access-Control-Allow-Origin: *), not a 404 saying it does not exist',
    async (path, id) => {
      const entry = errorEntry('METHOD_NOT_ALLOWED')
      for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
        const response = await app.request(path, { method })

        expect(response.status, method).toBe(405)
        expect(response.headers.get('allow'), method).toBe('GET')
        expect(response.headers.get('access-control-allow-origin'), method).toBe('*')
        const body = (await response.json()) as { id: string; responseCode: string; params: { err: string; errmsg: string }; result: unknown }
        expect([body.id, body.responseCode, body.params.err, body.params.errmsg, body.result], method).toEqual([id, entry.responseCode, entry.err, entry.errmsg, {}])
      }
    },
  )

  it.each(['GET', 'HEAD'])('when /metrics is asked for with %s, then it is served', async (method) => {
    const response = await app.request(metricsPath, { method })

    expect(response.status).toBe(200)
  })
})
