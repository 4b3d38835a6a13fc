import { describe, expect, it } from 'vitest'
import { schemaGate } from './schema-gate.js'

function gateOver(versions: Array<number | Error>) {
  const told: Array<[number, number]> = []
  let reads = 0
  const gate = schemaGate({
    appliedVersion: async () => {
      const next = versions[Math.min(reads++, versions.length - 1)]
      if (next instanceof Error) throw next
      return next as number
    },
    required: 14,
    onBehind: (applied, required) => told.push([applied, required]),
  })
  return { gate, told, reads: () => reads }
}

describe('schemaGate', () => {
  it('holds background work while the keyspace is behind, telling the operator once per version seen', async () => {
    const { gate, told } = gateOver([13, 13, 13])
    expect(await gate.ready()).toBe(false)
    expect(await gate.ready()).toBe(false)
    expect(await gate.ready()).toBe(false)
    expect(told).toEqual([[13, 14]])
  })

  it('lets the work through once the migration has run, and reads the version no more', async () => {
    const { gate, told, reads } = gateOver([12, 13, 14, 13])
    expect(await gate.ready()).toBe(false)
    expect(await gate.ready()).toBe(false)
    expect(await gate.ready()).toBe(true)
    expect(await gate.ready()).toBe(true)
    expect(await gate.ready()).toBe(true)
    expect(reads()).toBe(3)
    expect(told).toEqual([
      [12, 14],
      [13, 14],
    ])
  })

  it('lets a newer schema through: a later build migrated first', async () => {
    const { gate, told } = gateOver([15])
    expect(await gate.ready()).toBe(true)
    expect(told).toEqual([])
  })

  it('rejects when the version cannot be read, and asks again on the next pass', async () => {
    const { gate, told } = gateOver([new Error('Cassandra away'), 14])
    await expect(gate.ready()).rejects.toThrow('Cassandra away')
    expect(await gate.ready()).toBe(true)
    expect(told).toEqual([])
  })
})
