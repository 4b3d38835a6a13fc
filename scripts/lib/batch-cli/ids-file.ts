import { readFileSync } from 'node:fs'
import { schemas } from './batch-api.js'
import { fail } from './terminal.js'

export interface IdsFile {
  path: string
  /** Distinct, in the order of the file. */
  ids: string[]
  /** lines[i]: the line ids[i] is first listed on. */
  lines: number[]
}

/** The ids of the file (one per line; blank lines and # comments skipped), each checked by the same schema as the API's userId. */
export function readIds(path: string): IdsFile {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return fail(`cannot read ${path}`)
  }
  const validUserId = schemas.validator('user-id')
  const firstLine = new Map<string, number>()
  const bad: number[] = []
  text.split(/\r?\n/).forEach((line, index) => {
    const id = line.trim()
    if (id === '' || id.startsWith('#')) return
    if (!validUserId(id)) bad.push(index + 1)
    else if (!firstLine.has(id)) firstLine.set(id, index + 1)
  })
  if (bad.length > 0) fail(`${path}: not a user id on line ${bad.slice(0, 20).join(', ')}${bad.length > 20 ? ` and ${bad.length - 20} more` : ''}`)
  if (firstLine.size === 0) fail(`${path}: no user ids`)
  return { path, ids: [...firstLine.keys()], lines: [...firstLine.values()] }
}
