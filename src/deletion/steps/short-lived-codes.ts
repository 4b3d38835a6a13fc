import { keyId, keyedHash } from '../keyed-hash.js'
import type { CodeTable } from '../ports.js'
import { addHashPairs, type Contact, type DeletionStep, type PlanName, type PreviewContext, type StepContext, stepOutcome } from './step.js'

/** The keys of the code rows of the contacts: their plain values (Sunbird's otp and rate_limit hold the plain email or phone), each once. */
function codeKeysOf(contacts: readonly Contact[]): string[] {
  return [...new Set(contacts.map(({ plain }) => plain))]
}

/** The keyed hash of a value, made once per distinct value however often it is asked for; `made` holds them in the order first asked. */
function hashingOnce(key: string) {
  const made = new Map<string, string>()
  const hashOf = (value: string) => {
    let hash = made.get(value)
    if (hash === undefined) {
      hash = keyedHash(key, value)
      made.set(value, hash)
    }
    return hash
  }
  return { hashOf, made }
}

/**
 * [hash of the plain value, hash of the value as stored] of each contact stored otherwise than
 * plain (encrypted), each once: a code row keyed by the plain value belongs to whoever holds the
 * stored one in user_lookup, which deletion:verify can tell only through this pair.
 */
function hashPairsOf(contacts: readonly Contact[], hashOf: (value: string) => string): [string, string][] {
  const pairs = contacts.filter(({ stored, plain }) => plain !== stored).map(({ stored, plain }): [string, string] => [hashOf(plain), hashOf(stored)])
  return [...addHashPairs(new Map(), pairs).values()]
}

/**
 * otp and rate_limit are keyed by the plain email or phone, not by the user id: the rows are found
 * from the contacts the profile holds (decrypted when Sunbird stores them encrypted), so these steps
 * run before the profile is blanked. Every mode deletes them (short-lived codes, never brought back).
 * The request keeps keyed hashes of the values looked up and of the contacts as stored, never the
 * values, and which key made them, so deletion:verify can look for them again (under that key only):
 * the plain ones in otp and rate_limit, the stored ones in user_lookup, which holds them as the row does;
 * and which plain hash goes with which stored one, when they differ, so that verify knows a code
 * row of a value another user holds again (hashPairsOf).
 */
function codesStep<Name extends string>(name: Name, table: CodeTable, what: string) {
  const store = `cassandra.${table}`
  return {
    name,
    store,
    why: `${what} removed before the profile is blanked`,
    softWhy: `${what} removed: short-lived, never brought back by a cancel`,
    plans: ['sunbird', 'soft', 'hard'] as const satisfies readonly PlanName[],
    async run({ deps, plan, contacts: readContacts }: StepContext) {
      const contacts = await readContacts()
      const keys = codeKeysOf(contacts)
      const count = keys.length > 0 ? await deps.tables.deleteCodes(table, keys) : 0
      // The contacts as stored, then the plain values not among them: each distinct one hashed once, the pairs' too.
      const { hashOf, made } = hashingOnce(deps.receiptKey)
      for (const value of [...contacts.map(({ stored }) => stored), ...keys]) hashOf(value)
      const hashes = [...made.values()]
      const hashPairs = hashPairsOf(contacts, hashOf)
      return stepOutcome('done', 'deleted', deps.clock.now(), count, { plan, hashes, hashKeyId: keyId(deps.receiptKey), ...(hashPairs.length > 0 && { hashPairs }) })
    },
    async preview({ deps, contacts }: PreviewContext) {
      const keys = codeKeysOf(await contacts())
      return [{ store, action: 'delete', count: keys.length > 0 ? await deps.tables.countCodes(table, keys) : 0 }]
    },
  } satisfies DeletionStep<Name>
}

export const otpCodes = codesStep('otp', 'otp', 'one-time codes sent to the email or phone (keyed by the plain value)')
export const rateLimits = codesStep('rateLimit', 'rate_limit', 'code-request counters keyed by the plain email or phone')
