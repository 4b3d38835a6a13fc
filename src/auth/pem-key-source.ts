import { createPublicKey } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { UnknownKeyError, type KeySource } from './key-source.js'

/** Sunbird stores the base64 body without PEM armour; accept both. */
function toPem(text: string): string {
  const trimmed = text.trim()
  if (trimmed.includes('-----BEGIN')) return trimmed
  const body =
    trimmed
      .replace(/\s+/g, '')
      .match(/.{1,64}/g)
      ?.join('\n') ?? ''
  return `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----`
}

/**
 * Sunbird's offline key folder (`accesstoken.publickey.basepath`): one public key per file, the file
 * name is the kid. Loaded once at start-up; a bad file fails the start, not a request.
 */
export class PemKeySource implements KeySource {
  private readonly keys = new Map<string, string>()

  constructor(dir: string) {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (!statSync(path).isFile() || name.startsWith('.')) continue
      const pem = toPem(readFileSync(path, 'utf8'))
      createPublicKey(pem) // throws on a file that is not a public key
      this.keys.set(name, pem)
      // A key file named "<kid>.pem" also serves the bare kid.
      if (name.endsWith('.pem')) this.keys.set(name.slice(0, -4), pem)
    }
  }

  async getJWK(kid: string): Promise<string> {
    const pem = this.keys.get(kid)
    if (!pem) throw new UnknownKeyError()
    return pem
  }

  loadedKey(kid: string): string | undefined {
    return this.keys.get(kid)
  }

  size(): number {
    return this.keys.size
  }
}
