import { describe, expect, it, vi } from 'vitest'

// Counts the schema registries built: each is one AJV over every file in schemas/.
const built = vi.hoisted(() => ({ count: 0 }))
vi.mock('ajv/dist/2020.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('ajv/dist/2020.js')>()
  class CountedAjv2020 extends original.Ajv2020 {
    constructor(...args: ConstructorParameters<typeof original.Ajv2020>) {
      super(...args)
      built.count++
    }
  }
  return { ...original, Ajv2020: CountedAjv2020, default: CountedAjv2020 }
})

const { loadConfig, ConfigError } = await import('./load-config.js')

describe('loadConfig: the schemas are compiled once per process, not once per load', () => {
  it('when the configuration is loaded again, also with bad settings, then no further registry is built and the error still lists every bad setting', () => {
    loadConfig()
    const afterFirst = built.count
    loadConfig()
    const failure = (() => {
      try {
        loadConfig({ http: { port: -1 }, logging: { level: 'loud' as 'info' } })
      } catch (err) {
        return err
      }
    })()

    expect(afterFirst).toBe(1)
    expect(built.count).toBe(1)
    expect(failure).toBeInstanceOf(ConfigError)
    expect((failure as Error).message).toContain('/http/port')
    expect((failure as Error).message).toContain('/logging/level')
  })
})
