import type { Client } from 'cassandra-driver'
import { describe, expect, it } from 'vitest'
import { LivePhysicalErasure } from './live-physical-erasure.js'

describe('the physical-erasure horizon of a receipt line', () => {
  it("when a line names a part of the deletion (the managed users' cache), then it gets its store's horizon", async () => {
    // Neither Cassandra nor Kafka is asked for a Redis line.
    const erasure = new LivePhysicalErasure({ cassandra: {} as Client, keyspace: 'sunbird', events: { brokers: [], topic: 'local.delete.user', timeoutMs: 100 }, redis: true })
    const at = new Date('2026-12-04T22:30:00.000Z')

    const horizons = await erasure.horizons(['redis.user', 'redis.user (managed users)'], at)

    expect(horizons['redis.user (managed users)']).toEqual(horizons['redis.user'])
    expect(horizons['redis.user (managed users)']?.by).toBe(at.toISOString())
  })
})
