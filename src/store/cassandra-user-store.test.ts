import { type Client, types } from 'cassandra-driver'
import { describe, expect, it } from 'vitest'
import { CassandraUserStore, SCRUBBED_USER_COLUMNS } from './cassandra-user-store.js'

/**
 * Every column any Sunbird release had on sunbird.user, with its CQL type, and whether it describes
 * the person. From sunbird-utils' migrations (Sunbird-Lern/sunbird-utils,
 * sunbird-cassandra-migration/…/cassandra/sunbird/V1.0 … V1.144, the older cassandra-migration/…/V1.x
 * and cassandra-dac/src/main/resources/cassandra.cql): the ones a later migration dropped say which.
 */
const SUNBIRD_USER_COLUMNS_EVER: Readonly<Record<string, { type: string; personal: boolean; dropped?: string }>> = {
  id: { type: 'text', personal: false },
  userid: { type: 'text', personal: false },
  username: { type: 'text', personal: true },
  email: { type: 'text', personal: true },
  phone: { type: 'text', personal: true },
  aadhaarno: { type: 'text', personal: true, dropped: 'V1.0' },
  createddate: { type: 'text', personal: false },
  updateddate: { type: 'text', personal: false },
  updatedby: { type: 'text', personal: false },
  lastlogintime: { type: 'text', personal: true, dropped: 'V1.123' },
  status: { type: 'int', personal: false },
  firstname: { type: 'text', personal: true },
  lastname: { type: 'text', personal: true },
  password: { type: 'text', personal: true, dropped: 'V1.123' },
  avatar: { type: 'text', personal: true, dropped: 'V1.123' },
  gender: { type: 'text', personal: true, dropped: 'V1.123' },
  language: { type: 'list<text>', personal: true, dropped: 'V1.123' },
  subject: { type: 'list<text>', personal: true, dropped: 'V1.123' },
  grade: { type: 'list<text>', personal: true, dropped: 'V1.123' },
  regorgid: { type: 'text', personal: false, dropped: 'V1.9' },
  dob: { type: 'text', personal: true },
  thumbnail: { type: 'text', personal: true, dropped: 'V1.123' },
  state: { type: 'text', personal: true, dropped: 'before V1.0 (cassandra-dac, 2017)' },
  city: { type: 'text', personal: true, dropped: 'before V1.0 (cassandra-dac, 2017)' },
  zipcode: { type: 'text', personal: true, dropped: 'before V1.0 (cassandra-dac, 2017)' },
  rootorgid: { type: 'text', personal: false },
  loginid: { type: 'text', personal: true },
  provider: { type: 'text', personal: false, dropped: 'V1.9' },
  roles: { type: 'list<text>', personal: false },
  profilesummary: { type: 'text', personal: true, dropped: 'V1.123' },
  isdeleted: { type: 'boolean', personal: false },
  location: { type: 'text', personal: true, dropped: 'V1.123' },
  createdby: { type: 'text', personal: false },
  webpages: { type: 'list<frozen<map<text, text>>>', personal: true, dropped: 'V1.123' },
  temppassword: { type: 'text', personal: true, dropped: 'V1.123' },
  currentlogintime: { type: 'text', personal: true, dropped: 'V1.123' },
  tcstatus: { type: 'text', personal: true, dropped: 'V1.43' },
  tcupdateddate: { type: 'text', personal: true, dropped: 'V1.43' },
  profilevisibility: { type: 'map<text, text>', personal: false, dropped: 'V1.123' },
  emailverified: { type: 'boolean', personal: true },
  countrycode: { type: 'text', personal: true },
  phoneverified: { type: 'boolean', personal: true },
  channel: { type: 'text', personal: false },
  types: { type: 'list<text>', personal: true, dropped: 'V1.12 as first written (2018)' },
  fullname: { type: 'text', personal: true, dropped: 'V1.12 as first written (2018)' },
  designation: { type: 'text', personal: true, dropped: 'V1.12 as first written (2018)' },
  institution: { type: 'text', personal: true, dropped: 'V1.12 as first written (2018)' },
  registryid: { type: 'text', personal: true, dropped: 'V1.123' },
  usertype: { type: 'text', personal: true },
  signuptype: { type: 'text', personal: false, dropped: 'V1.32 as first written (2018)' },
  frameworkdata: { type: 'text', personal: true, dropped: 'V1.34' },
  framework: { type: 'map<text, frozen<list<text>>>', personal: true },
  locationids: { type: 'list<text>', personal: true },
  tacstatus: { type: 'boolean', personal: true, dropped: 'V1.43 as first written' },
  tacaccepteddate: { type: 'timestamp', personal: true, dropped: 'V1.43 as first written' },
  tacversionid: { type: 'text', personal: true, dropped: 'V1.43 as first written' },
  tncacceptedon: { type: 'timestamp', personal: true },
  tncacceptedversion: { type: 'text', personal: true },
  maskemail: { type: 'text', personal: true, dropped: 'V1.61' },
  maskphone: { type: 'text', personal: true, dropped: 'V1.61' },
  maskedemail: { type: 'text', personal: true },
  maskedphone: { type: 'text', personal: true },
  prevemail: { type: 'text', personal: true, dropped: 'V1.66 as first written (2019)' },
  prevphone: { type: 'text', personal: true, dropped: 'V1.66 as first written (2019)' },
  freeupemail: { type: 'text', personal: true, dropped: 'V1.66 as first written (2019)' },
  freeupphone: { type: 'text', personal: true, dropped: 'V1.66 as first written (2019)' },
  prevusedemail: { type: 'text', personal: true },
  prevusedphone: { type: 'text', personal: true },
  recoveryemail: { type: 'text', personal: true },
  recoveryphone: { type: 'text', personal: true },
  isstatevalidated: { type: 'boolean', personal: false, dropped: 'V1.75' },
  flagsvalue: { type: 'int', personal: false },
  managedby: { type: 'text', personal: false },
  accesscode: { type: 'text', personal: true, dropped: 'V1.123' },
  alltncaccepted: { type: 'map<text, text>', personal: true },
  usersubtype: { type: 'text', personal: true },
  profilelocation: { type: 'text', personal: true },
  profileusertype: { type: 'text', personal: true },
  profileusertypes: { type: 'text', personal: true },
  profiledetails: { type: 'text', personal: true },
}

/**
 * The blank a column of that type takes, as Sunbird writes blanks: '' for text, false for a flag,
 * null for lists, maps and dates. profiledetails is JSON Sunbird may leave out, so null; profilelocation
 * keeps Sunbird's '[]'; language was text on the first tables and a list later, so null fits both.
 */
const blankOf = (column: string, type: string): unknown => {
  if (column === 'profilelocation') return '[]'
  if (column === 'profiledetails' || column === 'language') return null
  if (type === 'text') return ''
  if (type === 'boolean') return false
  return null
}

/** The driver's type code of a CQL type as this file spells it (collections by their kind). */
const typeCode = (type: string): number => {
  if (type === 'text') return types.dataTypes.text
  if (type === 'boolean') return types.dataTypes.boolean
  if (type === 'int') return types.dataTypes.int
  if (type === 'timestamp') return types.dataTypes.timestamp
  if (type.startsWith('list')) return types.dataTypes.list
  if (type.startsWith('map')) return types.dataTypes.map
  return types.dataTypes.custom
}

/** A client whose user table has these columns (of Sunbird's types unless given), recording each statement sent. */
function clientWithUserTable(columns: string[], typed: Record<string, string> = {}) {
  const sent: { cql: string; params: unknown[] }[] = []
  const typeOfColumn = (name: string) => typed[name] ?? SUNBIRD_USER_COLUMNS_EVER[name]?.type ?? 'text'
  const table = { columns: columns.map((name) => ({ name, type: { code: typeCode(typeOfColumn(name)) } })) }
  const client = {
    metadata: { getTable: async () => table },
    execute: async (cql: string, params: unknown[]) => {
      sent.push({ cql, params })
      return { rows: [], first: () => null }
    },
  } as unknown as Client
  return { client, sent }
}

/** The columns the scrub's UPDATE sets, with the value bound to each (after updatedby and updateddate). */
function blankedBy({ cql, params }: { cql: string; params: unknown[] }): Record<string, unknown> {
  const names = [...cql.matchAll(/(\w+) = \?/g)].map(([, name]) => name).filter((name) => name !== 'updatedby' && name !== 'updateddate' && name !== 'id')
  return Object.fromEntries(names.map((name, i) => [name, params[2 + i]]))
}

describe('the profile scrub of a Sunbird deletion', () => {
  it('when a column any Sunbird release had on sunbird.user describes the person, then the scrub blanks it with the blank its type takes, and keeps every other', () => {
    const personal = Object.entries(SUNBIRD_USER_COLUMNS_EVER).filter(([, column]) => column.personal)

    expect(Object.fromEntries(personal.map(([name]) => [name, SCRUBBED_USER_COLUMNS[name]]))).toEqual(Object.fromEntries(personal.map(([name, { type }]) => [name, blankOf(name, type)])))
    expect(Object.keys(SCRUBBED_USER_COLUMNS).filter((name) => SUNBIRD_USER_COLUMNS_EVER[name]?.personal !== true)).toEqual([])
  })

  it('when the user table still has columns older Sunbird migrations dropped, then the scrub blanks those the table has and names no column it lacks', async () => {
    const columns = ['id', 'userid', 'status', 'isdeleted', 'updatedby', 'updateddate', 'firstname', 'aadhaarno', 'lastlogintime', 'currentlogintime', 'webpages', 'language', 'tacstatus', 'provider']
    const { client, sent } = clientWithUserTable(columns)

    await new CassandraUserStore(client, 'sunbird').scrubProfile('user-1', { requestedBy: 'user-1', at: new Date('2026-01-01T00:00:00Z') })

    expect(sent.map(blankedBy)).toEqual([
      {
        firstname: '',
        aadhaarno: '',
        lastlogintime: '',
        currentlogintime: '',
        webpages: null,
        language: null,
        tacstatus: false,
      },
    ])
  })

  it('when a column has another type than its listed blank takes (an old migration made it so), then it is nulled rather than refused', async () => {
    const columns = ['id', 'userid', 'status', 'isdeleted', 'updatedby', 'updateddate', 'firstname', 'lastlogintime', 'tacstatus']
    const { client, sent } = clientWithUserTable(columns, { lastlogintime: 'timestamp', tacstatus: 'text' })

    await new CassandraUserStore(client, 'sunbird').scrubProfile('user-1', { requestedBy: 'user-1', at: new Date('2026-01-01T00:00:00Z') })

    expect(sent.map(blankedBy)).toEqual([{ firstname: '', lastlogintime: null, tacstatus: null }])
  })
})
