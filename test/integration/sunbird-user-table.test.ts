import { randomUUID } from 'node:crypto'
import type { Client } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { CassandraUserStore } from '../../src/store/cassandra-user-store.js'
import { migrate, migrations } from '../../src/store/migrations.js'
import { testConfig } from '../support/harness.js'
import { columnsHoldingAValue } from '../support/user-state.js'

const ALL_VERSIONS = migrations.map((m) => m.version)
/** Schema changes and a truncate may outlast the driver's 5 s on a busy machine. */
const SLOW = { readTimeout: 120_000 } as const

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
    for (const ks of keyspaces) await admin.execute(`DROP KEYSPACE IF EXISTS ${ks}`, [], SLOW)
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
    await admin.execute(`TRUNCATE ${ks}.schema_version`, [], SLOW)
    expect(await migrate(configOf(ks))).toEqual(ALL_VERSIONS)
    expect(await userColumns(ks)).toEqual(columns)
  }, 300_000)

  it('when a run stopped within migration 18 (two of its four columns added, its version not recorded), then the next run adds the other two and records 18, and the one after applies nothing', async () => {
    const ks = newKeyspace()
    expect(await migrate(configOf(ks))).toEqual(ALL_VERSIONS)
    await admin.execute(`ALTER TABLE ${ks}.user DROP usersubtype`, [], SLOW)
    await admin.execute(`ALTER TABLE ${ks}.user DROP profileusertype`, [], SLOW)
    await admin.execute(`DELETE FROM ${ks}.schema_version WHERE version = 18`, [], SLOW)

    expect(await migrate(configOf(ks))).toEqual([18])
    expect(await userColumns(ks)).toMatchObject(SUNBIRD_USER_TABLE)
    expect(await migrate(configOf(ks))).toEqual([])
  }, 300_000)

  /** A keyspace holding Sunbird's own user table, as a Sunbird deployment has it before this service's first db:migrate. */
  async function sunbirdKeyspace(): Promise<string> {
    const ks = newKeyspace()
    await admin.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`, [], SLOW)
    const { id: _key, ...others } = SUNBIRD_USER_TABLE
    await admin.execute(
      `CREATE TABLE ${ks}.user (id text PRIMARY KEY, ${Object.entries(others)
        .map(([column, type]) => `${column} ${type}`)
        .join(', ')})`,
      [],
      SLOW,
    )
    return ks
  }

  it("when run on Sunbird's own keyspace (its user table made before, holding every column), then every migration applies and the table keeps Sunbird's columns and types, none added", async () => {
    const ks = await sunbirdKeyspace()

    expect(await migrate(configOf(ks))).toEqual(ALL_VERSIONS)

    expect(await userColumns(ks)).toEqual(SUNBIRD_USER_TABLE)
  }, 300_000)

  it("when Sunbird's deletion scrubs a user of Sunbird's own table (which has no gender or avatar), then the scrub applies and leaves only ids, status, organisation, guardian and dates", async () => {
    const ks = await sunbirdKeyspace()
    const id = randomUUID()
    const guardian = randomUUID()
    const now = new Date()
    // Every column of Sunbird's row with a value, as Sunbird's services write them.
    const row: Record<string, unknown> = {
      id,
      userid: id,
      username: 'enc:asha_k',
      email: 'enc:asha@example.org',
      phone: 'enc:9876543210',
      maskedemail: 'as**@example.org',
      maskedphone: '******3210',
      prevusedemail: 'enc:old@example.org',
      prevusedphone: 'enc:9876500000',
      recoveryemail: 'enc:recovery@example.org',
      recoveryphone: 'enc:9876511111',
      firstname: 'Asha',
      lastname: 'Kulkarni',
      dob: '2012-04-12',
      countrycode: '+91',
      loginid: 'enc:asha_k@sunbird',
      emailverified: true,
      phoneverified: true,
      status: 1,
      isdeleted: false,
      flagsvalue: 4,
      profilelocation: JSON.stringify([{ id: 'district-1', type: 'district' }]),
      profiledetails: JSON.stringify({ school: 'Vidya Niketan' }),
      profileusertypes: JSON.stringify([{ type: 'student', subType: '' }]),
      profileusertype: JSON.stringify({ type: 'student', subType: '' }),
      usertype: 'student',
      usersubtype: 'class-7',
      locationids: ['state-1', 'district-1', 'school-vidya-niketan'],
      framework: { board: ['State (Maharashtra)'], medium: ['Marathi'], gradeLevel: ['Class 7'] },
      tncacceptedversion: 'v4',
      tncacceptedon: now,
      alltncaccepted: { groupsTnc: '{"version":"3.4.0"}' },
      roles: ['PUBLIC'],
      rootorgid: 'org-1',
      channel: 'state-1',
      managedby: guardian,
      createddate: '2024-01-01 10:00:00:000+0000',
      createdby: guardian,
      updateddate: '2024-02-01 10:00:00:000+0000',
      updatedby: guardian,
    }
    expect(Object.keys(row).sort()).toEqual(Object.keys(SUNBIRD_USER_TABLE).sort())
    await admin.execute(
      `INSERT INTO ${ks}.user (${Object.keys(row).join(', ')}) VALUES (${Object.keys(row)
        .map(() => '?')
        .join(', ')})`,
      Object.values(row),
      { prepare: true },
    )

    await new CassandraUserStore(admin, ks).scrubProfile(id, { requestedBy: guardian, at: now })

    const after = (await admin.execute(`SELECT * FROM ${ks}.user WHERE id = ?`, [id], { prepare: true })).first()
    expect(columnsHoldingAValue(after)).toEqual([
      'channel',
      'createdby',
      'createddate',
      'flagsvalue',
      'id',
      'isdeleted',
      'managedby',
      'roles',
      'rootorgid',
      'status',
      'updatedby',
      'updateddate',
      'userid',
    ])
    expect({ status: after?.get('status'), isdeleted: after?.get('isdeleted'), updatedby: after?.get('updatedby') }).toEqual({ status: 2, isdeleted: true, updatedby: guardian })
  })

  it("when Sunbird's deletion scrubs a user of a table older Sunbird migrations left columns on (their drops never ran), then those describing the person are blank too, and those naming organisations or settings are kept", async () => {
    const ks = await sunbirdKeyspace()
    const id = randomUUID()
    // Columns of older Sunbird releases (sunbird-utils V1.0 to V1.123), with their types and a value each.
    const old: Record<string, [type: string, value: unknown]> = {
      aadhaarno: ['text', '123456789012'],
      password: ['text', 'enc:secret'],
      temppassword: ['text', 'enc:temp'],
      accesscode: ['text', 'X1Y2'],
      thumbnail: ['text', 'https://cdn.example.org/asha.jpg'],
      profilesummary: ['text', 'Teacher of Marathi in Pune'],
      location: ['text', 'Pune'],
      language: ['list<text>', ['Marathi']],
      subject: ['list<text>', ['Mathematics']],
      grade: ['list<text>', ['Class 7']],
      webpages: ['list<frozen<map<text, text>>>', [{ type: 'fb', url: 'https://facebook.com/asha' }]],
      registryid: ['text', 'reg-42'],
      tcstatus: ['text', 'ACCEPTED'],
      tcupdateddate: ['text', '2018-01-01 10:00:00:000+0000'],
      lastlogintime: ['text', '2019-05-01 10:00:00:000+0000'],
      currentlogintime: ['text', '2019-05-02 10:00:00:000+0000'],
      provider: ['text', 'state-board'],
      regorgid: ['text', 'org-1'],
      profilevisibility: ['map<text, text>', { email: 'private' }],
    }
    await admin.execute(
      `ALTER TABLE ${ks}.user ADD (${Object.entries(old)
        .map(([column, [type]]) => `${column} ${type}`)
        .join(', ')})`,
      [],
      SLOW,
    )
    const row: Record<string, unknown> = { id, userid: id, firstname: 'Asha', status: 1, isdeleted: false, ...Object.fromEntries(Object.entries(old).map(([column, [, value]]) => [column, value])) }
    await admin.execute(
      `INSERT INTO ${ks}.user (${Object.keys(row).join(', ')}) VALUES (${Object.keys(row)
        .map(() => '?')
        .join(', ')})`,
      Object.values(row),
      { prepare: true },
    )

    await new CassandraUserStore(admin, ks).scrubProfile(id, { requestedBy: id, at: new Date() })

    const after = (await admin.execute(`SELECT * FROM ${ks}.user WHERE id = ?`, [id], { prepare: true })).first()
    expect(columnsHoldingAValue(after)).toEqual(['id', 'isdeleted', 'profilevisibility', 'provider', 'regorgid', 'status', 'updatedby', 'updateddate', 'userid'])
  })
})
