import { userIdFromSubject } from '../../../src/auth/user-token-verifier.js'
import { readBoundedText, whyUnreadable } from '../bounded-text-file.js'
import { schemas } from './batch-api.js'
import { fail } from './terminal.js'

export interface IdsFile {
  path: string
  /**
   * One per user, in the order of the file, as first written: a user listed again, even in the other
   * form (`<id>` and `f:<provider>:<id>`, which the service reads as the same user), is left out.
   */
  ids: string[]
  /** lines[i]: the line ids[i] is first listed on. */
  lines: number[]
}

/**
 * The largest ids file read: some 120 000 ids of the longest form user-id allows, over 400 000 plain
 * UUIDs, each job of 1000 followed to its end in one run. Past it the file is refused rather than
 * read to its end, which an endless one (/dev/zero) never has.
 */
export const MAX_IDS_FILE_BYTES = 16 * 1024 * 1024

/**
 * The ids of the file (one per line; blank lines and # comments skipped), each checked by the same
 * schema as the API's userId, and told apart as the service tells users apart (its userIdFromSubject).
 */
export function readIds(path: string): IdsFile {
  let text: string | 'too large'
  try {
    text = readBoundedText(path, MAX_IDS_FILE_BYTES)
  } catch (err) {
    // Why, as the operator can act on it: a mistyped path and a folder given for its file read alike otherwise.
    return fail(`cannot read ${path}: ${whyUnreadable(err)}`)
  }
  if (text === 'too large') return fail(`${path} is larger than 16 MiB, more than one run reads (over 400 000 ids): split it into files run one after another`)
  const validUserId = schemas.validator('user-id')
  // By the user the service will delete: the id as first written, and its line.
  const first = new Map<string, { id: string; line: number }>()
  const bad: number[] = []
  text.split(/\r?\n/).forEach((line, index) => {
    const id = line.trim()
    if (id === '' || id.startsWith('#')) return
    if (!validUserId(id)) bad.push(index + 1)
    else {
      // A user twice in one file would be deleted by one job and fail in the next (UOS_USRDLT0008).
      const user = userIdFromSubject(id)
      if (!first.has(user)) first.set(user, { id, line: index + 1 })
    }
  })
  if (bad.length > 0) fail(`${path}: not a user id on line ${bad.slice(0, 20).join(', ')}${bad.length > 20 ? ` and ${bad.length - 20} more` : ''}`)
  if (first.size === 0) fail(`${path}: no user ids`)
  const kept = [...first.values()]
  return { path, ids: kept.map((entry) => entry.id), lines: kept.map((entry) => entry.line) }
}
