import type { Handler, Hono } from 'hono'
import { ApiError } from '../api-error.js'
import type { AppEnv } from '../app-env.js'

/**
 * Serves `path` to GET (HEAD too: Hono answers it from the GET handler) and any other method 405
 * with `Allow: GET`, as the API's own GET routes (/health, /ready) answer: the path exists, so 404
 * would tell a caller it does not.
 */
export function getOnly(app: Hono<AppEnv>, path: string, handler: Handler<AppEnv>): void {
  app.get(path, handler)
  app.all(path, () => {
    throw new ApiError('METHOD_NOT_ALLOWED', { headers: { Allow: 'GET' } })
  })
}
