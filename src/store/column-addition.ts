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

/** The statement that adds it, sent only once hasColumn says it is missing. */
export const columnAdditionCql = (addition: ColumnAddition): string => `ALTER TABLE ${addition.keyspace}.${addition.table} ADD ${addition.column} ${addition.type}`

/**
 * Whether the table has the column, as the schema tables of the node asked say (every node agrees
 * after each schema change: migrate waits for that). Names unquoted in CQL are stored in lower case.
 */
export async function hasColumn(client: Client, addition: ColumnAddition): Promise<boolean> {
  const found = await client.execute(
    'SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ? AND column_name = ?',
    [addition.keyspace.toLowerCase(), addition.table.toLowerCase(), addition.column.toLowerCase()],
    { prepare: true },
  )
  return found.rowLength > 0
}

/** How migrate runs a schema change: its statement (schema agreement, repeats after a timeout), and the wait for every node to hold the schema. */
export interface SchemaChangeRunner {
  send(cql: string): Promise<void>
  awaitSchemaAgreement(): Promise<void>
}

/**
 * Adds the column unless the table has it. Cassandra refuses an ADD of a column the table has as
 * invalid: when the column is there after such a refusal (read once every node holds the schema),
 * another run or an earlier copy of this statement whose answer was lost added it in between, and
 * the addition is done.
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
