import { randomUUID } from 'node:crypto'
import { type Client, errors } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { addColumn, addColumnIfMissing, ColumnTypeMismatchError, type SchemaChangeRunner } from '../../src/store/column-addition.js'
import { awaitSchemaAgreement } from '../../src/store/migrations.js'
import { testConfig } from '../support/harness.js'

/** Schema changes may outlast the driver's 5 s on a busy machine. */
const SLOW = { readTimeout: 120_000 } as const

describe('addColumnIfMissing: a migration adds a column only where the table lacks it, in CQL that Cassandra 3.11 parses', () => {
  let admin: Client
  let ks: string
  beforeAll(async () => {
    admin = createCassandraClient(testConfig().cassandra, { keyspace: false })
    await admin.connect()
    ks = `coladd_${randomUUID().replace(/-/g, '').slice(0, 16)}`
    await admin.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`, [], SLOW)
  })
  afterAll(async () => {
    await admin.execute(`DROP KEYSPACE IF EXISTS ${ks}`, [], SLOW)
    await admin.shutdown()
  })

  /** migrate's way of running a schema change, on `client`, recording each statement sent and whether Cassandra refused it. */
  const recordingRunner = (client: Client, beforeSend: () => Promise<void> = async () => {}) => {
    const sent: { cql: string; refused: boolean }[] = []
    const runner: SchemaChangeRunner = {
      async send(cql) {
        await beforeSend()
        try {
          await client.execute(cql, [], SLOW)
          sent.push({ cql, refused: false })
        } catch (err) {
          sent.push({ cql, refused: true })
          throw err
        }
      },
      awaitSchemaAgreement: () => awaitSchemaAgreement(client),
    }
    return { runner, sent }
  }
  const newTable = async (columns = '') => {
    const table = `t_${randomUUID().replace(/-/g, '').slice(0, 8)}`
    await admin.execute(`CREATE TABLE ${ks}.${table} (id text PRIMARY KEY${columns})`, [], SLOW)
    return table
  }
  const columnsOf = async (table: string) =>
    Object.fromEntries(
      (await admin.execute('SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?', [ks, table], { prepare: true })).rows.map((row) => [
        row.get('column_name') as string,
        row.get('type') as string,
      ]),
    )

  it('when the table lacks the column, then a plain ADD adds it with its type; run again, it sends nothing', async () => {
    const table = await newTable()
    const { runner, sent } = recordingRunner(admin)

    await addColumnIfMissing(admin, addColumn(ks, table, 'locationids', 'list<text>'), runner)
    await addColumnIfMissing(admin, addColumn(ks, table, 'locationids', 'list<text>'), runner)

    expect(sent).toEqual([{ cql: `ALTER TABLE ${ks}.${table} ADD locationids list<text>`, refused: false }])
    expect(await columnsOf(table)).toEqual({ id: 'text', locationids: 'list<text>' })
  })

  it("when the table has the column already (Sunbird's own user table), then nothing is sent and the table is as it was", async () => {
    const table = await newTable(', usertype text, locationids list<text>')
    const { runner, sent } = recordingRunner(admin)

    await addColumnIfMissing(admin, addColumn(ks, table, 'usertype', 'text'), runner)
    await addColumnIfMissing(admin, addColumn(ks, table, 'locationids', 'list<text>'), runner)

    expect(sent).toEqual([])
    expect(await columnsOf(table)).toEqual({ id: 'text', usertype: 'text', locationids: 'list<text>' })
  })

  it("when the table has the column in Cassandra's own spelling of the same type (varchar, spaces, frozen inside a collection, a tuple), then nothing is sent", async () => {
    const table = await newTable(', name varchar, accepted map<text,text>, framework map<text, frozen<list<text>>>, since timestamp, pair tuple<int, text>, tree frozen<map<text, frozen<list<text>>>>')
    const { runner, sent } = recordingRunner(admin)

    await addColumnIfMissing(admin, addColumn(ks, table, 'name', 'text'), runner)
    await addColumnIfMissing(admin, addColumn(ks, table, 'accepted', 'map<varchar, text>'), runner)
    await addColumnIfMissing(admin, addColumn(ks, table, 'framework', 'map<text, frozen<list<varchar>>>'), runner)
    await addColumnIfMissing(admin, addColumn(ks, table, 'since', 'TIMESTAMP'), runner)
    await addColumnIfMissing(admin, addColumn(ks, table, 'pair', 'tuple<int,text>'), runner)
    await addColumnIfMissing(admin, addColumn(ks, table, 'tree', 'frozen<map<text, list<text>>>'), runner)

    expect(sent).toEqual([])
  })

  it('when the table has the column with another type, then the migration stops naming the table, the column and both types, and nothing is sent', async () => {
    const table = await newTable(', usertype int, tags map<text, text>')
    const { runner, sent } = recordingRunner(admin)

    const scalar = await addColumnIfMissing(admin, addColumn(ks, table, 'usertype', 'text'), runner).catch((err: unknown) => err)
    const collection = await addColumnIfMissing(admin, addColumn(ks, table, 'tags', 'map<text, int>'), runner).catch((err: unknown) => err)

    expect(scalar).toBeInstanceOf(ColumnTypeMismatchError)
    expect((scalar as Error).message).toBe(
      `column usertype of table ${ks}.${table} exists as int, but the migration adds it as text: change the column to that type (or drop it) and run db:migrate again`,
    )
    expect(collection).toBeInstanceOf(ColumnTypeMismatchError)
    expect((collection as Error).message).toContain(`column tags of table ${ks}.${table} exists as map<text, text>, but the migration adds it as map<text, int>`)
    expect(sent).toEqual([])
    expect(await columnsOf(table)).toEqual({ id: 'text', usertype: 'int', tags: 'map<text, text>' })
  })

  it('when another run adds the column with another type between the look and the addition, then the refused addition stops the migration with the types', async () => {
    const table = await newTable()
    const { runner, sent } = recordingRunner(admin, async () => {
      await admin.execute(`ALTER TABLE ${ks}.${table} ADD owed text`, [], SLOW)
    })

    const failure = await addColumnIfMissing(admin, addColumn(ks, table, 'owed', 'int'), runner).catch((err: unknown) => err)

    expect(sent).toEqual([{ cql: `ALTER TABLE ${ks}.${table} ADD owed int`, refused: true }])
    expect(failure).toBeInstanceOf(ColumnTypeMismatchError)
    expect((failure as Error).message).toContain('exists as text, but the migration adds it as int')
  })

  it('when two runs, each with its own connection, both find the column missing and both add it, then the one Cassandra refuses finds it added and both succeed', async () => {
    const table = await newTable()
    const other = createCassandraClient(testConfig().cassandra, { keyspace: false })
    try {
      // Both have looked and found it missing before either sends.
      let arrived = 0
      let bothArrived: () => void = () => {}
      const barrier = new Promise<void>((resolve) => {
        bothArrived = resolve
      })
      const meet = async () => {
        if (++arrived === 2) bothArrived()
        await barrier
      }
      const first = recordingRunner(admin, meet)
      const second = recordingRunner(other, meet)

      await Promise.all([addColumnIfMissing(admin, addColumn(ks, table, 'owed', 'int'), first.runner), addColumnIfMissing(other, addColumn(ks, table, 'owed', 'int'), second.runner)])

      expect([...first.sent, ...second.sent].map((s) => s.refused).sort()).toEqual([false, true])
      expect(await columnsOf(table)).toEqual({ id: 'text', owed: 'int' })
    } finally {
      await other.shutdown()
    }
  })

  it('when Cassandra refuses the addition and the column is still missing (no such table), then the refusal is what the migration fails with', async () => {
    const { runner } = recordingRunner(admin)

    const failure = await addColumnIfMissing(admin, addColumn(ks, 'no_such_table', 'owed', 'int'), runner).catch((err: unknown) => err)

    expect(failure).toBeInstanceOf(errors.ResponseError)
  })
})
