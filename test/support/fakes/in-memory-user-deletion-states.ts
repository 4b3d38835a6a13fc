import type { UserDeletionState, UserDeletionStates } from '../../../src/deletion/ports.js'
import { FailureQueue, Timeline } from './timeline.js'

type Method = keyof UserDeletionStates

const same = (a: UserDeletionState | undefined, b: UserDeletionState | undefined) => a?.mode === b?.mode && a?.requestId === b?.requestId

/**
 * Which deletion holds each user, in memory, with the Cassandra adapter's semantics: swap is a
 * compare-and-set (applied only when the row holds `expected`, no row standing for undefined).
 * `beforeNextSwap` lets another writer move the state between a caller's read and its swap.
 * Calls go to the timeline as `states.get` and `states.swap(<mode or none>)`.
 */
export class InMemoryUserDeletionStates implements UserDeletionStates {
  private readonly held = new Map<string, UserDeletionState>()
  private readonly interleaved: (() => void)[] = []
  private readonly failures = new FailureQueue<Method>()

  constructor(readonly timeline: Timeline = new Timeline()) {}

  /** Puts a state in place as earlier requests would have left it. */
  set(userId: string, state: UserDeletionState | undefined): this {
    if (state) this.held.set(userId, { ...state })
    else this.held.delete(userId)
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
    if (!same(this.held.get(userId), expected)) return false
    this.set(userId, next)
    return true
  }
}
