import type { MarkDeletedOutcome, UserRecord, UserStore } from '../../../src/deletion/ports.js'

export type UserStoreCall =
  | { method: 'findUser'; userId: string }
  | { method: 'findRoles'; userId: string }
  | { method: 'findOrganisationIds'; userId: string }
  | { method: 'eraseLookups'; userId: string }
  | { method: 'markDeleted'; userId: string; user: UserRecord; requestedBy: string; at: Date }

export interface SeedUser {
  id: string
  status?: number | null
  isDeleted?: boolean | null
  rootOrgId?: string | null
  managedBy?: string | null
  roles?: string[]
  organisationIds?: string[]
  lookups?: number
}

/**
 * A UserStore held in memory. It behaves like the Cassandra adapter at the port: markDeleted is a
 * compare-and-set on status and isDeleted, and every call is recorded in order so
 * tests can assert what was asked and when. `scriptMarkDeleted` queues outcomes to return instead
 * of the real compare-and-set, `beforeNextMarkDeleted` lets another writer change the row between
 * the workflow's read and its write, and `failNext` makes a method throw once (a dependency outage).
 */
export class InMemoryUserStore implements UserStore {
  readonly calls: UserStoreCall[] = []
  private readonly users = new Map<string, UserRecord>()
  private readonly roles = new Map<string, string[]>()
  private readonly organisations = new Map<string, string[]>()
  private readonly lookups = new Map<string, number>()
  private readonly scripted: MarkDeletedOutcome[] = []
  private readonly interleaved: (() => void)[] = []
  private readonly failures = new Map<UserStoreCall['method'], unknown[]>()

  /** `journal`, when given, also receives `users.<method>` per call: one timeline shared with other fakes. */
  constructor(
    seed: readonly SeedUser[] = [],
    private readonly journal?: string[],
  ) {
    for (const user of seed) this.add(user)
  }

  add(user: SeedUser): this {
    this.users.set(user.id, {
      id: user.id,
      status: user.status ?? 1,
      isDeleted: user.isDeleted ?? false,
      rootOrgId: user.rootOrgId ?? null,
      managedBy: user.managedBy ?? null,
    })
    this.roles.set(user.id, [...(user.roles ?? ['PUBLIC'])])
    this.organisations.set(user.id, [...(user.organisationIds ?? [])])
    this.lookups.set(user.id, user.lookups ?? 1)
    return this
  }

  /** Roles in user_roles without a user row (Sunbird's tables are not kept consistent). */
  setRoles(userId: string, roles: string[]): this {
    this.roles.set(userId, [...roles])
    return this
  }

  /** The next markDeleted calls answer these outcomes, in order, without touching the row. */
  scriptMarkDeleted(...outcomes: MarkDeletedOutcome[]): this {
    this.scripted.push(...outcomes)
    return this
  }

  /** Runs `writer` inside the next markDeleted call, before its compare-and-set. */
  beforeNextMarkDeleted(writer: () => void): this {
    this.interleaved.push(writer)
    return this
  }

  /** The next call of `method` throws `error` (after being recorded), then the method works again. */
  failNext(method: UserStoreCall['method'], error: unknown): this {
    this.failures.set(method, [...(this.failures.get(method) ?? []), error])
    return this
  }

  private maybeFail(method: UserStoreCall['method']): void {
    const queued = this.failures.get(method)
    if (queued && queued.length > 0) throw queued.shift()
  }

  /** Changes a row behind the workflow's back (another writer). */
  update(userId: string, change: Partial<Omit<UserRecord, 'id'>>): this {
    const user = this.users.get(userId)
    if (!user) throw new Error(`no user ${userId}`)
    this.users.set(userId, { ...user, ...change })
    return this
  }

  snapshot(userId: string): UserRecord | undefined {
    const user = this.users.get(userId)
    return user && { ...user }
  }

  remainingLookups(userId: string): number {
    return this.lookups.get(userId) ?? 0
  }

  methodsCalled(): string[] {
    return this.calls.map((call) => call.method)
  }

  async findUser(userId: string): Promise<UserRecord | undefined> {
    this.journal?.push('users.findUser')
    this.calls.push({ method: 'findUser', userId })
    this.maybeFail('findUser')
    return this.snapshot(userId)
  }

  async findRoles(userId: string): Promise<string[]> {
    this.journal?.push('users.findRoles')
    this.calls.push({ method: 'findRoles', userId })
    this.maybeFail('findRoles')
    return [...(this.roles.get(userId) ?? [])]
  }

  async findOrganisationIds(userId: string): Promise<string[]> {
    this.journal?.push('users.findOrganisationIds')
    this.calls.push({ method: 'findOrganisationIds', userId })
    this.maybeFail('findOrganisationIds')
    return [...(this.organisations.get(userId) ?? [])]
  }

  async eraseLookups(userId: string): Promise<{ lookups: number; externalIdentities: number }> {
    this.journal?.push('users.eraseLookups')
    this.calls.push({ method: 'eraseLookups', userId })
    this.maybeFail('eraseLookups')
    const lookups = this.lookups.get(userId) ?? 0
    this.lookups.set(userId, 0)
    return { lookups, externalIdentities: 0 }
  }

  async markDeleted(user: UserRecord, change: { requestedBy: string; at: Date }): Promise<MarkDeletedOutcome> {
    this.journal?.push('users.markDeleted')
    this.calls.push({ method: 'markDeleted', userId: user.id, user: { ...user }, requestedBy: change.requestedBy, at: change.at })
    this.maybeFail('markDeleted')
    this.interleaved.shift()?.()
    const scripted = this.scripted.shift()
    if (scripted) return scripted
    const current = this.users.get(user.id)
    if (!current) return { kind: 'changed', current: undefined }
    if (current.status === 2 && current.isDeleted === true) return { kind: 'already-deleted' }
    // Same condition as the Cassandra adapter's lightweight transaction: IF status = ? AND isdeleted = ?
    if (current.status !== user.status || current.isDeleted !== user.isDeleted) return { kind: 'changed', current: { ...current } }
    this.users.set(user.id, { ...current, status: 2, isDeleted: true })
    return { kind: 'deleted' }
  }
}
