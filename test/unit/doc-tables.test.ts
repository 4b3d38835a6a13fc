import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { generatedSections, markers, renderConfigTable, renderDocFile, renderErrorTable, replaceSection } from '../../scripts/lib/doc-tables.js'
import { projectRoot } from '../../src/config/project-root.js'
import { ApiError } from '../../src/http/api-error.js'
import type { AppEnv } from '../../src/http/app-env.js'
import type { AnyDialect } from '../../src/http/dialect.js'
import { drfDetail } from '../../src/http/dialects/drf-detail.js'
import { nestError } from '../../src/http/dialects/nest-error.js'
import { nuxtError } from '../../src/http/dialects/nuxt-error.js'
import { type ErrorCode, errorCodes } from '../../src/http/error-codes.js'
import { operations } from '../../src/http/operations/index.js'
import { renderError } from '../../src/http/render-error.js'

type Json = { [key: string]: unknown }
const readJson = (...path: string[]) => JSON.parse(readFileSync(join(projectRoot, ...path), 'utf8')) as Json
const isJson = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value)

/** Each row's key and env variable (— when it has none), in the table's order. */
const configRows = (table: string) => [...table.matchAll(/^\| (?:`([^`]+)`|—) \| `([^`]+)` \|/gm)].map(([, env, key]) => ({ key, env }))
const configKeys = (table: string) => configRows(table).map((row) => row.key)

/**
 * The settings, read from schemas/config.json and config/custom-environment-variables.json here, not
 * through the table's code: every property down to a value, but an object one variable sets whole
 * (CASSANDRA_REPLICATION, as JSON) is one setting; with the variable that sets it, if any.
 */
function settingsOf(schema: Json, envMap: unknown, path: string[] = []): { key: string; env: string | undefined }[] {
  const env = typeof envMap === 'string' ? envMap : isJson(envMap) && typeof envMap.__name === 'string' ? envMap.__name : undefined
  if (!isJson(schema.properties) || env !== undefined) return [{ key: path.join('.'), env }]
  return Object.entries(schema.properties).flatMap(([name, inner]) => settingsOf(inner as Json, isJson(envMap) ? envMap[name] : undefined, [...path, name]))
}

describe('the generated tables of docs/', () => {
  it.each(generatedSections.map((section) => [section.name, section]))('when its sources change, then the %s table has been regenerated with them (npm run docs)', (_name, section) => {
    // Arrange
    const committed = readFileSync(section.file, 'utf8')

    // Act
    const rendered = renderDocFile(section.file, committed)

    // Assert: a plain equality, so the diff vitest prints shows what is stale.
    expect(committed, `${section.file} is stale: run \`npm run docs\` and commit the result`).toBe(rendered)
  })

  it('when the configuration table is rendered, then every setting of schemas/config.json has a row, with its env variable and default', () => {
    const settings = settingsOf(readJson('schemas', 'config.json'), readJson('config', 'custom-environment-variables.json'))

    const table = renderConfigTable()

    // One row per setting, in the schema's order, none missing or extra; each names its variable.
    expect(configRows(table)).toEqual(settings)
    expect(configKeys(table)).toContain('http.maxBodyBytes')
    expect(configKeys(table)).toContain('cassandra.replication')
    expect(configKeys(table)).not.toContain('cassandra.replication.class')
    expect(table).toContain('| `HTTP_MAX_BODY_BYTES` | `http.maxBodyBytes` | `65536` | integer 64–10485760 |')
    expect(table).toContain('`config/local/api-consumers.json`; with `NODE_ENV=production`: `/etc/sunbird-user-delete/api-consumers.json`')
    expect(table).toContain('| `AUTHORIZATION_ORG_ADMIN_SCOPE` | `authorization.orgAdminScope` | `organisation` | `organisation` or `any` |')
  })

  it('when an env variable is mapped in config/custom-environment-variables.json, then the configuration table has its row (one mapped to no setting would be undocumented, and refused only once set)', () => {
    const mapped = (node: unknown): string[] => (typeof node === 'string' ? [node] : !isJson(node) ? [] : typeof node.__name === 'string' ? [node.__name] : Object.values(node).flatMap(mapped))

    const documented = configRows(renderConfigTable()).map((row) => row.env)

    expect(mapped(readJson('config', 'custom-environment-variables.json')).filter((env) => !documented.includes(env))).toEqual([])
  })

  it('when a setting is read as JSON or is a bounded number, then its Accepts cell says so', () => {
    const table = renderConfigTable()

    // A JSON array must not be documented as a comma-separated list: such a value fails to load.
    expect(table).toContain('| `ERASURE_EXTRA_TARGETS` | `deletion.extraTargets` | (empty) | JSON array |')
    expect(table).toContain('| `kafka_urls` | `events.brokers` | `127.0.0.1:19092` | comma-separated list |')
    expect(table).toContain('| `BATCH_BREAKER_FAILURE_RATE` | `batch.breaker.failureRate` | `0.5` | number above 0, ≤ 1 |')
  })

  it('when the error table is rendered, then every entry of the error table has a row with its status, code and exact message', () => {
    const table = renderErrorTable()
    const rows = table.split('\n').filter((line) => /^\| \d{3} \|/.test(line))

    expect(rows).toHaveLength(Object.keys(errorCodes).length)
    expect(table).toContain('| 400 | CLIENT_ERROR | `UOS_USRDLT0008` | `User is already deleted.` |')
    expect(table).toContain('| 413 | CLIENT_ERROR | `UOS_USRDLT0007` | `Maximum upload data size should be 65536` |')
    expect(table).toContain('| 403 | — | — | plain text `You do not have permission to perform this operation` |')
  })

  it('when a description holds angle brackets, then they are escaped so GitHub shows them instead of dropping them as tags', () => {
    const table = renderErrorTable()

    expect(table).toContain('f:&lt;provider&gt;:&lt;uuid&gt;')
  })

  it('when a file has lost its markers, then regenerating it fails instead of silently doing nothing', () => {
    expect(() => replaceSection('# no markers here\n', 'configuration', '| a |')).toThrow(/markers/)
  })

  it('when the markers are there, then only the text between them is replaced', () => {
    const { begin, end } = markers('configuration')
    const text = `before\n${begin}\nold table\n${end}\nafter\n`

    const replaced = replaceSection(text, 'configuration', 'new table')

    expect(replaced).toBe(`before\n${begin}\nnew table\n${end}\nafter\n`)
  })
})

describe('the prose of README.md that restates the error table', () => {
  it('when README describes the mass-deletion guard’s Retry-After, then it says what the error table (and so the API reference) says, word for word', () => {
    // The one sentence of the entry that says how Retry-After is chosen (mass-deletion-guard.ts).
    const rule = /`Retry-After` says [^.]*\./.exec(errorCodes.DELETION_LIMIT_REACHED.description)?.[0]
    const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8').replace(/\s+/g, ' ')

    expect(rule).toMatch(/rest of the current minute/)
    const quoted = rule?.replace(/\.$/, '') ?? ''
    // A boolean, not toContain: a failure names the sentence instead of printing the whole README.
    expect(readme.includes(quoted), `README.md should say, about the mass-deletion guard: ${quoted}`).toBe(true)
  })
})

describe('the per-dialect table of docs/integrating.md (what each error-table entry answers, by route shape)', () => {
  const HEADER = '| entry | `{"detail"}` (003, 000) | NestJS (001) | Nuxt (002): `data.message` |'
  // The table's columns after `entry`, in its order: the dialect, and where its error body holds the message.
  const columns: readonly { dialect: AnyDialect; message: (body: Json) => unknown }[] = [
    { dialect: drfDetail, message: (body) => body.detail },
    { dialect: nestError, message: (body) => body.message },
    { dialect: nuxtError, message: (body) => (body.data as Json).message },
  ]

  /** The table's rows, each as its cells (a `|` inside a cell is escaped). */
  function tableRows(): string[][] {
    const lines = readFileSync(join(projectRoot, 'docs', 'integrating.md'), 'utf8').split('\n')
    const start = lines.indexOf(HEADER)
    expect(start, `docs/integrating.md has no table headed ${HEADER}`).toBeGreaterThan(-1)
    const end = lines.findIndex((line, index) => index > start && !line.startsWith('|'))
    return lines.slice(start + 2, end).map((line) =>
      line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((cell) => cell.trim()),
    )
  }

  /** The rows that name an entry by its code (`UOS_…` in the entry cell), keyed by the entry. */
  function rowsByEntry(): Map<ErrorCode, string[]> {
    const byEntry = new Map<ErrorCode, string[]>()
    for (const [entry = '', ...cells] of tableRows()) {
      const err = /`(UOS_[A-Z0-9]+)`/.exec(entry)?.[1]
      if (err === undefined) continue
      const named = Object.entries(errorCodes)
        .filter(([, candidate]) => candidate.err === err)
        .map(([code]) => code as ErrorCode)
      expect(named, `${err} names one entry of the error table`).toHaveLength(1)
      byEntry.set(named[0] as ErrorCode, cells)
    }
    return byEntry
  }

  /** What the dialect sends for the entry, through the one error road: its status and the message its body carries. */
  async function answerOf(dialect: AnyDialect, code: ErrorCode): Promise<{ status: number; body: Json }> {
    const app = new Hono<AppEnv>()
    app.delete('/', (c) => {
      c.set('msgid', 'doc-check')
      return renderError(c, new ApiError(code), { defaultDialect: dialect, maxBodyBytes: 65536, retryAfterSeconds: 5 })
    })
    const response = await app.request('/', { method: 'DELETE' })
    return { status: response.status, body: (await response.json()) as Json }
  }

  /** Whether a route of the dialect answers the entry at all (a route that takes no Idempotency-Key never answers its errors). */
  const answers = (dialect: AnyDialect, code: ErrorCode) => operations.some((operation) => operation.dialect === dialect && operation.errors.includes(code))

  it('when an Idempotency-Key is refused on a REST route, then the table has a row for each of its entries (400, 422, 409)', () => {
    const named = [...rowsByEntry().keys()]

    expect(named).toEqual(expect.arrayContaining(['IDEMPOTENCY_KEY_INVALID', 'IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_IN_FLIGHT']))
  })

  it('when a row names an entry by its code, then each route shape’s cell gives the status and message that shape answers, or — where its routes never answer it', async () => {
    for (const [code, cells] of rowsByEntry()) {
      let previous: string | undefined
      for (const [index, { dialect, message }] of columns.entries()) {
        const cell = cells[index] ?? ''
        const where = `${code}, ${dialect.name}: ${cell}`
        if (!answers(dialect, code)) {
          expect(cell.startsWith('—'), where).toBe(true)
          continue
        }
        const { status, body } = await answerOf(dialect, code)
        const said = String(message(body))
        // "same" (or "<status> same message"): the message of the last column before it that answers the entry.
        const same = /^(?:(\d{3}) )?same\b/.exec(cell)
        if (same) {
          expect(said, where).toBe(previous)
          if (same[1] !== undefined) expect(same[1], where).toBe(String(status))
        } else {
          expect(cell.startsWith(`${status} \`${said}\``), `${where} should begin ${status} \`${said}\``).toBe(true)
        }
        previous = said
      }
    }
  })
})
