import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { type StubServer, startStubServer } from '../../test/support/stub-http-server.js'
import { createRealmKeys, type RealmKeys } from '../../test/support/user-tokens.js'
import { JwksKeySource } from './jwks-key-source.js'
import { KeysUnavailableError, UnknownKeyError } from './key-source.js'

const CERTS_PATH = '/realms/sunbird/protocol/openid-connect/certs'

function jwkOf(keys: RealmKeys): Record<string, unknown> {
  return { ...createPublicKey(keys.publicKeyPem).export({ format: 'jwk' }), kid: keys.kid, use: 'sig', alg: 'RS256' }
}

interface JwksServer {
  realmUrl: string
  /** Requests that reached the certs endpoint. */
  requests(): number
  setKeys(keys: Record<string, unknown>[]): void
  setBehaviour(behaviour: Behaviour): void
  /** Resolves once `count` requests reached the certs endpoint. */
  arrived(count: number): Promise<void>
  /** Answers the requests held by the 'hold' behaviour. */
  release(): void
  close(): Promise<void>
}

/** answer at once; hang: accept and never answer; fail: 500; hold: answer when the test calls release(). */
type Behaviour = 'answer' | 'hang' | 'fail' | 'hold'

const servers: StubServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

/** A realm JWKS endpoint on a stub server, counting its requests. */
async function startJwksServer(initial: Record<string, unknown>[], options: { behaviour?: Behaviour } = {}): Promise<JwksServer> {
  let keys = initial
  let behaviour = options.behaviour ?? 'answer'
  const held: (() => void)[] = []
  const stub = await startStubServer((request, res) => {
    if (request.path !== CERTS_PATH) {
      res.writeHead(404).end()
      return
    }
    if (behaviour === 'hang') return // accept, read, never answer
    const answer = () => {
      if (behaviour === 'fail') res.writeHead(500, { 'content-type': 'text/plain' }).end('boom')
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }))
    }
    if (behaviour === 'hold') held.push(answer)
    else answer()
  })
  servers.push(stub)
  return {
    realmUrl: `${stub.url}/realms/sunbird`,
    requests: () => stub.requests.filter((request) => request.path === CERTS_PATH).length,
    setKeys: (next) => {
      keys = next
    },
    setBehaviour: (next) => {
      behaviour = next
    },
    arrived: (count) => stub.arrived(count),
    release: () => {
      for (const answer of held.splice(0)) answer()
    },
    close: () => stub.close(),
  }
}

const realmA = createRealmKeys('kid-a')
const realmB = createRealmKeys('kid-b')

describe('JwksKeySource', () => {
  it('when a kid is looked up the first time, then the JWKS is fetched and the PEM of that key is returned', async () => {
    // Arrange
    const server = await startJwksServer([jwkOf(realmA)])
    const source = new JwksKeySource({ realmUrl: server.realmUrl })

    // Act
    const pem = await source.getJWK('kid-a')

    // Assert
    expect(server.requests()).toBe(1)
    expect(pem).toBe(realmA.publicKeyPem)
    expect(source.size()).toBe(1)
  })

  it('when the same kid is looked up again, then it comes from the cache without another request', async () => {
    const server = await startJwksServer([jwkOf(realmA)])
    const source = new JwksKeySource({ realmUrl: server.realmUrl })
    await source.getJWK('kid-a')

    const again = await source.getJWK('kid-a')

    expect(again).toBe(realmA.publicKeyPem)
    expect(server.requests()).toBe(1)
  })

  it('when an unknown kid is looked up repeatedly, then the JWKS is refreshed at most once per minRefreshIntervalMs', async () => {
    // Arrange
    let now = 1_000_000
    const server = await startJwksServer([jwkOf(realmA)])
    const source = new JwksKeySource({ realmUrl: server.realmUrl, minRefreshIntervalMs: 60_000, now: () => now })
    await source.getJWK('kid-a') // 1 request

    // Act + Assert: within the interval, unknown kids do not hit the realm.
    await expect(source.getJWK('kid-unknown')).rejects.toBeInstanceOf(UnknownKeyError)
    now += 30_000
    await expect(source.getJWK('kid-unknown')).rejects.toBeInstanceOf(UnknownKeyError)
    await expect(source.getJWK('kid-other')).rejects.toBeInstanceOf(UnknownKeyError)
    expect(server.requests()).toBe(1)

    // Once the interval has passed, one more refresh is allowed.
    now += 30_000
    await expect(source.getJWK('kid-unknown')).rejects.toBeInstanceOf(UnknownKeyError)
    expect(server.requests()).toBe(2)
  })

  it('when a fetch takes a while to answer, then the next one waits the interval counted from its answer', async () => {
    // Arrange: a fetch that starts at 0 and is answered at 5 s.
    let now = 0
    const server = await startJwksServer([jwkOf(realmA)], { behaviour: 'hold' })
    const source = new JwksKeySource({ realmUrl: server.realmUrl, minRefreshIntervalMs: 60_000, now: () => now })
    const first = source.getJWK('kid-a')
    await server.arrived(1)
    now = 5_000
    server.release()
    await first
    server.setBehaviour('answer')

    // Act + Assert: a minute after the fetch began is still within a minute of its answer.
    now = 60_000
    await expect(source.getJWK('kid-unknown')).rejects.toBeInstanceOf(UnknownKeyError)
    expect(server.requests()).toBe(1)
    now = 65_000
    await expect(source.getJWK('kid-unknown')).rejects.toBeInstanceOf(UnknownKeyError)
    expect(server.requests()).toBe(2)
  })

  it('when the realm rotates in a new key, then its kid resolves after the refresh interval', async () => {
    let now = 0
    const server = await startJwksServer([jwkOf(realmA)])
    const source = new JwksKeySource({ realmUrl: server.realmUrl, minRefreshIntervalMs: 10_000, now: () => now })
    await source.getJWK('kid-a')
    server.setKeys([jwkOf(realmA), jwkOf(realmB)])

    await expect(source.getJWK('kid-b')).rejects.toBeInstanceOf(UnknownKeyError)
    now += 10_000
    const pem = await source.getJWK('kid-b')

    expect(pem).toBe(realmB.publicKeyPem)
    expect(server.requests()).toBe(2)
  })

  it('when the realm removes a key and no unknown kid ever comes, then the key stops resolving once it is past maxAgeMs', async () => {
    // Arrange
    let now = 0
    const server = await startJwksServer([jwkOf(realmA), jwkOf(realmB)])
    const source = new JwksKeySource({ realmUrl: server.realmUrl, minRefreshIntervalMs: 60_000, maxAgeMs: 300_000, now: () => now })
    await source.getJWK('kid-a')
    server.setKeys([jwkOf(realmB)])

    // Act + Assert: younger than the max age, the cache answers alone.
    now += 299_000
    expect(await source.getJWK('kid-a')).toBe(realmA.publicKeyPem)
    expect(server.requests()).toBe(1)

    // Past it, the lookup still answers from the cache (no waiting on Keycloak) and starts one fetch...
    now += 1_000
    expect(await source.getJWK('kid-a')).toBe(realmA.publicKeyPem)
    await expect
      .poll(() =>
        source.getJWK('kid-a').then(
          () => 'resolves',
          () => 'refused',
        ),
      )
      .toBe('refused')

    // ...after which the removed key is gone, the kept one stays, and nothing more was fetched.
    expect(await source.getJWK('kid-b')).toBe(realmB.publicKeyPem)
    expect(server.requests()).toBe(2)
  })

  it('when keys are past maxAgeMs but the realm is down, then the cached keys keep resolving', async () => {
    let now = 0
    const server = await startJwksServer([jwkOf(realmA)])
    const source = new JwksKeySource({ realmUrl: server.realmUrl, maxAgeMs: 1_000, minRefreshIntervalMs: 1_000, now: () => now })
    await source.getJWK('kid-a')
    server.setBehaviour('fail')

    now += 5_000
    expect(await source.getJWK('kid-a')).toBe(realmA.publicKeyPem)
    await expect.poll(() => server.requests()).toBe(2)
    expect(await source.getJWK('kid-a')).toBe(realmA.publicKeyPem)
  })

  it('when many lookups miss at the same time, then they share one fetch', async () => {
    const server = await startJwksServer([jwkOf(realmA), jwkOf(realmB)], { behaviour: 'hold' })
    const source = new JwksKeySource({ realmUrl: server.realmUrl })

    // Every lookup is made while the one fetch is held open by the realm.
    const pending = Promise.all([source.getJWK('kid-a'), source.getJWK('kid-b'), source.getJWK('kid-a'), source.getJWK('kid-b'), source.getJWK('kid-a')])
    await server.arrived(1)
    server.release()
    const results = await pending

    expect(server.requests()).toBe(1)
    expect(results).toEqual([realmA.publicKeyPem, realmB.publicKeyPem, realmA.publicKeyPem, realmB.publicKeyPem, realmA.publicKeyPem])
  })

  it('when the realm accepts the connection but never answers, then the lookup rejects within fetchTimeoutMs: the keys are unavailable (never loaded), which says nothing of the token', async () => {
    // Arrange
    const server = await startJwksServer([jwkOf(realmA)], { behaviour: 'hang' })
    const source = new JwksKeySource({ realmUrl: server.realmUrl, fetchTimeoutMs: 200 })
    const started = performance.now()

    // Act
    const outcome = await source.getJWK('kid-a').then(
      () => 'resolved',
      (err: unknown) => err,
    )

    // Assert
    const elapsed = performance.now() - started
    expect(outcome).toBeInstanceOf(KeysUnavailableError)
    expect(server.requests()).toBe(1)
    expect(elapsed).toBeGreaterThanOrEqual(150)
    expect(elapsed).toBeLessThan(2_000)
  })

  it('when the realm never answers, then refresh() resolves false instead of hanging', async () => {
    const server = await startJwksServer([jwkOf(realmA)], { behaviour: 'hang' })
    const source = new JwksKeySource({ realmUrl: server.realmUrl, fetchTimeoutMs: 200 })

    const loaded = await source.refresh()

    expect(loaded).toBe(false)
    expect(source.size()).toBe(0)
  })

  it('when the realm goes down after keys were cached, then cached kids still resolve and unknown kids reject', async () => {
    // Arrange
    let now = 0
    const server = await startJwksServer([jwkOf(realmA)])
    const source = new JwksKeySource({ realmUrl: server.realmUrl, minRefreshIntervalMs: 1_000, fetchTimeoutMs: 200, now: () => now })
    await source.getJWK('kid-a')
    await server.close()

    // Act: an unknown kid forces a refresh against the dead realm.
    now += 1_000
    const unknown = await source.getJWK('kid-b').then(
      () => 'resolved',
      (err: unknown) => err,
    )
    const cached = await source.getJWK('kid-a')

    // Assert
    expect(unknown).toBeInstanceOf(UnknownKeyError)
    expect(cached).toBe(realmA.publicKeyPem)
    expect(source.size()).toBe(1)
  })

  it('when a refresh answers with an error status, then the keys already loaded are kept', async () => {
    let now = 0
    const server = await startJwksServer([jwkOf(realmA)])
    const source = new JwksKeySource({ realmUrl: server.realmUrl, minRefreshIntervalMs: 1_000, now: () => now })
    await source.getJWK('kid-a')
    server.setBehaviour('fail')

    now += 1_000
    const refreshed = await source.refresh()

    expect(refreshed).toBe(false)
    expect(server.requests()).toBe(2)
    expect(await source.getJWK('kid-a')).toBe(realmA.publicKeyPem)
  })

  it('when the JWKS holds encryption and non-RSA keys, then only RSA signing keys are loaded', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const keys = [
      jwkOf(realmA),
      { ...jwkOf(realmB), use: 'enc', kid: 'kid-enc' },
      { ...ec.publicKey.export({ format: 'jwk' }), kid: 'kid-ec', use: 'sig', alg: 'ES256' },
      { ...jwkOf(realmB), kid: undefined },
    ]
    const server = await startJwksServer(keys)
    const source = new JwksKeySource({ realmUrl: server.realmUrl })

    await source.getJWK('kid-a')

    expect(source.size()).toBe(1)
    await expect(source.getJWK('kid-enc')).rejects.toBeInstanceOf(UnknownKeyError)
    await expect(source.getJWK('kid-ec')).rejects.toBeInstanceOf(UnknownKeyError)
  })
})
