import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { configDir, projectRoot, schemasDir } from '../../src/config/project-root.js'
import { type ErrorCodeEntry, errorCodes } from '../../src/http/error-codes.js'

type Json = Record<string, unknown>

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Json
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value)

/** The tables in docs/ that are generated, each between a pair of markers in its file. */
export const generatedSections = [
  { file: join(projectRoot, 'docs', 'operating.md'), name: 'configuration', render: renderConfigTable },
  { file: join(projectRoot, 'docs', 'integrating.md'), name: 'error-codes', render: renderErrorTable },
] as const

export const markers = (name: string) => ({
  begin: `<!-- BEGIN GENERATED ${name}: npm run docs rewrites this table, edit its sources instead -->`,
  end: `<!-- END GENERATED ${name} -->`,
})

/** A doc file's text with every generated section it holds rewritten from the sources. */
export function renderDocFile(file: string, text = readFileSync(file, 'utf8')): string {
  return generatedSections.filter((section) => section.file === file).reduce((current, section) => replaceSection(current, section.name, section.render()), text)
}

/** Replaces what lies between the section's markers; a file without both markers is an error, not a silent no-op. */
export function replaceSection(text: string, name: string, content: string): string {
  const { begin, end } = markers(name)
  const start = text.indexOf(begin)
  const stop = text.indexOf(end, start)
  if (start < 0 || stop < 0) throw new Error(`the markers of the generated section "${name}" are missing:\n${begin}\n${end}`)
  return `${text.slice(0, start + begin.length)}\n${content}\n${text.slice(stop)}`
}

/** Markdown table cell: `|` always escaped, `<` and `>` escaped outside code spans (GitHub drops unknown tags). */
function cell(text: string): string {
  return text
    .split('`')
    .map((part, index) => (index % 2 === 1 ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('`')
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ')
}

const code = (value: string) => `\`${value}\``

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

// ---- configuration (schemas/config.json, config/custom-environment-variables.json, config/*.json)

interface ConfigLeaf {
  path: string[]
  schema: Json
}

/** The settings one can set: schema properties down to values (a nested object with no env name of its own is walked into). */
function configLeaves(schema: Json, envMap: unknown, path: string[] = []): ConfigLeaf[] {
  const properties = isObject(schema.properties) ? schema.properties : undefined
  // An object set whole by one variable (CASSANDRA_REPLICATION, as JSON) is one setting.
  if (!properties || envName(envMap) !== undefined) return [{ path, schema }]
  return Object.entries(properties).flatMap(([key, inner]) => configLeaves(inner as Json, at(envMap, [key]), [...path, key]))
}

function at(value: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), value)
}

function envName(mapping: unknown): string | undefined {
  if (typeof mapping === 'string') return mapping
  if (isObject(mapping) && typeof mapping.__name === 'string') return mapping.__name
  return undefined
}

function showValue(value: unknown): string {
  if (value === undefined) return '—'
  if (value === '' || (Array.isArray(value) && value.length === 0)) return '(empty)'
  if (Array.isArray(value)) return code(value.join(','))
  if (isObject(value)) return code(JSON.stringify(value))
  return code(String(value))
}

/** Whether the env variable is read as JSON (`__format: json`) rather than as text. */
function readAsJson(mapping: unknown): boolean {
  return isObject(mapping) && mapping.__format === 'json'
}

function accepts(schema: Json, asJson: boolean): string {
  if (Array.isArray(schema.enum)) {
    const options = schema.enum.map((option) => code(String(option)))
    return options.length === 2 ? options.join(' or ') : `one of ${options.join(', ')}`
  }
  const range = (unit: string) => {
    const { minimum: min, maximum: max, exclusiveMinimum: above, exclusiveMaximum: below } = schema as Record<string, number | undefined>
    if (min !== undefined && max !== undefined) return `${unit} ${min}–${max}`
    const bounds = [min !== undefined && `≥ ${min}`, above !== undefined && `above ${above}`, max !== undefined && `≤ ${max}`, below !== undefined && `below ${below}`].filter(Boolean)
    return [unit, bounds.join(', ')].filter(Boolean).join(' ')
  }
  switch (schema.type) {
    case 'integer':
      return range('integer')
    case 'number':
      return range('number')
    case 'boolean':
      return '`true` or `false`'
    case 'array':
      // A list the loader splits at commas, unless the env variable is read as JSON.
      return asJson ? 'JSON array' : 'comma-separated list'
    case 'object':
      return 'JSON object'
    case 'string':
      if (typeof schema.pattern === 'string') return `text matching ${code(schema.pattern)}`
      if (schema.minLength === 1) return 'non-empty text'
      return typeof schema.minLength === 'number' ? `text, at least ${schema.minLength} characters` : 'text'
    default:
      return '—'
  }
}

/**
 * One row per setting: its env variable, its key in config/*.json, the default of
 * config/default.json, else the schema's `default` for a setting whose default is applied in code
 * (and the production one where config/production.json differs), what it
 * accepts and what it does. A setting with no description in schemas/config.json is an error: every
 * setting is documented.
 */
export function renderConfigTable(): string {
  const schema = readJson(join(schemasDir, 'config.json'))
  const envMap = readJson(join(configDir, 'custom-environment-variables.json'))
  const defaults = readJson(join(configDir, 'default.json'))
  const production = readJson(join(configDir, 'production.json'))
  const rows = configLeaves(schema, envMap).map(({ path, schema: leaf }) => {
    const key = path.join('.')
    if (typeof leaf.description !== 'string' || leaf.description.trim() === '') {
      throw new Error(`schemas/config.json: ${key} has no description; every setting is documented from it`)
    }
    const env = envName(at(envMap, path))
    const fallback = showValue(at(defaults, path) ?? leaf.default)
    const inProduction = at(production, path)
    const defaultCell = inProduction === undefined ? fallback : `${fallback}; with \`NODE_ENV=production\`: ${showValue(inProduction)}`
    return [env ? code(env) : '—', code(key), cell(defaultCell), cell(accepts(leaf, readAsJson(at(envMap, path)))), cell(leaf.description)]
  })
  return table(['Env variable', 'Key in config/', 'Default', 'Accepts', 'What'], rows)
}

// ---- error codes (src/http/error-codes.ts)

/**
 * Sunbird answers its 403 in plain text, outside the envelope, so it has no responseCode or err on
 * the wire (src/http/openapi.ts documents it the same way).
 */
function isPlainText(entry: ErrorCodeEntry): boolean {
  return entry.body === 'plain-text'
}

/**
 * One row per answer of the error table, in its order, read through the fields every entry has
 * (others an entry may carry are not needed here). `{limit}` shows the default body limit.
 */
export function renderErrorTable(): string {
  const defaults = readJson(join(configDir, 'default.json'))
  const limit = String(at(defaults, ['http', 'maxBodyBytes']))
  const entries: ErrorCodeEntry[] = Object.values(errorCodes)
  const rows = entries.map((entry) => {
    const errmsg = code(entry.errmsg.replace('{limit}', limit))
    return isPlainText(entry)
      ? [String(entry.status), '—', '—', cell(`plain text ${errmsg}`), cell(entry.description)]
      : [String(entry.status), entry.responseCode, code(entry.err), cell(errmsg), cell(entry.description)]
  })
  const withLimit = entries.filter((entry) => entry.errmsg.includes('{limit}')).map((entry) => code(entry.err))
  const note = withLimit.length > 0 ? `\n\nThe number in the message of ${withLimit.join(', ')} is the configured body limit (\`HTTP_MAX_BODY_BYTES\`); the table shows the default.` : ''
  return `${table(['HTTP', 'responseCode', 'err', 'errmsg', 'When'], rows)}${note}`
}
