import { type Client, errors, types } from 'cassandra-driver'
import type { CodeTable, ExtraTarget, JsonRow, PersonalDataTables, PersonalTable } from '../deletion/ports.js'
import { IDEMPOTENT, runCassandra } from './cassandra-call.js'
import { toJsonRow } from './json-row.js'

/** How each table finds a user's rows: its user column, and the columns of its primary key (to delete row by row when found by an index). */
const TABLES: Readonly<Record<PersonalTable, { userColumn: string; key: readonly string[] }>> = {
  user_declarations: { userColumn: 'userid', key: ['userid'] },
  user_consent: { userColumn: 'user_id', key: ['user_id'] },
  user_notes: { userColumn: 'userid', key: ['id'] },
  shadow_user: { userColumn: 'userid', key: ['channel', 'userextid'] },
  user_feed: { userColumn: 'userid', key: ['id'] },
  user_cert: { userColumn: 'userid', key: ['id'] },
  address: { userColumn: 'userid', key: ['id'] },
}

/** The contact columns of sunbird.user that otp and rate_limit may be keyed by. */
const CONTACT_COLUMNS = ['email', 'phone', 'prevusedemail', 'prevusedphone', 'recoveryemail', 'recoveryphone'] as const

/** Sunbird's otp types: a code goes to an email or a phone. */
const OTP_TYPES = ['email', 'phone'] as const

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/** A blanked column read back: null (what the erasure writes) and an empty string hold nothing. */
const holdsValue = (value: unknown) => value !== null && value !== undefined && value !== ''

/** Quotes a configured identifier for CQL (validated by the config schema; checked again here). */
function quoted(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`not a CQL identifier: ${name}`)
  return `"${name}"`
}

/**
 * The user-keyed tables of the sunbird keyspace beyond Sunbird's five, the short-lived code tables
 * keyed by plain email / phone, and the extra targets of other keyspaces. Tables found by a
 * secondary index are erased row by row by their primary key.
 */
export class CassandraPersonalTables implements PersonalDataTables {
  /**
   * `pageRows`: rows per page of a read (the driver's fetchSize); unset, the driver's own 5,000.
   * Tests set a small one to read many pages from a few rows.
   */
  constructor(
    private readonly client: Client,
    private readonly keyspace: string,
    private readonly options: { pageRows?: number } = {},
  ) {}

  private execute(cql: string, params: unknown[]) {
    return runCassandra(this.client, (client) => client.execute(cql, params, IDEMPOTENT))
  }

  /**
   * Every row a read finds, page after page (the driver's execute returns one page, 5,000 rows): a
   * person with more rows in a table than a page holds is erased whole, never up to the page's end.
   * Each page is handed over before the next is read, so rows deleted meanwhile cost nothing to memory.
   */
  private async *pages(cql: string, params: unknown[]): AsyncGenerator<types.Row[]> {
    let pageState: string | undefined
    do {
      const options = { ...IDEMPOTENT, ...(this.options.pageRows !== undefined && { fetchSize: this.options.pageRows }), ...(pageState !== undefined && { pageState }) }
      const result = await runCassandra(this.client, (client) => client.execute(cql, params, options))
      yield result.rows
      pageState = result.pageState ?? undefined
    } while (pageState !== undefined)
  }

  /** How many rows a read finds, over every page. */
  private async countAll(cql: string, params: unknown[]): Promise<number> {
    let count = 0
    for await (const rows of this.pages(cql, params)) count += rows.length
    return count
  }

  async readContacts(userId: string): Promise<string[]> {
    const row = (await this.execute(`SELECT ${CONTACT_COLUMNS.join(', ')} FROM ${this.keyspace}.user WHERE id = ?`, [userId])).first()
    if (!row) return []
    const values = CONTACT_COLUMNS.map((column) => row.get(column) as string | null).filter((value): value is string => typeof value === 'string' && value !== '')
    return [...new Set(values)]
  }

  /**
   * The code rows keyed by any of the values, in one read per table: otp's partition is the type
   * and the value a clustering key, so both types' rows come from two partitions; rate_limit's
   * partition is the value. (One point read per value and type was 18 statements in sequence.)
   */
  private async codeKeys(table: CodeTable, values: readonly string[]): Promise<unknown[][]> {
    if (table === 'otp') {
      const rows = (await this.execute(`SELECT type, key FROM ${this.keyspace}.otp WHERE type IN ? AND key IN ?`, [OTP_TYPES, values])).rows
      return rows.map((row) => [row.get('type'), row.get('key')])
    }
    const rows = (await this.execute(`SELECT key, unit FROM ${this.keyspace}.rate_limit WHERE key IN ?`, [values])).rows
    return rows.map((row) => [row.get('key'), row.get('unit')])
  }

  async countCodes(table: CodeTable, values: readonly string[]): Promise<number> {
    return (await this.codeKeys(table, values)).length
  }

  async deleteCodes(table: CodeTable, values: readonly string[]): Promise<number> {
    const keys = await this.codeKeys(table, values)
    const cql = table === 'otp' ? `DELETE FROM ${this.keyspace}.otp WHERE type = ? AND key = ?` : `DELETE FROM ${this.keyspace}.rate_limit WHERE key = ? AND unit = ?`
    for (const key of keys) await this.execute(cql, key)
    return keys.length
  }

  async readRows(table: PersonalTable, userId: string): Promise<JsonRow[]> {
    const { userColumn } = TABLES[table]
    const found: JsonRow[] = []
    for await (const rows of this.pages(`SELECT * FROM ${this.keyspace}.${table} WHERE ${userColumn} = ?`, [userId])) found.push(...rows.map(toJsonRow))
    return found
  }

  /** Writes `cql` once per row `read` finds, by the row's primary key (`key`), a page at a time; returns how many. */
  private async writeEachRow(read: string, userId: string, key: readonly string[], cql: string): Promise<number> {
    let count = 0
    for await (const rows of this.pages(read, [userId])) {
      for (const row of rows)
        await this.execute(
          cql,
          key.map((column) => row.get(column)),
        )
      count += rows.length
    }
    return count
  }

  /** writeEachRow over the user's rows of one of the sunbird keyspace's side tables. */
  private eachRowKey(table: PersonalTable, userId: string, cql: string): Promise<number> {
    const { userColumn, key } = TABLES[table]
    return this.writeEachRow(`SELECT ${key.join(', ')} FROM ${this.keyspace}.${table} WHERE ${userColumn} = ?`, userId, key, cql)
  }

  async deleteRows(table: PersonalTable, userId: string): Promise<number> {
    const { userColumn, key } = TABLES[table]
    if (key.length === 1 && key[0] === userColumn) {
      // Keyed by the user: one partition delete, after counting what it held.
      const count = await this.countAll(`SELECT ${userColumn} FROM ${this.keyspace}.${table} WHERE ${userColumn} = ?`, [userId])
      if (count > 0) await this.execute(`DELETE FROM ${this.keyspace}.${table} WHERE ${userColumn} = ?`, [userId])
      return count
    }
    const where = key.map((column) => `${column} = ?`).join(' AND ')
    return this.eachRowKey(table, userId, `DELETE FROM ${this.keyspace}.${table} WHERE ${where}`)
  }

  async blankShadowUsers(userId: string): Promise<number> {
    return this.eachRowKey('shadow_user', userId, `UPDATE ${this.keyspace}.shadow_user SET name = null, email = null, phone = null WHERE channel = ? AND userextid = ?`)
  }

  /** The primary key columns of an extra target's table, or undefined when the table does not exist. */
  private async primaryKeyOf(target: ExtraTarget): Promise<string[] | undefined> {
    const rows = (await this.execute('SELECT column_name, kind, position FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?', [target.keyspace, target.table])).rows
    if (rows.length === 0) return undefined
    const rank = (kind: string) => (kind === 'partition_key' ? 0 : 1)
    return rows
      .filter((row) => row.get('kind') === 'partition_key' || row.get('kind') === 'clustering')
      .sort((a, b) => rank(a.get('kind') as string) - rank(b.get('kind') as string) || (a.get('position') as number) - (b.get('position') as number))
      .map((row) => row.get('column_name') as string)
  }

  /** The read of an extra target's rows of the user, by their primary key, or undefined when the table does not exist. */
  /** The read of the user's rows of an extra target: their primary key, and `also` (columns read back); undefined when the table does not exist. */
  private async extraRead(target: ExtraTarget, also: readonly string[] = []): Promise<{ key: string[]; cql: string } | undefined> {
    const key = await this.primaryKeyOf(target)
    if (!key) return undefined
    const table = `${quoted(target.keyspace)}.${quoted(target.table)}`
    const columns = [...new Set([...key, ...also])]
    // ALLOW FILTERING: the user column may be any column; an index on it (or it being the partition key) keeps this cheap.
    return { key, cql: `SELECT ${columns.map(quoted).join(', ')} FROM ${table} WHERE ${quoted(target.userColumn)} = ? ALLOW FILTERING` }
  }

  async countExtra(target: ExtraTarget, userId: string): Promise<number | undefined> {
    const read = await this.extraRead(target)
    return read && this.countAll(read.cql, [userId])
  }

  async inspectExtra(target: ExtraTarget, userId: string): Promise<{ rows: number; holdingValues: number } | 'table not found' | 'column not found'> {
    const blanked = target.action === 'blank' ? (target.columns ?? []) : []
    const read = await this.extraRead(target, blanked)
    if (!read) return 'table not found'
    let rows = 0
    let holdingValues = 0
    try {
      for await (const page of this.pages(read.cql, [userId])) {
        for (const row of page) {
          rows++
          // row[column], not row.get(column): the driver sets each column on the row, one named `get` too.
          if (blanked.some((column) => holdsValue((row as unknown as Record<string, unknown>)[column]))) holdingValues++
        }
      }
    } catch (err) {
      // Refused as invalid: a column the target names is not in the table (the table itself is).
      if (err instanceof errors.ResponseError && err.code === types.responseErrorCodes.invalid) return 'column not found'
      throw err
    }
    return { rows, holdingValues }
  }

  async eraseExtra(target: ExtraTarget, userId: string): Promise<number | undefined> {
    const read = await this.extraRead(target)
    if (!read) return undefined
    if (target.action === 'blank' && (target.columns ?? []).length === 0) return this.countAll(read.cql, [userId])
    const table = `${quoted(target.keyspace)}.${quoted(target.table)}`
    const where = read.key.map((column) => `${quoted(column)} = ?`).join(' AND ')
    const cql =
      target.action === 'delete' ? `DELETE FROM ${table} WHERE ${where}` : `UPDATE ${table} SET ${(target.columns ?? []).map((column) => `${quoted(column)} = null`).join(', ')} WHERE ${where}`
    return this.writeEachRow(read.cql, userId, read.key, cql)
  }
}
