import { describe, expect, it } from 'vitest'
import { withoutCredentials } from './without-credentials.js'

describe('withoutCredentials', () => {
  it.each([
    ['https://elastic:s3cret@es.internal:9200', 'https://***@es.internal:9200'],
    ['https://elastic:s3cret@es.internal:9200/prefix', 'https://***@es.internal:9200/prefix'],
    ['http://only-user@es.internal', 'http://***@es.internal'],
    ['redis://:s3cret@redis.internal:6379', 'redis://***@redis.internal:6379'],
    ['https://admin:s3cret@sso.internal/auth', 'https://***@sso.internal/auth'],
    ['elastic:s3cret@es.internal', '***@es.internal'],
  ])('when %s carries credentials, then they are shown as *** and the host is kept', (given, shown) => {
    expect(withoutCredentials(given)).toBe(shown)
  })

  it.each([['es.internal'], ['10.0.0.4'], ['https://es.internal:9200'], ['kafka-1:9092'], ['http://[::1]:9200/']])('when %s carries none, then it is shown as given', (given) => {
    expect(withoutCredentials(given)).toBe(given)
  })

  it('when the password holds @, / or #, then no part of it is shown', () => {
    const shown = withoutCredentials('https://elastic:p@ss/w#rd@es.internal:9200')

    expect(shown).toBe('https://***@es.internal:9200')
    expect(shown).not.toMatch(/p@ss|w#rd|elastic/)
  })
})
