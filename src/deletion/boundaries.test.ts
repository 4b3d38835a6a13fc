import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const DOMAIN_DIR = dirname(fileURLToPath(import.meta.url))

/** Platform modules the domain may use: pure computation (ids, hashes), no I/O. */
const ALLOWED_PLATFORM = new Set(['node:crypto'])

/** Every module specifier a TypeScript source imports or re-exports, statically or dynamically. */
function importsOf(source: string): string[] {
  const found: string[] = []
  for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)) found.push(match[1] as string)
  for (const match of source.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) found.push(match[1] as string)
  for (const match of source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(match[1] as string)
  return found
}

/** The imports of a file in the domain folder that leave it: drivers, frameworks, other folders of src/. */
function violations(file: string, source: string, domainDir = DOMAIN_DIR): string[] {
  return importsOf(source).filter((specifier) => {
    if (ALLOWED_PLATFORM.has(specifier)) return false
    if (!specifier.startsWith('.')) return true
    const target = relative(domainDir, resolve(dirname(file), specifier))
    return target.startsWith('..')
  })
}

function domainSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return domainSources(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : []
  })
}

describe('the deletion domain (src/deletion/) depends on nothing but itself', () => {
  it('when every source file of the domain is read, then none imports a driver, a framework or another folder of src/', () => {
    const files = domainSources(DOMAIN_DIR)

    const found = files.flatMap((file) => violations(file, readFileSync(file, 'utf8')).map((specifier) => `${relative(DOMAIN_DIR, file)} imports ${specifier}`))

    expect(files.length).toBeGreaterThanOrEqual(8)
    expect(found, 'a file in src/deletion/ needs the outside world: declare a port in ports.ts instead').toEqual([])
  })

  it('when a file imports a driver, a framework, a library or code outside the folder, then each such import is reported', () => {
    const file = join(DOMAIN_DIR, 'steps', 'example.ts')
    const source = [
      "import type { Client } from 'cassandra-driver'",
      "import { Hono } from 'hono'",
      "import { v4 } from 'uuid'",
      "import { readFileSync } from 'node:fs'",
      "import { ApiError } from '../../http/api-error.js'",
      "export { KeycloakIdentity } from '../../store/keycloak-identity.js'",
      "const lazy = () => import('kafkajs')",
      "import type { UserStore } from '../ports.js'",
      "import { STEP } from './lock.js'",
      "import { randomUUID } from 'node:crypto'",
    ].join('\n')

    expect(violations(file, source)).toEqual(['cassandra-driver', 'hono', 'uuid', 'node:fs', '../../http/api-error.js', '../../store/keycloak-identity.js', 'kafkajs'])
  })
})
