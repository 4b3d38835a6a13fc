import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { readBoundedText } from '../../scripts/lib/bounded-text-file.js'

const dir = mkdtempSync(join(tmpdir(), 'bounded-text-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
afterEach(() => vi.restoreAllMocks())

const fileWith = (name: string, content: string | Buffer) => {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

const SIXTEEN_MIB = 16 * 1024 * 1024

describe('readBoundedText: the text of a file named on a command line, up to a bound', () => {
  it('when the file is small, then its text', () => {
    expect(readBoundedText(fileWith('small', 'a\nb\n'), SIXTEEN_MIB)).toBe('a\nb\n')
  })

  it('when the file is empty, then the empty text', () => {
    expect(readBoundedText(fileWith('empty', ''), 10)).toBe('')
  })

  it.each([10, 200_000])('when the file holds exactly the bound (%i bytes), then its text; one byte more, then too large', (bound) => {
    const exact = 'x'.repeat(bound)

    expect(readBoundedText(fileWith(`exact-${bound}`, exact), bound)).toBe(exact)
    expect(readBoundedText(fileWith(`over-${bound}`, `${exact}x`), bound)).toBe('too large')
  })

  it('when the file is far over the bound, then too large', () => {
    expect(readBoundedText(fileWith('far-over', 'y'.repeat(300_000)), 1000)).toBe('too large')
  })

  it('when a character of more than one byte spans two reads, then it is read whole', () => {
    const text = `${'a'.repeat(64 * 1024 - 1)}é${'b'.repeat(10)}`

    expect(readBoundedText(fileWith('split', text), SIXTEEN_MIB)).toBe(text)
  })

  it('when the file never ends (/dev/zero), then too large, without hanging', () => {
    expect(readBoundedText('/dev/zero', 1024 * 1024)).toBe('too large')
  })

  it('when the file is missing, then it throws as readFileSync does', () => {
    expect(() => readBoundedText(join(dir, 'missing'), 10)).toThrow(expect.objectContaining({ code: 'ENOENT' }))
  })

  it('when a 20-byte file is read under a 16 MiB bound, then no buffer near the bound is allocated', () => {
    const sizes: number[] = []
    for (const method of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
      const original = Buffer[method].bind(Buffer) as (size: number) => Buffer
      vi.spyOn(Buffer, method).mockImplementation(((size: number, ...rest: unknown[]) => {
        sizes.push(size)
        return (original as (size: number, ...rest: unknown[]) => Buffer)(size, ...rest)
      }) as never)
    }

    expect(readBoundedText(fileWith('twenty', '0123456789abcdefghij'), SIXTEEN_MIB)).toBe('0123456789abcdefghij')
    expect(sizes).not.toEqual([])
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * 1024)
  })
})
