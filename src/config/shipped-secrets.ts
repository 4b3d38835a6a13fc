import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { configDir } from './project-root.js'

type Node = Record<string, unknown>
type Path = readonly string[]

const isObject = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Every property of the config schema flagged `"x-secret": true`, as a path. A secret joins the
 * production check by that flag alone: this file names none of them.
 */
export function secretPaths(schema: Node, path: Path = []): Path[] {
  if (schema['x-secret'] === true) return [path]
  const properties = schema.properties
  if (!isObject(properties)) return []
  return Object.entries(properties).flatMap(([name, child]) => (isObject(child) ? secretPaths(child, [...path, name]) : []))
}

function at(tree: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), tree)
}

/** The variable config/custom-environment-variables.json maps to a path (a plain name or {"__name"}), else the dotted path. */
function variableFor(envMapping: Node, path: Path): string {
  const entry = at(envMapping, path)
  if (typeof entry === 'string') return entry
  if (isObject(entry) && typeof entry.__name === 'string') return entry.__name
  return path.join('.')
}

/**
 * The names of the secrets whose value is still the one shipped in config/default.json: a key
 * anyone can read in the repository protects nothing. Empty when every secret is the deployment's own.
 */
export function secretsLeftAtShippedDefault(config: unknown, schema: Node, dir = configDir): string[] {
  const shipped = JSON.parse(readFileSync(join(dir, 'default.json'), 'utf8')) as Node
  const envMapping = JSON.parse(readFileSync(join(dir, 'custom-environment-variables.json'), 'utf8')) as Node
  return secretPaths(schema)
    .filter((path) => {
      const value = at(shipped, path)
      return value !== undefined && value !== '' && at(config, path) === value
    })
    .map((path) => variableFor(envMapping, path))
}
