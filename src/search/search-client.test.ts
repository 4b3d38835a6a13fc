import { describe, expect, it } from 'vitest'
import { isSearchConfigured, searchNodeUrls } from './search-client.js'

describe('searchNodeUrls', () => {
  it('when hosts are bare names, then each is http on the configured HTTP port, used as given', () => {
    expect(searchNodeUrls({ hosts: ['10.0.0.5', 'es-2'], port: 9200, timeoutMs: 1000 })).toEqual(['http://10.0.0.5:9200', 'http://es-2:9200'])
  })

  it('when a host carries a scheme, then it is used as written (trailing slash dropped)', () => {
    expect(searchNodeUrls({ hosts: ['https://search.example.org:443/'], port: 9200, timeoutMs: 1000 })).toEqual(['https://search.example.org:443'])
  })

  it('when no host is configured, then search is not configured', () => {
    expect(isSearchConfigured({ hosts: [], port: 9200, timeoutMs: 1000 })).toBe(false)
  })
})
