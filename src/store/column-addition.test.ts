import { describe, expect, it } from 'vitest'
import { normaliseCqlType } from './column-addition.js'

describe("normaliseCqlType: a migration's CQL type and Cassandra's spelling of it compare equal exactly where they are the same type", () => {
  it.each([
    ['text', 'text'],
    ['varchar', 'text'],
    ['TEXT', 'text'],
    ['timestamp', 'timestamp'],
    ['map<text, text>', 'map<text,text>'],
    ['map<varchar,text>', 'map<text, text>'],
    ['list<text>', 'list<varchar>'],
    // Inside a collection every type is frozen, said or not.
    ['map<text, frozen<list<text>>>', 'map<text, list<text>>'],
    ['frozen<map<text, frozen<list<text>>>>', 'frozen<map<text, list<text>>>'],
    // A tuple is always frozen.
    ['tuple<int, text>', 'frozen<tuple<int, text>>'],
    ['frozen<address>', 'FROZEN<Address>'],
  ])('when Cassandra reports %j and the migration adds %j, then they are the same type', (reported, added) => {
    expect(normaliseCqlType(reported)).toBe(normaliseCqlType(added))
  })

  it.each([
    ['text', 'int'],
    ['text', 'timestamp'],
    ['timestamp', 'date'],
    ['list<text>', 'set<text>'],
    ['list<text>', 'frozen<list<text>>'],
    ['map<text, text>', 'map<text, int>'],
    ['map<text, frozen<list<text>>>', 'map<text, frozen<set<text>>>'],
    ['int', 'bigint'],
    ['"Address"', 'address'],
  ])('when Cassandra reports %j and the migration adds %j, then they are different types', (reported, added) => {
    expect(normaliseCqlType(reported)).not.toBe(normaliseCqlType(added))
  })

  it('when a type does not parse, then it is compared as written without case and spaces', () => {
    expect(normaliseCqlType('map<text, ')).toBe('map<text,')
  })
})
