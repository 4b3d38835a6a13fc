import type { AnyDialect } from './dialect.js'
import { apiIdForPath } from './envelope.js'
import type { OperationMeta } from './operation.js'

/** The static start of a route path, up to the segment of its first parameter: `/api/users/` of `/api/users/:user_id`. */
function parameterPrefix(path: string): string | undefined {
  const parameter = path.indexOf('/:')
  return parameter === -1 ? undefined : path.slice(0, parameter + 1)
}

/**
 * The envelope id of the 404 of an unknown path under the prefix of a route in another dialect than
 * the default one (the REST routes: `/api/users/`, `/api/v2/user/`, `/api/v1/users/`): the prefix's
 * own id (`api.users`), whatever follows. Derived from the whole path it would echo the words a
 * caller typed after the prefix, where a user's id, email or name goes (`/api/users/jane.doe/x`).
 * Any other unknown path keeps the id derived from it (undefined here), as Sunbird derives it: a
 * prefix that also starts a path of the default dialect (Sunbird's `/api/user/`) is not one of these.
 */
export function restPrefixApiIds(operations: readonly OperationMeta[], defaultDialect: AnyDialect): (path: string) => string | undefined {
  const defaultPaths = operations.filter((operation) => operation.dialect === defaultDialect).flatMap((operation) => operation.paths)
  const prefixes = new Set(
    operations
      .filter((operation) => operation.dialect !== defaultDialect)
      .flatMap((operation) => operation.paths.map(parameterPrefix))
      .filter((prefix): prefix is string => prefix !== undefined && !defaultPaths.some((path) => path.toLowerCase().startsWith(prefix.toLowerCase()))),
  )
  // Matched in any case: what follows the prefix is the caller's however the prefix is spelled.
  const ids = [...prefixes].map((prefix) => ({ prefix: prefix.toLowerCase(), id: apiIdForPath(prefix) }))
  return (path) => {
    const lower = path.toLowerCase()
    return ids.find(({ prefix }) => lower.startsWith(prefix))?.id
  }
}
