import type { Client } from 'cassandra-driver'
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
  constructor(
    private readonly client: Client,
    private readonly keyspace: string,
  ) {}

  private execute(cql: string, params: unknown[]) {
    return runCassandra(this.client, (client) => client.execute(cql, params, IDEMPOTENT))
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
    return (await this.execute(`SELECT * FROM ${this.keyspace}.${table} WHERE ${userColumn} = ?`, [userId])).rows.map(toJsonRow)
  }

  private async rowKeys(table: PersonalTable, userId: string): Promise<unknown[][]> {
    const { userColumn, key } = TABLES[table]
    const rows = (await this.execute(`SELECT ${key.join(', ')} FROM ${this.keyspace}.${table} WHERE ${userColumn} = ?`, [userId])).rows
    return rows.map((row) => key.map((column) => row.get(column)))
  }

  async deleteRows(table: PersonalTable, userId: string): Promise<number> {
    const { userColumn, key } = TABLES[table]
    if (key.length === 1 && key[0] === userColumn) {
      // Keyed by the user: one partition delete, after counting what it held.
      const count = (await this.execute(`SELECT ${userColumn} FROM ${this.keyspace}.${table} WHERE ${userColumn} = ?`, [userId])).rowLength
      if (count > 0) await this.execute(`DELETE FROM ${this.keyspace}.${table} WHERE ${userColumn} = ?`, [userId])
      return count
    }
    const keys = await this.rowKeys(table, userId)
    const where = key.map((column) => `${column} = ?`).join(' AND ')
    for (const values of keys) await this.execute(`DELETE FROM ${this.keyspace}.${table} WHERE ${where}`, values)
    return keys.length
  }

  async blankShadowUsers(userId: string): Promise<number> {
    const keys = await this.rowKeys('shadow_user', userId)
    for (const [channel, userextid] of keys) {
      await this.execute(`UPDATE ${this.keyspace}.shadow_user SET name = null, email = null, phone = null WHERE channel = ? AND userextid = ?`, [channel, userextid])
    }
    return keys.length
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

  private async extraKeys(target: ExtraTarget, userId: string): Promise<{ key: string[]; rows: unknown[][] } | undefined> {
    const key = await this.primaryKeyOf(target)
    if (!key) return undefined
    const table = `${quoted(target.keyspace)}.${quoted(target.table)}`
    // ALLOW FILTERING: the user column may be any column; an index on it (or it being the partition key) keeps this cheap.
    const cql = `SELECT ${key.map(quoted).join(', ')} FROM ${table} WHERE ${quoted(target.userColumn)} = ? ALLOW FILTERING`
    const rows = (await this.execute(cql, [userId])).rows.map((row) => key.map((column) => row.get(column)))
    return { key, rows }
  }

  async countExtra(target: ExtraTarget, userId: string): Promise<number | undefined> {
    return (await this.extraKeys(target, userId))?.rows.length
  }

  async eraseExtra(target: ExtraTarget, userId: string): Promise<number | undefined> {
    const found = await this.extraKeys(target, userId)
    if (!found) return undefined
    const table = `${quoted(target.keyspace)}.${quoted(target.table)}`
    const where = found.key.map((column) => `${quoted(column)} = ?`).join(' AND ')
    const cql =
      target.action === 'delete' ? `DELETE FROM ${table} WHERE ${where}` : `UPDATE ${table} SET ${(target.columns ?? []).map((column) => `${quoted(column)} = null`).join(', ')} WHERE ${where}`
    if (target.action === 'blank' && (target.columns ?? []).length === 0) return found.rows.length
    for (const values of found.rows) await this.execute(cql, values)
    return found.rows.length
  }
}
