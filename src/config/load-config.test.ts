import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { isAbsolute, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createSchemaRegistry } from '../schemas/schema-registry.js'
import { ConfigError, loadConfig } from './load-config.js'
import { configDir, projectRoot } from './project-root.js'
import { secretPaths, secretsLeftAtShippedDefault } from './shipped-secrets.js'

/** Every env variable name config/custom-environment-variables.json maps, so a test can start from a clean slate. */
function mappedEnvNames(): string[] {
  const names: string[] = []
  const walk = (node: unknown): void => {
    if (typeof node === 'string') names.push(node)
    else if (node && typeof node === 'object') {
      if ('__name' in node) names.push(String((node as { __name: unknown }).__name))
      else for (const value of Object.values(node)) walk(value)
    }
  }
  walk(JSON.parse(readFileSync(join(configDir, 'custom-environment-variables.json'), 'utf8')))
  return names
}

const ENV_NAMES = [...mappedEnvNames(), 'NODE_CONFIG_ENV', 'NODE_ENV']
const saved = new Map<string, string | undefined>()

/** Sets env variables for one test (undefined removes one); afterEach puts every touched one back. */
function setEnv(vars: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(vars)) {
    if (!saved.has(name)) saved.set(name, process.env[name])
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
}

/** Clears every mapped variable, so values from the shell running the tests cannot leak in. */
function cleanEnv(extra: Record<string, string | undefined> = {}): void {
  setEnv({ ...Object.fromEntries(ENV_NAMES.map((name) => [name, undefined])), ...extra })
}

afterEach(() => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  saved.clear()
})

function configErrorOf(load: () => unknown): ConfigError {
  let caught: unknown
  try {
    load()
  } catch (err) {
    caught = err
  }
  expect(caught).toBeInstanceOf(ConfigError)
  return caught as ConfigError
}

describe('loadConfig defaults', () => {
  it('when no env variable is set, then config/default.json loads, validates and is normalised', () => {
    // Arrange
    cleanEnv()

    // Act
    const config = loadConfig()

    // Assert
    expect(config.http).toEqual({
      port: 9000,
      host: '0.0.0.0',
      maxBodyBytes: 65536,
      requestTimeoutMs: 10000,
      retryAfterSeconds: 5,
      headersTimeoutMs: 5000,
      receiveTimeoutMs: 8000,
      keepAliveTimeoutMs: 5000,
      maxConnections: 512,
    })
    expect(config.cassandra.hosts).toEqual(['127.0.0.1'])
    expect(config.cassandra.port).toBe(9042)
    expect(config.cassandra.keyspace).toBe('sunbird')
    expect(config.auth.userToken).toEqual({
      ssoUrl: 'http://127.0.0.1:18080',
      realm: 'sunbird',
      publicKeyDir: '',
      federationProviderId: '',
      jwksMinRefreshIntervalMs: 60000,
      jwksMaxAgeMs: 300000,
      directClients: [],
    })
    expect(config.auth.clockSkewSeconds).toBe(60)
    expect(config.auth.apiBearer.consumersFile).toBe(join(projectRoot, 'config/local/api-consumers.json'))
    expect(config.authorization.orgAdminScope).toBe('organisation')
    expect(config.deletion.allowedRoles).toEqual(['public'])
  })

  it('when the config is loaded, then it is frozen all the way down', () => {
    cleanEnv()

    const config = loadConfig()

    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.http)).toBe(true)
    expect(Object.isFrozen(config.cassandra.hosts)).toBe(true)
    expect(() => {
      ;(config.http as { port: number }).port = 1
    }).toThrow(TypeError)
  })

  it('when overrides are passed, then they win over files and are validated with the rest', () => {
    cleanEnv()

    const config = loadConfig({ cassandra: { keyspace: 'sunbird_unit' }, authorization: { orgAdminScope: 'any' } })

    expect(config.cassandra.keyspace).toBe('sunbird_unit')
    expect(config.cassandra.port).toBe(9042)
    expect(config.authorization.orgAdminScope).toBe('any')
  })
})

describe('loadConfig env overrides with Sunbird names', () => {
  it('when sunbird_cassandra_host is a comma list, then hosts is an array of trimmed names', () => {
    cleanEnv({ sunbird_cassandra_host: 'cass-1, cass-2 ,cass-3,' })

    const config = loadConfig()

    expect(config.cassandra.hosts).toEqual(['cass-1', 'cass-2', 'cass-3'])
  })

  it('when USER_TOKEN_DIRECT_CLIENTS is a comma list, then the direct clients are its trimmed names', () => {
    cleanEnv({ USER_TOKEN_DIRECT_CLIENTS: 'portal, mobile-app ,' })

    const config = loadConfig()

    expect(config.auth.userToken.directClients).toEqual(['portal', 'mobile-app'])
  })

  it('when sunbird_cassandra_port is set, then the port is that number', () => {
    cleanEnv({ sunbird_cassandra_port: '9142' })

    expect(loadConfig().cassandra.port).toBe(9142)
  })

  it('when sunbird_sso_url ends with a slash, then the slash is stripped', () => {
    cleanEnv({ sunbird_sso_url: 'https://sso.example.org/auth/', sunbird_sso_realm: 'sunbird-prod' })

    const config = loadConfig()

    expect(config.auth.userToken.ssoUrl).toBe('https://sso.example.org/auth')
    expect(config.auth.userToken.realm).toBe('sunbird-prod')
  })

  it('when user-deletion-roles is "Public, Teacher", then the allowed roles are ["public", "teacher"]', () => {
    cleanEnv({ 'user-deletion-roles': 'Public, Teacher' })

    expect(loadConfig().deletion.allowedRoles).toEqual(['public', 'teacher'])
  })

  it('when PORT is set, then the http port is that number', () => {
    cleanEnv({ PORT: '8081' })

    expect(loadConfig().http.port).toBe(8081)
  })

  it('when accesstoken.publickey.basepath is relative, then it is resolved against the project root', () => {
    cleanEnv({ 'accesstoken.publickey.basepath': 'keys/realm' })

    const dir = loadConfig().auth.userToken.publicKeyDir

    expect(isAbsolute(dir)).toBe(true)
    expect(dir).toBe(join(projectRoot, 'keys/realm'))
  })

  it('when an env variable is set to an empty string, then the file value is kept', () => {
    cleanEnv({ sunbird_cassandra_host: '', PORT: '' })

    const config = loadConfig()

    expect(config.cassandra.hosts).toEqual(['127.0.0.1'])
    expect(config.http.port).toBe(9000)
  })
})

describe('loadConfig invalid values', () => {
  it('when PORT is not a number, then a ConfigError names PORT', () => {
    cleanEnv({ PORT: 'abc' })

    const error = configErrorOf(() => loadConfig())

    expect(error.message).toContain('PORT')
  })

  it('when PORT is out of range, then a ConfigError names /http/port', () => {
    cleanEnv({ PORT: '70000' })

    const error = configErrorOf(() => loadConfig())

    expect(error.message).toContain('/http/port')
  })

  it('when DELETED_USER_CACHE_TTL_MS is not set, then "not deleted" is trusted 250 ms; when set, that number', () => {
    cleanEnv()
    expect(loadConfig().lockout.cacheTtlMs).toBe(250)

    cleanEnv({ DELETED_USER_CACHE_TTL_MS: '1000' })
    expect(loadConfig().lockout.cacheTtlMs).toBe(1000)
  })

  it('when DELETED_USER_CACHE_TTL_MS is over 1 s, then a ConfigError names /lockout/cacheTtlMs (another instance could trust a deleted user longer)', () => {
    cleanEnv({ DELETED_USER_CACHE_TTL_MS: '1001' })

    const error = configErrorOf(() => loadConfig())

    expect(error.message).toContain('/lockout/cacheTtlMs')
  })

  it('when EVENT_RELAY_INTERVAL_MS or DELETION_SWEEP_INTERVAL_MS is over an hour (Node runs an interval over 2^31-1 ms every millisecond), then a ConfigError names both; an hour loads', () => {
    cleanEnv({ EVENT_RELAY_INTERVAL_MS: '3000000000', DELETION_SWEEP_INTERVAL_MS: '3600001' })

    const error = configErrorOf(() => loadConfig())

    expect(error.message).toContain('/events/relayIntervalMs')
    expect(error.message).toContain('/deletion/sweepIntervalMs')
    cleanEnv({ EVENT_RELAY_INTERVAL_MS: '3600000', DELETION_SWEEP_INTERVAL_MS: '3600000' })
    expect(loadConfig()).toMatchObject({ events: { relayIntervalMs: 3_600_000 }, deletion: { sweepIntervalMs: 3_600_000 } })
  })

  it('when orgAdminScope is not organisation or any, then a ConfigError names the key', () => {
    cleanEnv()

    const error = configErrorOf(() => loadConfig({ authorization: { orgAdminScope: 'bogus' as 'any' } }))

    expect(error.message).toContain('/authorization/orgAdminScope')
  })

  it('when user-deletion-roles holds only separators, then a ConfigError names /deletion/allowedRoles', () => {
    cleanEnv({ 'user-deletion-roles': ' , ,' })

    const error = configErrorOf(() => loadConfig())

    expect(error.message).toContain('/deletion/allowedRoles')
  })

  it('when several values are bad, then every bad key is listed in one error', () => {
    cleanEnv({ sunbird_sso_url: 'ftp://sso.example.org' })

    const error = configErrorOf(() => loadConfig({ http: { port: -1 }, logging: { level: 'loud' as 'info' } }))

    expect(error.message).toContain('/http/port')
    expect(error.message).toContain('/logging/level')
    expect(error.message).toContain('/auth/userToken/ssoUrl')
  })

  it('when an unknown key is passed, then a ConfigError is raised (additionalProperties)', () => {
    cleanEnv()

    const error = configErrorOf(() => loadConfig({ http: { portt: 1 } } as unknown as Parameters<typeof loadConfig>[0]))

    expect(error.message).toMatch(/\/http .*additional properties/)
  })
})

describe('loadConfig: Sunbird search engine and user cache', () => {
  it("when neither sunbird_es_host nor sunbird_redis_host is set, then both are not configured, with Sunbird's default ports", () => {
    cleanEnv()

    const config = loadConfig()

    expect(config.search).toEqual({ hosts: [], port: 9200, timeoutMs: 3000 })
    expect(config.redis).toEqual({ host: '', port: 6379, db: 12, timeoutMs: 2000, tls: false, maxValueBytes: 1_048_576 })
  })

  it('when sunbird_es_host is a comma list and sunbird_es_port is set, then every host is used on that HTTP port', () => {
    cleanEnv({ sunbird_es_host: 'es-1, es-2', sunbird_es_port: '9201' })

    const config = loadConfig()

    expect(config.search.hosts).toEqual(['es-1', 'es-2'])
    expect(config.search.port).toBe(9201)
  })

  it.each([['es host'], ['es-1,https://user:s3cret@es 2'], ['http://'], ['es-1:abc']])(
    'when sunbird_es_host is %j, which makes no URL, then a ConfigError names the setting and which host, never the value',
    (hosts) => {
      cleanEnv({ sunbird_es_host: hosts })

      const error = configErrorOf(() => loadConfig())

      const position = hosts.includes(',') ? 2 : 1
      expect(error.message).toBe(`invalid configuration:\n  sunbird_es_host: its host ${position} is not a host name, an address or an http(s) URL (the value is not shown: it may carry a password)`)
    },
  )

  it('when sunbird_redis_host and sunbird_redis_port are set, then Redis is configured on DB 12', () => {
    cleanEnv({ sunbird_redis_host: ' redis.internal ', sunbird_redis_port: '6380' })

    expect(loadConfig().redis).toMatchObject({ host: 'redis.internal', port: 6380, db: 12 })
  })

  it('when sunbird_redis_password, REDIS_USERNAME and REDIS_TLS are set, then Redis is reached with them', () => {
    cleanEnv({ sunbird_redis_host: 'redis.internal', sunbird_redis_password: 'r3dis-Pa55', REDIS_USERNAME: 'user-delete', REDIS_TLS: 'true' })

    expect(loadConfig().redis).toMatchObject({ host: 'redis.internal', password: 'r3dis-Pa55', username: 'user-delete', tls: true })
  })

  it("when sunbird_encryption_key is set, then it is Sunbird's key of the encrypted contacts; unset, there is none (contacts used as stored)", () => {
    cleanEnv({ sunbird_encryption_key: 'a-deployment-encryption-key' })
    expect(loadConfig().deletion.sunbirdEncryptionKey).toBe('a-deployment-encryption-key')

    cleanEnv()
    expect(loadConfig().deletion.sunbirdEncryptionKey).toBeUndefined()
  })

  it('when REDIS_MAX_VALUE_BYTES is set, then it bounds the read of user:<id>; below 1024 it is refused naming /redis/maxValueBytes', () => {
    cleanEnv({ REDIS_MAX_VALUE_BYTES: '65536' })
    expect(loadConfig().redis.maxValueBytes).toBe(65_536)

    cleanEnv({ REDIS_MAX_VALUE_BYTES: '10' })
    expect(configErrorOf(() => loadConfig()).message).toContain('/redis/maxValueBytes')
  })

  it('when REDIS_TLS is not true or false, then loading fails naming /redis/tls', () => {
    cleanEnv({ REDIS_TLS: '"yes"' })

    expect(configErrorOf(() => loadConfig()).message).toContain('/redis/tls')
  })

  it('when sunbird_es_port is not a number, then loading fails naming the variable', () => {
    cleanEnv({ sunbird_es_port: 'nine-two' })

    expect(configErrorOf(() => loadConfig()).message).toContain('sunbird_es_port')
  })
})

describe('loadConfig: keyspace replication', () => {
  it('when CASSANDRA_KEYSPACE has capitals, then the keyspace is read in lower case, the name CQL gives it unquoted (the driver quotes it in USE, and would find no such keyspace)', () => {
    cleanEnv({ CASSANDRA_KEYSPACE: 'Sunbird_Prod' })

    expect(loadConfig().cassandra.keyspace).toBe('sunbird_prod')
  })

  it('when CASSANDRA_REPLICATION is not set, then no replication is configured (db:migrate gives a new keyspace the default and leaves an existing one alone)', () => {
    cleanEnv()

    expect(loadConfig().cassandra.replication).toBeUndefined()
  })

  it('when CASSANDRA_REPLICATION names NetworkTopologyStrategy, then it is taken whole, with no replication_factor left over from the default', () => {
    cleanEnv({ CASSANDRA_REPLICATION: '{"class":"NetworkTopologyStrategy","datacenter1":3}' })

    expect(loadConfig().cassandra.replication).toEqual({ class: 'NetworkTopologyStrategy', datacenter1: 3 })
  })
})

describe('loadConfig settings against hostile clients and tokens', () => {
  it('when HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS, HTTP_KEEP_ALIVE_TIMEOUT_MS, HTTP_MAX_CONNECTIONS and AUTH_CLOCK_SKEW_SECONDS are set, then they are the numbers', () => {
    cleanEnv({ HTTP_HEADERS_TIMEOUT_MS: '3000', HTTP_REQUEST_TIMEOUT_MS: '7000', HTTP_KEEP_ALIVE_TIMEOUT_MS: '65000', HTTP_MAX_CONNECTIONS: '64', AUTH_CLOCK_SKEW_SECONDS: '5' })

    const config = loadConfig()

    expect(config.http).toMatchObject({ headersTimeoutMs: 3000, receiveTimeoutMs: 7000, keepAliveTimeoutMs: 65000, maxConnections: 64 })
    expect(config.auth.clockSkewSeconds).toBe(5)
  })

  it('when sunbird_keycloak_user_federation_provider_id and the JWKS intervals are set, then the user token settings carry them', () => {
    cleanEnv({ sunbird_keycloak_user_federation_provider_id: 'sunbird-fed', JWKS_MIN_REFRESH_INTERVAL_MS: '30000', JWKS_MAX_AGE_MS: '120000' })

    const config = loadConfig()

    expect(config.auth.userToken).toMatchObject({ federationProviderId: 'sunbird-fed', jwksMinRefreshIntervalMs: 30000, jwksMaxAgeMs: 120000 })
  })

  it('when the headers deadline is later than the whole-request deadline, then a ConfigError names both variables', () => {
    cleanEnv({ HTTP_HEADERS_TIMEOUT_MS: '9000', HTTP_REQUEST_TIMEOUT_MS: '8000' })

    const error = configErrorOf(() => loadConfig())

    expect(error.message).toMatch(/HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS/)
  })

  it('when the federation provider id holds a colon, then a ConfigError names the key (a subject could not name it)', () => {
    cleanEnv({ sunbird_keycloak_user_federation_provider_id: 'a:b' })

    const error = configErrorOf(() => loadConfig())

    expect(error.message).toMatch(/\/auth\/userToken\/federationProviderId/)
  })
})

describe('loadConfig with NODE_ENV=production and shipped secrets', () => {
  const shippedKey = (JSON.parse(readFileSync(join(configDir, 'default.json'), 'utf8')) as { deletion: { receiptHashKey: string } }).deletion.receiptHashKey

  it('when DELETION_RECEIPT_HASH_KEY is not set, then the service refuses to start and names the variable', () => {
    cleanEnv({ NODE_ENV: 'production' })

    const error = configErrorOf(() => loadConfig())

    expect(error.message).toMatch(/NODE_ENV=production: DELETION_RECEIPT_HASH_KEY is still the value shipped in config\/default.json/)
    expect(error.message).not.toContain(shippedKey)
  })

  it('when DELETION_RECEIPT_HASH_KEY is set to the shipped value explicitly, then it is refused all the same', () => {
    cleanEnv({ NODE_ENV: 'production', DELETION_RECEIPT_HASH_KEY: shippedKey })

    expect(configErrorOf(() => loadConfig()).message).toMatch(/DELETION_RECEIPT_HASH_KEY/)
  })

  it('when DELETION_RECEIPT_HASH_KEY is a key of the deployment, then the configuration loads', () => {
    cleanEnv({ NODE_ENV: 'production', DELETION_RECEIPT_HASH_KEY: 'a-deployment-key-nobody-else-knows' })

    expect(loadConfig().deletion.receiptHashKey).toBe('a-deployment-key-nobody-else-knows')
  })

  it('when a tool that reads no secret loads the configuration (audit:verify), then the shipped key is not refused, and the rest is still validated', () => {
    cleanEnv({ NODE_ENV: 'production' })

    expect(loadConfig({}, { usesSecrets: false }).cassandra.keyspace).toBe('sunbird')

    setEnv({ sunbird_cassandra_port: '"nine"' })
    expect(configErrorOf(() => loadConfig({}, { usesSecrets: false })).message).toMatch(/\/cassandra\/port/)
  })

  it('when NODE_ENV is not production, then the shipped key is accepted (local development and tests)', () => {
    cleanEnv({ NODE_ENV: 'development' })

    expect(loadConfig().deletion.receiptHashKey).toBe(shippedKey)
  })
})

describe('secrets by declaration (x-secret in schemas/config.json)', () => {
  it('when the config schema is read, then every property flagged x-secret is found, and the receipt key is one', () => {
    const schema = createSchemaRegistry().schemas.get('config') as Record<string, unknown>

    expect(secretPaths(schema)).toContainEqual(['deletion', 'receiptHashKey'])
    expect(secretPaths(schema)).toContainEqual(['redis', 'password'])
    expect(secretPaths(schema)).toContainEqual(['deletion', 'sunbirdEncryptionKey'])
  })

  it('when sunbird_redis_password is unset in production (a Redis without one), then that is no shipped secret: it has no shipped value', () => {
    cleanEnv({ NODE_ENV: 'production', DELETION_RECEIPT_HASH_KEY: 'a-production-receipt-key' })

    expect(loadConfig().redis.password).toBeUndefined()
  })

  it('when sunbird_encryption_key is unset in production (contacts stored plain), then that is no shipped secret: it has no shipped value', () => {
    cleanEnv({ NODE_ENV: 'production', DELETION_RECEIPT_HASH_KEY: 'a-production-receipt-key' })

    expect(loadConfig().deletion.sunbirdEncryptionKey).toBeUndefined()
  })

  it('when a later secret is flagged in a schema, then it joins the check under the variable its env mapping names', () => {
    // A config folder and schema of the test's own, with a second secret besides the receipt key.
    const dir = mkdtempSync(join(tmpdir(), 'config-'))
    writeFileSync(join(dir, 'default.json'), JSON.stringify({ deletion: { receiptHashKey: 'shipped-receipt' }, events: { signingKey: 'shipped-signing' } }))
    writeFileSync(
      join(dir, 'custom-environment-variables.json'),
      JSON.stringify({ deletion: { receiptHashKey: 'DELETION_RECEIPT_HASH_KEY' }, events: { signingKey: { __name: 'EVENT_SIGNING_KEY', __format: 'json' } } }),
    )
    const schema = {
      properties: {
        deletion: { properties: { receiptHashKey: { type: 'string', 'x-secret': true } } },
        events: { properties: { signingKey: { type: 'string', 'x-secret': true }, topic: { type: 'string' } } },
      },
    }

    const both = secretsLeftAtShippedDefault({ deletion: { receiptHashKey: 'shipped-receipt' }, events: { signingKey: 'shipped-signing' } }, schema, dir)
    const one = secretsLeftAtShippedDefault({ deletion: { receiptHashKey: 'own' }, events: { signingKey: 'shipped-signing' } }, schema, dir)
    const none = secretsLeftAtShippedDefault({ deletion: { receiptHashKey: 'own' }, events: { signingKey: 'own-too' } }, schema, dir)

    expect(both).toEqual(['DELETION_RECEIPT_HASH_KEY', 'EVENT_SIGNING_KEY'])
    expect(one).toEqual(['EVENT_SIGNING_KEY'])
    expect(none).toEqual([])
  })
})
