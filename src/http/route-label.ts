import type { Context } from 'hono'
import { routePath } from 'hono/route'

/**
 * The registered pattern that answered (e.g. /api/user/v1/delete), never the raw URL: metric labels
 * and log fields stay few and carry nothing a caller typed. Unknown paths only met the catch-all
 * middleware ('*') and are all "unmatched".
 */
export function routeLabel(c: Context): string {
  const path = routePath(c, -1)
  return path === '' || path === '*' || path === '/*' ? 'unmatched' : path
}
