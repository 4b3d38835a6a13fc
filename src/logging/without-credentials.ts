/**
 * A host or URL as it may be logged: a user name and password it carries are shown as `***`
 * (`https://elastic:s3cret@es:9200` → `https://***@es:9200`, `user:pass@host` → `***@host`).
 * Settings such as `sunbird_es_host` have no separate credential, so a secured server's password
 * arrives inside the URL; every description of an endpoint for a log line goes through here.
 *
 * Everything up to the last `@` is taken for credentials, not only what a URL parser would take: a
 * password may hold an unescaped `@`, `/`, `?` or `#`, and a log line must not show the rest of it.
 * A path that holds an `@` loses what comes before it, which costs a log line nothing.
 */
export function withoutCredentials(hostOrUrl: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(hostOrUrl)?.[0] ?? ''
  const rest = hostOrUrl.slice(scheme.length)
  const at = rest.lastIndexOf('@')
  return at < 0 ? hostOrUrl : `${scheme}***${rest.slice(at)}`
}
