declare const deadlineBrand: unique symbol

/** One deadline of a FixedDeadlines, opaque: pass it to cancel. */
export type Deadline = { readonly [deadlineBrand]: true }

/** A deadline as the list holds it. */
interface Entry {
  readonly due: number
  readonly onDue: () => void
  previous: Entry | undefined
  next: Entry | undefined
  settled: boolean
}

/**
 * setTimeout(onDue, ms) for deadlines all `ms` away, served by one unref'd timer (they come due in the order set).
 * Due times are read from `now` (performance.now by default); the Node timer that fires them may lag it (see fire).
 */
export class FixedDeadlines {
  private head: Entry | undefined
  private tail: Entry | undefined
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly ms: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Calls `onDue` once `ms` have passed, unless cancelled before. */
  add(onDue: () => void): Deadline {
    const entry: Entry = { due: this.now() + this.ms, onDue, previous: this.tail, next: undefined, settled: false }
    if (this.tail) this.tail.next = entry
    else this.head = entry
    this.tail = entry
    this.timer ??= this.wake(this.ms)
    return entry as unknown as Deadline
  }

  cancel(deadline: Deadline): void {
    const entry = deadline as unknown as Entry
    if (entry.settled) return
    entry.settled = true
    this.unlink(entry)
  }

  private wake(afterMs: number): NodeJS.Timeout {
    // A deadline must not keep the process alive: the request it guards does.
    return setTimeout(() => this.fire(), afterMs).unref()
  }

  private unlink(entry: Entry): void {
    if (entry.previous) entry.previous.next = entry.next
    else this.head = entry.next
    if (entry.next) entry.next.previous = entry.previous
    else this.tail = entry.previous
    entry.previous = undefined
    entry.next = undefined
  }

  /** Calls every deadline now due, oldest first, then waits for the next one, if any. */
  private fire(): void {
    this.timer = undefined
    const now = this.now()
    try {
      while (this.head && this.head.due <= now) {
        const due = this.head
        due.settled = true
        this.unlink(due)
        due.onDue()
      }
    } finally {
      // Never less than a millisecond: the timer's clock may run behind `now`.
      if (this.head) this.timer = this.wake(Math.max(1, Math.ceil(this.head.due - now)))
    }
  }
}
