import { type Client, errors, types } from 'cassandra-driver'

/**
 * A column a migration adds to a table that may hold it already: Sunbird's own table (its
 * migrations added it), a run cut short before its version record, another db:migrate run. Added
 * only where missing, by a plain `ALTER TABLE … ADD`: Cassandra accepts IF NOT EXISTS on an
 * ALTER's ADD only from 4.1 on, and Sunbird's deployments run 3.11.
 */
export interface ColumnAddition {
  readonly keyspace: string
  readonly table: string
  readonly column: string
  /** The CQL type, as Sunbird's table has it where Sunbird has the column. */
  readonly type: string
}

export const addColumn = (keyspace: string, table: string, column: string, type: string): ColumnAddition => ({ keyspace, table, column, type })

/** The statement that adds it, sent only once the schema tables say it is missing. */
export const columnAdditionCql = (addition: ColumnAddition): string => `ALTER TABLE ${addition.keyspace}.${addition.table} ADD ${addition.column} ${addition.type}`

/**
 * The column's CQL type as the schema tables of the node asked say, undefined where the table
 * lacks it (every node agrees after each schema change: migrate waits for that). Names unquoted in
 * CQL are stored in lower case.
 */
async function existingColumnType(client: Client, addition: ColumnAddition): Promise<string | undefined> {
  const found = await client.execute(
    'SELECT type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ? AND column_name = ?',
    [addition.keyspace.toLowerCase(), addition.table.toLowerCase(), addition.column.toLowerCase()],
    { prepare: true },
  )
  return found.rows[0]?.get('type') as string | undefined
}

/**
 * The column exists with another type than the migration adds: the service's statements would
 * then fail at run time, so migrate stops here. Its message names the table, the column and both
 * types, nothing stored in it.
 */
export class ColumnTypeMismatchError extends Error {
  override name = 'ColumnTypeMismatchError'
  constructor(addition: ColumnAddition, existing: string) {
    super(
      `column ${addition.column} of table ${addition.keyspace}.${addition.table} exists as ${existing}, but the migration adds it as ${addition.type}: ` +
        'change the column to that type (or drop it) and run db:migrate again',
    )
  }
}

interface ParsedCqlType {
  readonly name: string
  readonly parameters: readonly ParsedCqlType[]
}

/** A CQL type as a tree (`map<text, frozen<list<text>>>`), or undefined where it does not parse as one. */
function parseCqlType(type: string): ParsedCqlType | undefined {
  const tokens = type.match(/"(?:[^"]|"")*"|[A-Za-z0-9_.]+|[<>,]|\S/g) ?? []
  let at = 0
  const parse = (): ParsedCqlType | undefined => {
    const token = tokens[at++]
    if (token === undefined || /^[<>,]$/.test(token)) return undefined
    // Quoted names keep their case; unquoted ones are case-insensitive.
    const name = token.startsWith('"') ? token : token.toLowerCase()
    if (tokens[at] !== '<') return { name, parameters: [] }
    at++
    const parameters: ParsedCqlType[] = []
    for (;;) {
      const parameter = parse()
      if (!parameter) return undefined
      parameters.push(parameter)
      const next = tokens[at++]
      if (next === '>') return { name, parameters }
      if (next !== ',') return undefined
    }
  }
  const parsed = parse()
  return parsed && at === tokens.length ? parsed : undefined
}

/**
 * One spelling of a CQL type, for comparing the type Cassandra reports with the one a migration
 * adds: case and spaces do not count, `varchar` is `text`, a tuple is always frozen, and inside a
 * collection or a frozen type every type is frozen whether it says so or not. Only a frozen
 * column's own `frozen<…>` remains, as it makes another type.
 */
export function normaliseCqlType(type: string): string {
  const parsed = parseCqlType(type)
  if (!parsed) return type.replace(/\s+/g, '').toLowerCase()
  const spell = (node: ParsedCqlType, nested: boolean): string => {
    if (node.name === 'frozen' && node.parameters.length === 1) {
      const inner = spell(node.parameters[0] as ParsedCqlType, true)
      return nested ? inner : `frozen<${inner}>`
    }
    const name = node.name === 'varchar' ? 'text' : node.name
    const spelt = node.parameters.length ? `${name}<${node.parameters.map((parameter) => spell(parameter, true)).join(',')}>` : name
    return name === 'tuple' && !nested ? `frozen<${spelt}>` : spelt
  }
  return spell(parsed, false)
}

/** Whether the column is there with the type the migration adds; throws ColumnTypeMismatchError where it is there with another. */
async function hasColumn(client: Client, addition: ColumnAddition): Promise<boolean> {
  const existing = await existingColumnType(client, addition)
  if (existing === undefined) return false
  if (normaliseCqlType(existing) !== normaliseCqlType(addition.type)) throw new ColumnTypeMismatchError(addition, existing)
  return true
}

/** How migrate runs a schema change: its statement (schema agreement, repeats after a timeout), and the wait for every node to hold the schema. */
export interface SchemaChangeRunner {
  send(cql: string): Promise<void>
  awaitSchemaAgreement(): Promise<void>
}

/**
 * Adds the column unless the table has it; where it has it with another type, the migration stops
 * (ColumnTypeMismatchError) rather than leave the service a column it cannot use. Cassandra
 * refuses an ADD of a column the table has as invalid: when the column is there after such a
 * refusal (read once every node holds the schema), another run or an earlier copy of this
 * statement whose answer was lost added it in between, and the addition is done (if of that type).
 */
export async function addColumnIfMissing(client: Client, addition: ColumnAddition, runner: SchemaChangeRunner): Promise<void> {
  if (await hasColumn(client, addition)) return
  try {
    await runner.send(columnAdditionCql(addition))
  } catch (err) {
    if (!(err instanceof errors.ResponseError) || err.code !== types.responseErrorCodes.invalid) throw err
    await runner.awaitSchemaAgreement()
    if (!(await hasColumn(client, addition))) throw err
  }
}
