import { closeSync, openSync, readSync } from 'node:fs'

/** Read at a time: a file of a few bytes costs a few bytes' read, not the bound's (16 MiB for the ids file). */
const CHUNK_BYTES = 64 * 1024

/**
 * The text of a file named on a command line, read up to `maxBytes`; `too large` past them. Node's
 * readFileSync reads to the end, which an endless file (/dev/zero, a device) never has: the CLI
 * would hang, its memory growing, instead of saying why it cannot use the file. Read in chunks, so
 * memory follows what the file holds, never more than the bound and one chunk. Throws as
 * readFileSync does when the file cannot be read (missing, a folder, no permission).
 */
export function readBoundedText(path: string, maxBytes: number): string | 'too large' {
  const fd = openSync(path, 'r')
  try {
    const chunks: Buffer[] = []
    let total = 0
    // One byte past the bound tells a file of exactly maxBytes from a larger one.
    while (total <= maxBytes) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, maxBytes + 1 - total))
      const read = readSync(fd, chunk, 0, chunk.length, null)
      if (read === 0) break
      chunks.push(chunk.subarray(0, read))
      total += read
    }
    // Decoded once whole, so a character split between two chunks stays one character.
    return total > maxBytes ? 'too large' : Buffer.concat(chunks, total).toString('utf8')
  } finally {
    closeSync(fd)
  }
}

/**
 * Why readBoundedText could not read a file, in words an operator acts on: by its error code, never
 * its message (which repeats the path, and Node's wording besides).
 */
export function whyUnreadable(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EISDIR') return 'a folder, not a file'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : 'not readable'
}
