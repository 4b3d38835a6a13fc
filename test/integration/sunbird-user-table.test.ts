import { randomUUID } from 'node:crypto'
import type { Client } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { migrate, migrations } from '../../src/store/migrations.js'
import { testConfig } from '../support/harness.js'

const ALL_VERSIONS = migrations.map((m) => m.version)

/**
 * sunbird.user after every Sunbird migration (sunbird-utils, release-7.0.0: V1.0 and its alters up
 * to V1.144, gender and avatar dropped by V1.123), with Sunbird's types: 40 columns.
 */
const SUNBIRD_USER_TABLE: Readonly<Record<string, string>> = {
  id: 'text',
  alltncaccepted: 'map<text, text>',
  channel: 'text',
  countrycode: 'text',
  createdby: 'text',
  createddate: 'text',
  dob: 'text',
  email: 'text',
  emailverified: 'boolean',
  firstname: 'text',
  flagsvalue: 'int',
  framework: 'map<text, frozen<list<text>>>',
  isdeleted: 'boolean',
  lastname: 'text',
  locationids: 'list<text>',
  loginid: 'text',
  managedby: 'text',
  maskedemail: 'text',
  maskedphone: 'text',
  phone: 'text',
  phoneverified: 'boolean',
  prevusedemail: 'text',
  prevusedphone: 'text',
  profiledetails: 'text',
  profilelocation: 'text',
  profileusertype: 'text',
  profileusertypes: 'text',
  recoveryemail: 'text',
  recoveryphone: 'text',
  roles: 'list<text>',
  rootorgid: 'text',
  status: 'int',
  tncacceptedon: 'timestamp',
  tncacceptedversion: 'text',
  updatedby: 'text',
  updateddate: 'text',
  userid: 'text',
  username: 'text',
  usersubtype: 'text',
  usertype: 'text',
}

describe("db:migrate and Sunbird's user table", () => {
  let admin: Client
  const keyspaces: string[] = []
  beforeAll(async () => {
    admin = createCassandraClient(testConfig().cassandra, { keyspace: false })
    await admin.connect()
  })
  afterAll(async () => {
    // A drop may outlast the driver's 5 s on a busy machine.
    for (const ks of keyspaces) await admin.execute(`DROP KEYSPACE IF EXISTS ${ks}`, [], { readTimeout: 120_000 })
    await admin.shutdown()
  })

  /** A keyspace of its own, dropped after the file. */
  const newKeyspace = () => {
    const ks = `sbuser_${randomUUID().replace(/-/g, '').slice(0, 16)}`
    keyspaces.push(ks)
    return ks
  }
  const configOf = (keyspace: string) => testConfig({ cassandra: { keyspace } }).cassandra
  /** The user table's columns and their types, as Cassandra stores them. */
  const userColumns = async (keyspace: string): Promise<Record<string, string>> =>
    Object.fromEntries(
      (await admin.execute("SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = 'user'", [keyspace], { prepare: true })).rows.map((row) => [
        row.get('column_name') as string,
        row.get('type') as string,
      ]),
    )

  it("when run on a fresh keyspace, then the user table has every column of Sunbird's with Sunbird's type; run again, or with every version record lost (a crash before its record), it changes no column", async () => {
    const ks = newKeyspace()

    expect(await migrate(configOf(ks))).toEqual(ALL_VERSIONS)
    const columns = await userColumns(ks)
    expect(columns).toMatchObject(SUNBIRD_USER_TABLE)

    expect(await migrate(configOf(ks))).toEqual([])
    await admin.execute(`TRUNCATE ${ks}.schema_version`)
    expect(await migrate(configOf(ks))).toEqual(ALL_VERSIONS)
    expect(await userColumns(ks)).toEqual(columns)
  }, 300_000)

  it("when run on Sunbird's own keyspace (its user table made before, holding every column), then every migration applies and the table keeps Sunbird's columns and types, none added", async () => {
    const ks = newKeyspace()
    await admin.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`)
    const { id: _key, ...others } = SUNBIRD_USER_TABLE
    await admin.execute(
      `CREATE TABLE ${ks}.user (id text PRIMARY KEY, ${Object.entries(others)
        .map(([column, type]) => `${column} ${type}`)
        .join(', ')})`,
    )

    expect(await migrate(configOf(ks))).toEqual(ALL_VERSIONS)

    expect(await userColumns(ks)).toEqual(SUNBIRD_USER_TABLE)
  }, 300_000)
})
