import { describe, expect, it } from 'vitest'
import { capturedLogger } from '../test/support/captured-logger.js'
import { loadConfig } from './config/load-config.js'
import { connectSearchAndCache } from './search-and-cache.js'

const PASSWORD = 'Es-s3cret-Pa55'

/** The settings under test; nothing is contacted (the clients connect on first use). */
async function describedWith(search: { hosts: string[] }, redis: { host: string; username?: string; password?: string; tls?: boolean }) {
  const searchAndCache = connectSearchAndCache(loadConfig({ search: { ...search, port: 9200 }, redis: { ...redis, port: 6379 }, logging: { level: 'silent' } }))
  try {
    return searchAndCache.describe()
  } finally {
    await searchAndCache.close()
  }
}

describe('connectSearchAndCache: describe(), the start-up line', () => {
  it('when sunbird_es_host carries a user name and password (a secured cluster), then the start-up line names the hosts without them', async () => {
    const { logger, lines } = capturedLogger()

    const described = await describedWith({ hosts: [`https://elastic:${PASSWORD}@es-1.internal:9200`, `https://elastic:${PASSWORD}@es-2.internal:9200`] }, { host: '' })
    logger.info(described, 'search engine and user cache')

    expect(described.search).toBe('https://***@es-1.internal:9200,https://***@es-2.internal:9200 port 9200')
    expect(JSON.stringify(lines)).not.toContain(PASSWORD)
    expect(JSON.stringify(lines)).not.toContain('elastic:')
  })

  it('when sunbird_es_host is a host without a scheme but with credentials (the client reads them too), then they are not shown either', async () => {
    const described = await describedWith({ hosts: [`elastic:${PASSWORD}@es.internal`] }, { host: '' })

    expect(described.search).toBe('***@es.internal port 9200')
  })

  it('when sunbird_redis_host is given as a URL with a password, then the line shows the host without it', async () => {
    const described = await describedWith({ hosts: [] }, { host: `redis://:${PASSWORD}@redis.internal` })

    expect(described).toEqual({ search: 'not configured', redis: 'redis://***@redis.internal:6379 db 12, no password' })
  })

  it('when hosts carry no credentials, then they are named as given', async () => {
    const described = await describedWith({ hosts: ['es-1', 'https://es-2.internal:9243'] }, { host: 'redis.internal' })

    expect(described).toEqual({ search: 'es-1,https://es-2.internal:9243 port 9200', redis: 'redis.internal:6379 db 12, no password' })
  })

  it('when sunbird_redis_password, REDIS_USERNAME and REDIS_TLS are set, then the line says TLS, the user and "password set", never the password', async () => {
    const { logger, lines } = capturedLogger()

    const described = await describedWith({ hosts: [] }, { host: 'redis.internal', username: 'user-delete', password: PASSWORD, tls: true })
    logger.info(described, 'search engine and user cache')

    expect(described.redis).toBe('redis.internal:6379 db 12, tls, user user-delete, password set')
    expect(JSON.stringify(lines)).not.toContain(PASSWORD)
  })
})
