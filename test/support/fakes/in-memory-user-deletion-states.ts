import { UnreadableDeletionStateError } from '../../../src/deletion/errors.js'
import type { UserDeletionState, UserDeletionStates } from '../../../src/deletion/ports.js'
import { FailureQueue, Timeline } from './timeline.js'

type Method = keyof UserDeletionStates

/** The modes the adapter reads (CassandraUserDeletionStates). */
const MODES: ReadonlySet<string> = new Set<UserDeletionState['mode']>(['soft', 'hard', 'sunbird', 'restoring'])

const same = (a: UserDeletionState | undefined, b: UserDeletionState | undefined) => a?.mode === b?.mode && a?.requestId === b?.requestId

/**
 * Which deletion holds each user, in memory, with the Cassandra adapter's semantics: swap is a
 * compare-and-set (applied only when the row holds `expected`, no row standing for undefined).
 * `beforeNextSwap` lets another writer move the state between a caller's read and its swap.
 * `setUnreadable` puts a row the adapter cannot read (an unknown mode, none, or no request id): get
 * answers undefined for it, and a swap throws UnreadableDeletionStateError exactly when the adapter's does.
 * Calls go to the timeline as `states.get` and `states.swap(<mode or none>)`.
 */
export class InMemoryUserDeletionStates implements UserDeletionStates {
  private readonly held = new Map<string, UserDeletionState>()
  /** Rows the adapter cannot read, by user: their mode as stored (null: none). */
  private readonly unreadable = new Map<string, string | null>()
  private readonly interleaved: (() => void)[] = []
  private readonly failures = new FailureQueue<Method>()

  constructor(readonly timeline: Timeline = new Timeline()) {}

  /** Puts a state in place as earlier requests would have left it. */
  set(userId: string, state: UserDeletionState | undefined): this {
    this.unreadable.delete(userId)
    if (state) this.held.set(userId, { ...state })
    else this.held.delete(userId)
    return this
  }

  /** A row the adapter cannot read: a mode this service does not know (a newer version's, or one written by hand), no mode (null), or a known mode with no request id. */
  setUnreadable(userId: string, mode: string | null): this {
    this.held.delete(userId)
    this.unreadable.set(userId, mode)
    return this
  }

  peek(userId: string): UserDeletionState | undefined {
    const state = this.held.get(userId)
    return state && { ...state }
  }

  beforeNextSwap(writer: () => void): this {
    this.interleaved.push(writer)
    return this
  }

  failNext(method: Method, error: unknown): this {
    this.failures.add(method, error)
    return this
  }

  async get(userId: string): Promise<UserDeletionState | undefined> {
    this.timeline.record('states', 'get')
    this.failures.check('get')
    return this.peek(userId)
  }

  async swap(userId: string, expected: UserDeletionState | undefined, next: UserDeletionState | undefined): Promise<boolean> {
    this.timeline.record('states', 'swap', next?.mode ?? 'none')
    this.failures.check('swap')
    this.interleaved.shift()?.()
    if (this.unreadable.has(userId)) {
      const mode = this.unreadable.get(userId) ?? null
      if (!expected && !next) return true
      // The adapter's: an insert is refused by any such row, an update or a removal only by a mode it does not know (else it is refused as contention).
      if (!expected || (mode !== null && !MODES.has(mode))) throw new UnreadableDeletionStateError(mode)
      return false
    }
    if (!same(this.held.get(userId), expected)) return false
    this.set(userId, next)
    return true
  }
}
