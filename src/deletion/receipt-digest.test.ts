import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { WORLD_LEASE_MS, deletionWorld } from '../../test/support/fakes/deletion-world.js'
import type { SeedUser } from '../../test/support/fakes/in-memory-user-store.js'
import { deleteUser } from './delete-user.js'
import type { DeletionReceipt } from './deletion-request.js'
import { DependencyUnavailableError } from './errors.js'
import { canonicalJson, receiptSha256 } from './receipt-digest.js'
import { resumeOpenDeletions } from './run-deletion.js'

const USER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const self = { consumer: 'portal', userId: USER, roles: [] }
const activeUser = (): SeedUser => ({ id: USER, organisationIds: ['org-1'], lookups: 1 })

const receipt = (): DeletionReceipt => ({
  requestId: 'req-1',
  subject: 'a'.repeat(64),
  subjectKeyId: 'b'.repeat(16),
  state: 'completed',
  completedAt: '2024-05-20T10:09:00.000Z',
  stores: [
    { store: 'keycloak', action: 'deleted', why: 'account and sessions' },
    { store: 'cassandra.user_lookup', action: 'deleted', count: 3, why: 'login lookups', physicallyErasedBy: '2024-05-30T10:09:00.000Z', physicalErasure: 'gc_grace_seconds 864000' },
  ],
})

/** The receipt stored on a request of the world (the test fails here when there is none). */
function storedReceipt(w: ReturnType<typeof deletionWorld>, requestId: string): DeletionReceipt {
  const stored = w.requests.peek(requestId)?.receipt
  if (!stored) throw new Error(`request ${requestId} has no receipt`)
  return stored
}

/** The same value with every object's keys in reverse order (as another serialiser, or a column edited by hand, may store them). */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys)
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([key, member]) => [key, reversedKeys(member)]),
    )
  return value
}

describe('receiptSha256, the digest an audit record commits to a receipt with', () => {
  it('when the same receipt comes with its keys in another order, then its canonical text and digest are the same', () => {
    const shuffled = reversedKeys(receipt()) as DeletionReceipt

    expect(JSON.stringify(shuffled)).not.toBe(JSON.stringify(receipt()))
    expect(canonicalJson(shuffled)).toBe(canonicalJson(receipt()))
    expect(receiptSha256(shuffled)).toBe(receiptSha256(receipt()))
  })

  it('when it is recomputed outside the service, then it is SHA-256 (hex) of the canonical text: no whitespace, keys sorted, arrays in order', () => {
    const text = canonicalJson(receipt())

    expect(text.startsWith('{"completedAt":"2024-05-20T10:09:00.000Z","requestId":"req-1","state":"completed","stores":[{"action":"deleted","store":"keycloak","why":')).toBe(true)
    expect(text).toContain('{"action":"deleted","count":3,"physicalErasure":"gc_grace_seconds 864000","physicallyErasedBy":"2024-05-30T10:09:00.000Z","store":"cassandra.user_lookup"')
    expect(receiptSha256(receipt())).toBe(createHash('sha256').update(text, 'utf8').digest('hex'))
  })

  it('when keys are outside ASCII, then they sort by UTF-16 code units as RFC 8785 sorts them (its own example, section 3.2.3)', () => {
    const value = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    }

    expect(canonicalJson(value)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    )
  })

  it('when any field of any entry, or of the receipt, changes (or an entry goes, or two swap places), then the digest changes', () => {
    const original = receiptSha256(receipt())
    const variants: DeletionReceipt[] = []
    for (const field of ['requestId', 'subject', 'subjectKeyId', 'completedAt'] as const) variants.push({ ...receipt(), [field]: `${receipt()[field]}x` })
    variants.push({ ...receipt(), state: 'partial' })
    receipt().stores.forEach((entry, i) => {
      for (const [field, member] of Object.entries(entry)) {
        const stores = receipt().stores
        stores[i] = { ...entry, [field]: typeof member === 'number' ? member + 1 : `${member}x` }
        variants.push({ ...receipt(), stores })
      }
      variants.push({ ...receipt(), stores: receipt().stores.filter((_, j) => j !== i) })
    })
    variants.push({ ...receipt(), stores: receipt().stores.reverse() })
    const [first, second] = receipt().stores
    if (first && second) variants.push({ ...receipt(), stores: [{ ...first, count: 0 }, second] })

    const digests = variants.map(receiptSha256)

    expect(digests).not.toContain(original)
    expect(new Set(digests).size).toBe(variants.length)
  })
})

describe('a settle commits its audit record to the receipt it stores', () => {
  it('when a deletion completes, then its deletion.completed carries the digest of the receipt stored on its request', async () => {
    const w = deletionWorld({ seed: [activeUser()] })

    await deleteUser(w.deps, { requestId: 'req-1', userId: USER, caller: self })

    const completed = w.audit.records.find((record) => record.event === 'deletion.completed')
    expect(completed?.detail).toEqual({ receiptSha256: receiptSha256(storedReceipt(w, 'req-1')) })
    // The acceptance settles no receipt: it commits to none.
    expect(w.audit.records.find((record) => record.event === 'deletion.accepted')?.detail).toBeUndefined()
  })

  it('when a deletion settles partial, then deletion.partial carries the digest of its receipt, and its completion later that of the new one', async () => {
    const w = deletionWorld({ seed: [activeUser()] })
    w.identity.goDown()

    await deleteUser(w.deps, { requestId: 'req-1', userId: USER, caller: self })
    const partialReceipt = storedReceipt(w, 'req-1')
    w.identity.comeBack()
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)

    const completedReceipt = storedReceipt(w, 'req-1')
    expect(partialReceipt.state).toBe('partial')
    expect(completedReceipt.state).toBe('completed')
    const [partial, completed] = w.audit.records.filter((record) => record.event !== 'deletion.accepted')
    expect(partial).toMatchObject({ event: 'deletion.partial', detail: { pending: 'keycloak', receiptSha256: receiptSha256(partialReceipt) } })
    expect(completed).toMatchObject({ event: 'deletion.completed', detail: { receiptSha256: receiptSha256(completedReceipt) } })
  })

  it('when deletion.completed could not be stored and the sweeper stores it, then that record commits to the receipt the finish stored', async () => {
    const w = deletionWorld({ seed: [activeUser()] })
    w.audit.failNextOf('deletion.completed', new DependencyUnavailableError('cassandra'))

    await deleteUser(w.deps, { requestId: 'req-1', userId: USER, caller: self })
    expect(w.audit.eventsOf('req-1')).toEqual(['deletion.accepted'])
    w.clock.advance(WORLD_LEASE_MS + 1)
    await resumeOpenDeletions(w.deps)

    expect(w.audit.records.at(-1)).toMatchObject({ event: 'deletion.completed', detail: { receiptSha256: receiptSha256(storedReceipt(w, 'req-1')) } })
  })
})
