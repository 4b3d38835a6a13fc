/**
 * One ordered record of every call the in-memory fakes receive, shared by all of them, so a test
 * can assert the order of steps across ports (store, Keycloak, requests, outbox, audit, listener).
 *
 * Entries read `<port>.<method>` or `<port>.<method>(<detail>)`, e.g. `users.markDeleted`,
 * `requests.recordSteps(lock)`, `requests.finish(completed)`, `audit.append(deletion.accepted)`.
 */
export class Timeline {
  readonly entries: string[] = []

  record(port: string, method: string, detail?: string): void {
    this.entries.push(detail === undefined ? `${port}.${method}` : `${port}.${method}(${detail})`)
  }

  /** The entries without the reads (`users.find*`, `users.read*`, `requests.get`, `requests.findByUser`, `requests.isListed`, `requests.isClosed`, `outbox.state`, `states.get`, `identity.readAccount`, `identity.listAccounts`). */
  writes(): string[] {
    return this.entries.filter(
      (entry) => !/^users\.(find|read)|^requests\.(get|findByUser|listOpen|isListed|isClosed)\b|^outbox\.state\b|^states\.get\b|^identity\.(readAccount|listAccounts)\b/.test(entry),
    )
  }

  count(entry: string): number {
    return this.entries.filter((e) => e === entry).length
  }

  clear(): void {
    this.entries.length = 0
  }
}

/** A clock the test moves by hand. */
export class ManualClock {
  private current: Date

  constructor(start: Date) {
    this.current = new Date(start)
  }

  now(): Date {
    return new Date(this.current)
  }

  advance(ms: number): this {
    this.current = new Date(this.current.getTime() + ms)
    return this
  }

  set(at: Date): this {
    this.current = new Date(at)
    return this
  }
}

/** Queued one-shot failures per method: `failNext('x', err)` makes the next call of x throw err. */
export class FailureQueue<M extends string> {
  private readonly queued = new Map<M, unknown[]>()

  add(method: M, error: unknown): void {
    this.queued.set(method, [...(this.queued.get(method) ?? []), error])
  }

  /** Throws the next queued error of `method`, if any. */
  check(method: M): void {
    const errors = this.queued.get(method)
    if (errors && errors.length > 0) throw errors.shift()
  }
}
