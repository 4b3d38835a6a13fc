import { closeSync, openSync, readSync } from 'node:fs'

/**
 * The text of a file named on a command line, read up to `maxBytes`; `too large` past them. Node's
 * readFileSync reads to the end, which an endless file (/dev/zero, a device) never has: the CLI
 * would hang, its memory growing, instead of saying why it cannot use the file. Throws as
 * readFileSync does when the file cannot be read (missing, a folder, no permission).
 */
export function readBoundedText(path: string, maxBytes: number): string | 'too large' {
  const fd = openSync(path, 'r')
  try {
    // One byte past the bound tells a file of exactly maxBytes from a larger one.
    const buffer = Buffer.alloc(maxBytes + 1)
    let filled = 0
    while (filled < buffer.length) {
      const read = readSync(fd, buffer, filled, buffer.length - filled, null)
      if (read === 0) break
      filled += read
    }
    return filled > maxBytes ? 'too large' : buffer.toString('utf8', 0, filled)
  } finally {
    closeSync(fd)
  }
}
