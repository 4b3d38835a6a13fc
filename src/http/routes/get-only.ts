import type { Handler, Hono } from 'hono'
import type { AppEnv } from '../app-env.js'
import { methodNotAllowed } from '../method-not-allowed.js'

/**
 * Serves `path` to GET (HEAD too: Hono answers it from the GET handler) and any other method 405
 * with `Allow: GET`, as the API's own GET routes (/health, /ready) answer: the path exists, so 404
 * would tell a caller it does not.
 */
export function getOnly(app: Hono<AppEnv>, path: string, handler: Handler<AppEnv>): void {
  app.get(path, handler)
  app.all(path, () => {
    throw methodNotAllowed(['GET'])
  })
}
