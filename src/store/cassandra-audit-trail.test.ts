import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { chainHash } from './cassandra-audit-trail.js'

const GENESIS = '0'.repeat(64)
const RECORD = JSON.stringify({ event: 'deletion.accepted', requestId: 'req-1', userId: 'user-1', requestedBy: 'user-1', at: '2024-05-20T10:08:56.812Z' })

describe('chainHash', () => {
  it('when called twice with the same inputs, then the same 64-hex-digit hash is answered', () => {
    const first = chainHash(GENESIS, 1, RECORD)

    expect(chainHash(GENESIS, 1, RECORD)).toBe(first)
    expect(first).toMatch(/^[0-9a-f]{64}$/)
  })

  it('when the hash is computed, then it is sha256 over prevHash, seq and the record text, one per line', () => {
    expect(chainHash(GENESIS, 1, RECORD)).toBe(createHash('sha256').update(`${GENESIS}\n1\n${RECORD}`).digest('hex'))
  })

  it('when prevHash changes, then the hash changes', () => {
    expect(chainHash('1'.repeat(64), 1, RECORD)).not.toBe(chainHash(GENESIS, 1, RECORD))
  })

  it('when seq changes, then the hash changes', () => {
    expect(chainHash(GENESIS, 2, RECORD)).not.toBe(chainHash(GENESIS, 1, RECORD))
  })

  it('when one character of the record changes, then the hash changes', () => {
    expect(chainHash(GENESIS, 1, RECORD.replace('accepted', 'completed'))).not.toBe(chainHash(GENESIS, 1, RECORD))
  })

  it('when an early record is altered, then every later hash of the chain changes', () => {
    // Arrange: a chain of three records, and the same chain with the first record altered.
    const records = ['a', 'b', 'c']
    const chain = (texts: string[]) => {
      let prev = GENESIS
      return texts.map((text, i) => (prev = chainHash(prev, i + 1, text)))
    }

    // Act
    const original = chain(records)
    const tampered = chain(['a!', 'b', 'c'])

    // Assert
    expect(tampered.map((hash, i) => hash === original[i])).toEqual([false, false, false])
  })
})
