import { describe, expect, it } from 'vitest'
import { appOverFakes } from '../../../test/support/fakes/app-over-fakes.js'
import { errorEntry } from '../error-codes.js'
import { apiDocsPaths } from './api-docs.js'
import { metricsPath } from './metrics.js'

describe('the GET-only routes (/metrics, /openapi.json, /docs) through the app', () => {
  const { app } = appOverFakes()

  it.each([metricsPath, apiDocsPaths.document, apiDocsPaths.reference, apiDocsPaths.initializer])(
    'when %s is asked for with POST, PUT or DELETE, then 405 with Allow: GET in the service envelope, not a 404 saying it does not exist',
    async (path) => {
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const response = await app.request(path, { method })

        expect(response.status, method).toBe(405)
        expect(response.headers.get('allow')).toBe('GET')
        expect(((await response.json()) as { params: { err: string } }).params.err).toBe(errorEntry('METHOD_NOT_ALLOWED').err)
      }
    },
  )

  it.each(['GET', 'HEAD'])('when /metrics is asked for with %s, then it is served', async (method) => {
    const response = await app.request(metricsPath, { method })

    expect(response.status).toBe(200)
  })
})
