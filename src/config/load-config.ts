import { isAbsolute, resolve } from 'node:path'
import { Load } from 'config/lib/util.js'
import { sharedAllErrorsSchemaRegistry } from '../schemas/schema-registry.js'
import { searchNodeUrls } from '../search/search-client.js'
import type { Config, DeepPartial } from './config.js'
import { configDir, projectRoot } from './project-root.js'
import { secretsLeftAtShippedDefault } from './shipped-secrets.js'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Runs `make`; a configuration problem (the settings, or a file they name) exits 78 (EX_CONFIG) with one readable message, no stack trace. */
export function orExitOnConfigError<T>(make: () => T): T {
  try {
    return make()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    console.error(err.message)
    process.exit(78)
  }
}

type Plain = Record<string, unknown>

function isPlainObject(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function mergeDeep(base: Plain, override: Plain): Plain {
  const out: Plain = { ...base }
  for (const [key, value] of Object.entries(override)) {
    if (value === undefined) continue
    const current = out[key]
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeDeep(current, value) : value
  }
  return out
}

/** Sunbird passes lists as comma-separated env values ("host1,host2", "public,teacher"). */
function splitList(value: unknown): unknown {
  return typeof value === 'string'
    ? value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)
    : value
}

/** One form for what Sunbird writes several ways (comma lists, SSO URL with trailing slash), resolved paths, the default topic. */
function normalise(raw: Plain, production: boolean): Plain {
  const cassandra = raw.cassandra as Plain
  const deletion = raw.deletion as Plain
  const userToken = (raw.auth as Plain).userToken as Plain
  const apiBearer = (raw.auth as Plain).apiBearer as Plain
  const keycloakAdmin = (raw.auth as Plain).keycloakAdmin as Plain
  const ssoUrl = String(userToken.ssoUrl).replace(/\/+$/, '')
  const roles = splitList(deletion.allowedRoles)
  const keyDir = String(userToken.publicKeyDir ?? '')
  const consumersFile = String(apiBearer.consumersFile)
  const session = (raw.auth as Plain).session as Plain
  const events = raw.events as Plain
  const search = raw.search as Plain
  const redis = raw.redis as Plain
  const normalised = mergeDeep(raw, {
    events: { brokers: splitList(events.brokers), topic: events.topic || `${String(raw.env)}.delete.user` },
    search: { hosts: splitList(search.hosts) },
    redis: { host: String(redis.host ?? '').trim() },
    // The service's CQL names the keyspace unquoted, so Cassandra holds it in lower case; the driver's
    // USE quotes it, and system_schema compares it as stored: one spelling for all of them.
    cassandra: { hosts: splitList(cassandra.hosts), keyspace: typeof cassandra.keyspace === 'string' ? cassandra.keyspace.toLowerCase() : cassandra.keyspace },
    deletion: { allowedRoles: Array.isArray(roles) ? roles.map((role) => String(role).toLowerCase()) : roles },
    auth: {
      userToken: {
        ssoUrl,
        directClients: splitList(userToken.directClients),
        publicKeyDir: keyDir && !isAbsolute(keyDir) ? resolve(projectRoot, keyDir) : keyDir,
      },
      keycloakAdmin: { baseUrl: String(keycloakAdmin.baseUrl || ssoUrl).replace(/\/+$/, '') },
      apiBearer: { consumersFile: isAbsolute(consumersFile) ? consumersFile : resolve(projectRoot, consumersFile) },
      session: { allowedOrigins: splitList(session.allowedOrigins) },
    },
  })
  // Crash points are for the test suite; a production process never honours them.
  if (production) normalised.faults = {}
  return normalised
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}

export interface LoadConfigOptions {
  /**
   * False for a tool that reads none of the secrets (`npm run audit:verify` reads Cassandra alone):
   * it is not refused under NODE_ENV=production for a secret left at its shipped value, which it
   * never uses. Everything else is validated all the same.
   */
  usesSecrets?: boolean
}

/**
 * Reads config/ (default, NODE_ENV, local) and the env variables mapped in
 * config/custom-environment-variables.json, applies `overrides` (tests, tools), validates the result
 * against schemas/config.json and fails with every bad key listed.
 */
export function loadConfig(overrides: DeepPartial<Config> = {}, options: LoadConfigOptions = {}): Config {
  const nodeEnv = (process.env.NODE_CONFIG_ENV ?? process.env.NODE_ENV ?? 'development').split(',')
  let loaded: Plain
  try {
    loaded = new Load({ configDir, nodeEnv }).scan() as Plain
  } catch (err) {
    // e.g. PORT=abc: the env mapping's JSON parser throws a bare SyntaxError ("__format parser error in PORT: ...").
    throw new ConfigError(`invalid configuration:\n  ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  const production = nodeEnv.includes('production')
  // Every error, so one message lists every bad setting.
  const registry = sharedAllErrorsSchemaRegistry()
  const merged = normalise(mergeDeep(structuredClone(loaded), overrides as Plain), production)
  const validate = registry.validator<Config>('config')
  if (!validate(merged)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim())
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`)
  }
  const http = merged.http as Config['http']
  // Node refuses a headers deadline past the whole-request one; say so in our words, at start-up.
  if (http.headersTimeoutMs > http.receiveTimeoutMs) {
    throw new ConfigError('invalid configuration:\n  HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)')
  }
  // The search client throws a bare TypeError (Invalid URL) on a host it cannot make a URL of, once
  // the service is being built; say which setting at start instead. Not its value: it may carry a password.
  const unusableHost = searchNodeUrls(merged.search as Config['search']).findIndex((url) => !URL.canParse(url))
  if (unusableHost >= 0) {
    throw new ConfigError(`invalid configuration:\n  sunbird_es_host: its host ${unusableHost + 1} is not a host name, an address or an http(s) URL (the value is not shown: it may carry a password)`)
  }
  if (production && options.usesSecrets !== false) {
    const shipped = secretsLeftAtShippedDefault(merged, registry.schemas.get('config') as Plain)
    if (shipped.length > 0) {
      throw new ConfigError(
        `refusing to start with NODE_ENV=production: ${shipped.join(', ')} ${shipped.length === 1 ? 'is' : 'are'} still the value shipped in config/default.json; set a secret of your own`,
      )
    }
  }
  return deepFreeze(merged as unknown as Config)
}
