/** How often a create whose answer was lost is settled in the background (for CREATE_SETTLED_WITHIN_MS). */
const SETTLE_EVERY_MS = 2_000

/** What a background settle works on: a create whose answer was lost, or the withdrawal of what a failed entry write kept. */
export type SettleKind = 'create' | 'withdrawal'

/**
 * The deletion request store's work left to the background after a create's answer was lost:
 * creates whose callers were answered "accepted", settling (keepSettling), and entries whose write
 * failed, what they kept being withdrawn (keepWithdrawing): their callers were answered "retry".
 * Kept apart from the store's writes so that shutdown can wait for them (finish) and name what
 * outlasts it (ids). It runs no query itself.
 */
export class BackgroundSettles {
  /** One entry per settle, not per id: two creates of one caller-chosen id may both be settling, and the first to end must not take the other off the list. */
  private readonly settling = new Set<{ requestId: string; kind: SettleKind; done: Promise<void> }>()
  /** Ends the pauses of the background settles at once (finish). */
  private readonly wakers = new Set<() => void>()

  /** Work on a create's outcome left to the background, kept track of until it ends (finish, ids). */
  track(requestId: string, kind: SettleKind, work: () => Promise<void>): void {
    const entry = { requestId, kind, done: Promise.resolve() }
    entry.done = work()
      .catch(() => undefined)
      .finally(() => this.settling.delete(entry))
    this.settling.add(entry)
  }

  /**
   * Shutdown: each settle tries again at once instead of at the end of its pause, and this resolves
   * once every one has ended (settled, or given up), those begun meanwhile included. The caller
   * bounds the wait; what outlasts it is named by `ids`.
   */
  async finish(): Promise<void> {
    for (const wake of this.wakers) wake()
    while (this.settling.size > 0) await Promise.all([...this.settling].map(({ done }) => done))
  }

  /** The ids of the requests with a settle of this kind still going. */
  ids(kind: SettleKind): string[] {
    return [...new Set([...this.settling].filter((entry) => entry.kind === kind).map(({ requestId }) => requestId))]
  }

  /** The pause between two tries of a background settle; ended early by finish. */
  pause(): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        this.wakers.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, SETTLE_EVERY_MS).unref()
      this.wakers.add(wake)
    })
  }
}
