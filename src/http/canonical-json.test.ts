import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson } from './canonical-json.js'

/** The plain recursive rendering the iterative one must match: key order sorted, undefined as null. */
function recursive(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(recursive).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${recursive((value as Record<string, unknown>)[key])}`)
      .join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

describe('canonicalJson', () => {
  it('renders any JSON value as the recursive rendering does, so fingerprints kept before stay equal', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(value)).toBe(recursive(value))
      }),
      { numRuns: 500 },
    )
  })

  it('renders the same object sent with its keys in any order the same, and is valid JSON of the same value', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse())
        expect(canonicalJson(reversed)).toBe(canonicalJson(object))
        expect(JSON.parse(canonicalJson(object))).toEqual(JSON.parse(JSON.stringify(object)))
      }),
    )
  })

  it('renders a body nested 50,000 levels deep, which JSON.parse reads, without overflowing the stack', () => {
    const depth = 50_000
    const text = `{"request":{"x":${'['.repeat(depth)}${']'.repeat(depth)}}}`
    const body = JSON.parse(text) as unknown

    expect(canonicalJson(body)).toBe(text)
  })

  it('renders undefined, in an object or an array or alone, as null', () => {
    expect(canonicalJson({ b: undefined, a: [undefined, 1] })).toBe('{"a":[null,1],"b":null}')
    expect(canonicalJson(undefined)).toBe('null')
  })
})
