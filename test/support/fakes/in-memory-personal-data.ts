import { DependencyUnavailableError } from '../../../src/deletion/errors.js'
import type {
  AdderNamedPage,
  CachedUser,
  CodeTable,
  ExtraTarget,
  JsonRow,
  JsonValue,
  PersonalDataTables,
  PersonalTable,
  SearchUserFlags,
  UserCache,
  UserSearchIndex,
} from '../../../src/deletion/ports.js'
import { NOTES_READ_PAGING } from '../../../src/search/opensearch-user-index.js'
import { PERSONAL_TABLE_USER_COLUMN as USER_COLUMN } from '../personal-table-columns.js'

const CONTACT_COLUMNS = ['email', 'phone', 'prevusedemail', 'prevusedphone', 'recoveryemail', 'recoveryphone']

/**
 * The side tables in memory. Contacts come from the user store's profile (as the adapter reads
 * sunbird.user), so a scrubbed profile has none, as in Cassandra.
 */
export class InMemoryPersonalTables implements PersonalDataTables {
  readonly rows = new Map<string, JsonRow[]>()
  /** otp rows as `${type}|${key}`, rate_limit rows as `${key}|${unit}`. */
  readonly codes: Record<CodeTable, Set<string>> = { otp: new Set(), rate_limit: new Set() }

  constructor(private readonly profileOf: (userId: string) => Record<string, string>) {}

  /** The columns of extra tables declared with declareTable (a table seeded by addRow alone has no declared columns: any name is taken). */
  private readonly declared = new Map<string, Set<string>>()

  /** An extra table and its columns, as CREATE TABLE makes it (a column named that it lacks is refused by inspectExtra, as Cassandra refuses the read). */
  declareTable(table: string, columns: readonly string[]): void {
    this.declared.set(table, new Set(columns))
    if (!this.rows.has(table)) this.rows.set(table, [])
  }

  addRow(table: string, row: JsonRow): void {
    this.rows.set(table, [...(this.rows.get(table) ?? []), row])
  }

  addCode(table: CodeTable, first: string, second: string): void {
    this.codes[table].add(`${first}|${second}`)
  }

  async readContacts(userId: string): Promise<string[]> {
    const profile = this.profileOf(userId)
    return [...new Set(CONTACT_COLUMNS.map((column) => profile[column]).filter((value): value is string => typeof value === 'string' && value !== ''))]
  }

  private matchingCodes(table: CodeTable, values: readonly string[]): string[] {
    return [...this.codes[table]].filter((entry) => {
      const [first, second] = entry.split('|') as [string, string]
      return values.includes(table === 'otp' ? second : first)
    })
  }

  async countCodes(table: CodeTable, values: readonly string[]): Promise<number> {
    return this.matchingCodes(table, values).length
  }

  async deleteCodes(table: CodeTable, values: readonly string[]): Promise<number> {
    const found = this.matchingCodes(table, values)
    for (const entry of found) this.codes[table].delete(entry)
    return found.length
  }

  async readRows(table: PersonalTable, userId: string): Promise<JsonRow[]> {
    return (this.rows.get(table) ?? []).filter((row) => row[USER_COLUMN[table]] === userId).map((row) => ({ ...row }))
  }

  async deleteRows(table: PersonalTable, userId: string): Promise<number> {
    const all = this.rows.get(table) ?? []
    const kept = all.filter((row) => row[USER_COLUMN[table]] !== userId)
    this.rows.set(table, kept)
    return all.length - kept.length
  }

  async blankShadowUsers(userId: string): Promise<number> {
    const rows = (this.rows.get('shadow_user') ?? []).filter((row) => row.userid === userId)
    for (const row of rows) Object.assign(row, { name: null, email: null, phone: null })
    return rows.length
  }

  private extraRows(target: ExtraTarget, userId: string): JsonRow[] | undefined {
    const rows = this.rows.get(`${target.keyspace}.${target.table}`)
    return rows?.filter((row) => row[target.userColumn] === userId)
  }

  async countExtra(target: ExtraTarget, userId: string): Promise<number | undefined> {
    return this.extraRows(target, userId)?.length
  }

  async inspectExtra(target: ExtraTarget, userId: string): Promise<{ rows: number; holdingValues: number } | 'table not found' | 'column not found'> {
    const blanked = target.action === 'blank' ? (target.columns ?? []) : []
    const columns = this.declared.get(`${target.keyspace}.${target.table}`)
    const found = this.extraRows(target, userId)
    if (!found) return 'table not found'
    if (columns && ![target.userColumn, ...blanked].every((column) => columns.has(column))) return 'column not found'
    const holdsValue = (value: unknown) => value !== null && value !== undefined && value !== ''
    return { rows: found.length, holdingValues: found.filter((row) => blanked.some((column) => holdsValue(row[column]))).length }
  }

  async eraseExtra(target: ExtraTarget, userId: string): Promise<number | undefined> {
    const found = this.extraRows(target, userId)
    if (!found) return undefined
    const name = `${target.keyspace}.${target.table}`
    if (target.action === 'delete')
      this.rows.set(
        name,
        (this.rows.get(name) ?? []).filter((row) => !found.includes(row)),
      )
    else for (const row of found) for (const column of target.columns ?? []) row[column] = null
    return found.length
  }
}

/** A store that can be switched off, failing as its adapter does when the server does not answer. */
abstract class Switchable {
  down = false
  constructor(private readonly dependency: 'search' | 'redis') {}
  protected check(): void {
    if (this.down) throw new DependencyUnavailableError(this.dependency)
  }
}

/**
 * The search engine in memory: user documents by id, notes by note id. `down` fails every call as
 * an engine that does not answer (or answers with an error) does; `writesRefused` answers reads but
 * fails every write the adapter would send, as an engine refusing writes does (a security plugin's
 * 403, a write block): a write that follows a read (replace, flag, notes) only once the read found
 * something to write. Reading notes refuses more than `maxNotesRead` of one user, as the adapter's
 * paging does (it has no pages to turn: only the bound shows).
 */
export class InMemoryUserSearchIndex extends Switchable implements UserSearchIndex {
  readonly users = new Map<string, JsonRow>()
  readonly notes = new Map<string, JsonRow>()
  writesRefused = false
  maxNotesRead = NOTES_READ_PAGING.pageSize * NOTES_READ_PAGING.maxPages

  constructor() {
    super('search')
  }

  private checkWrite(): void {
    if (this.writesRefused) throw new DependencyUnavailableError('search')
  }

  async readUser(userId: string): Promise<JsonRow | undefined> {
    this.check()
    const document = this.users.get(userId)
    return document && structuredClone(document)
  }

  async replaceUser(userId: string, document: JsonRow): Promise<'replaced' | 'absent'> {
    this.check()
    if (!this.users.has(userId)) return 'absent'
    this.checkWrite()
    this.users.set(userId, structuredClone(document))
    return 'replaced'
  }

  async flagUserDeleted(userId: string): Promise<boolean> {
    this.check()
    this.checkWrite()
    const document = this.users.get(userId)
    if (!document) return false
    Object.assign(document, { status: 2, isDeleted: true, isBlocked: true })
    return true
  }

  async restoreUserFlags(userId: string, prior: SearchUserFlags): Promise<boolean> {
    this.check()
    this.checkWrite()
    const document = this.users.get(userId)
    if (!document) return false
    // As the adapter: a flag the document did not have (null) is removed, not set to null.
    for (const [name, value] of Object.entries(prior)) {
      if (value === null) delete document[name]
      else document[name] = value
    }
    return true
  }

  async deleteUser(userId: string): Promise<number> {
    this.check()
    this.checkWrite()
    return this.users.delete(userId) ? 1 : 0
  }

  async readNotes(userId: string): Promise<JsonRow[]> {
    this.check()
    const notes = [...this.notes.values()].filter((note) => note.userId === userId)
    if (notes.length > this.maxNotesRead) throw new DependencyUnavailableError('search')
    return notes.map((note) => structuredClone(note))
  }

  async deleteNotes(userId: string): Promise<number> {
    this.check()
    const ids = [...this.notes].filter(([, note]) => note.userId === userId).map(([id]) => id)
    if (ids.length > 0) this.checkWrite()
    for (const id of ids) this.notes.delete(id)
    return ids.length
  }

  /** As the adapter: documents in id order, matched when any membership has a name and one was added by `adderId`; `next` after a full page. */
  async findAdderNamed(adderId: string, pageSize: number, after?: string): Promise<AdderNamedPage> {
    this.check()
    const matching = [...this.users.keys()]
      .sort()
      .filter((id) => after === undefined || id > after)
      .filter((id) => {
        const memberships = membershipsIn(this.users.get(id))
        return memberships.some((m) => m.addedBy === adderId) && memberships.some((m) => m.addedByName !== undefined)
      })
      .slice(0, pageSize)
    const documents = matching
      .map((userId) => ({
        userId,
        organisationIds: membershipsIn(this.users.get(userId))
          .filter((m) => m.addedBy === adderId && m.addedByName !== undefined)
          .map((m) => String(m.organisationId)),
      }))
      .filter((document) => document.organisationIds.length > 0)
    return matching.length < pageSize ? { documents } : { documents, next: matching.at(-1) as string }
  }

  async eraseAdderName(userId: string, adderId: string): Promise<boolean> {
    this.check()
    const named = membershipsIn(this.users.get(userId)).filter((m) => m.addedBy === adderId && m.addedByName !== undefined)
    if (named.length === 0) return false
    this.checkWrite()
    for (const membership of named) delete membership.addedByName
    return true
  }

  /** How often refreshUsers was called: a fake's writes are visible at once, so only the call shows. */
  refreshes = 0

  async refreshUsers(): Promise<void> {
    this.check()
    this.refreshes++
  }
}

/** A document's memberships (organisations), as objects. */
function membershipsIn(document: JsonRow | undefined): Record<string, JsonValue>[] {
  const organisations = document?.organisations
  return (Array.isArray(organisations) ? organisations : []).filter((m): m is Record<string, JsonValue> => typeof m === 'object' && m !== null && !Array.isArray(m))
}

/** The user cache in memory: hashes by user id. */
export class InMemoryUserCache extends Switchable implements UserCache {
  readonly hashes = new Map<string, Record<string, string>>()

  constructor() {
    super('redis')
  }

  /** Keys of another type than a hash (written there by something else), with their value as held. */
  readonly others = new Map<string, { type: string; value: JsonValue }>()

  async readUser(userId: string): Promise<CachedUser | undefined> {
    this.check()
    const hash = this.hashes.get(userId)
    if (hash) return { kind: 'hash', fields: { ...hash } }
    const other = this.others.get(userId)
    return other && { kind: 'other', ...other }
  }

  async hasUser(userId: string): Promise<boolean> {
    this.check()
    return this.hashes.has(userId) || this.others.has(userId)
  }

  async deleteUser(userId: string): Promise<number> {
    this.check()
    return this.hashes.delete(userId) || this.others.delete(userId) ? 1 : 0
  }
}
