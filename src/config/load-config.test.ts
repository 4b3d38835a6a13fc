import { readFileSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from './load-config.js'
import { configDir, projectRoot } from './project-root.js'

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

const ENV_NAMES = [...mappedEnvNames(), 'NODE_CONFIG_ENV']
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
    expect(config.http).toEqual({ port: 9000, host: '0.0.0.0', maxBodyBytes: 65536, requestTimeoutMs: 10000, retryAfterSeconds: 5 })
    expect(config.cassandra.hosts).toEqual(['127.0.0.1'])
    expect(config.cassandra.port).toBe(9042)
    expect(config.cassandra.keyspace).toBe('sunbird')
    expect(config.auth.userToken).toEqual({ ssoUrl: 'http://127.0.0.1:18080', realm: 'sunbird', publicKeyDir: '' })
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
    expect(config.redis).toEqual({ host: '', port: 6379, db: 12, timeoutMs: 2000 })
  })

  it('when sunbird_es_host is a comma list and sunbird_es_port is set, then every host is used on that HTTP port', () => {
    cleanEnv({ sunbird_es_host: 'es-1, es-2', sunbird_es_port: '9201' })

    const config = loadConfig()

    expect(config.search.hosts).toEqual(['es-1', 'es-2'])
    expect(config.search.port).toBe(9201)
  })

  it('when sunbird_redis_host and sunbird_redis_port are set, then Redis is configured on DB 12', () => {
    cleanEnv({ sunbird_redis_host: ' redis.internal ', sunbird_redis_port: '6380' })

    expect(loadConfig().redis).toMatchObject({ host: 'redis.internal', port: 6380, db: 12 })
  })

  it('when sunbird_es_port is not a number, then loading fails naming the variable', () => {
    cleanEnv({ sunbird_es_port: 'nine-two' })

    expect(configErrorOf(() => loadConfig()).message).toContain('sunbird_es_port')
  })
})

describe('loadConfig: keyspace replication', () => {
  it('when CASSANDRA_REPLICATION is not set, then the keyspace is SimpleStrategy with one replica', () => {
    cleanEnv()

    expect(loadConfig().cassandra.replication).toEqual({ class: 'SimpleStrategy', replication_factor: 1 })
  })

  it('when CASSANDRA_REPLICATION names NetworkTopologyStrategy, then it is taken whole, with no replication_factor left over from the default', () => {
    cleanEnv({ CASSANDRA_REPLICATION: '{"class":"NetworkTopologyStrategy","datacenter1":3}' })

    expect(loadConfig().cassandra.replication).toEqual({ class: 'NetworkTopologyStrategy', datacenter1: 3 })
  })
})
