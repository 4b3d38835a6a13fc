/** What the deletion workflow needs from the outside world, in its own words. Plain objects only. */

import type { Caller } from './caller.js'
import type { DeletionReceipt, DeletionRequest, PlanName, RequestIdChosenBy, RequestState, StepName, StepOutcome } from './deletion-request.js'

/** A value as it leaves the service in an export: JSON, nothing else. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/** A stored row, column by column, as JSON (timestamps as ISO 8601 text). */
export type JsonRow = { [column: string]: JsonValue }

/** The facts about a user the workflow decides on: ids and flags, never profile values. */
export interface UserRecord {
  id: string
  status: number | null
  isDeleted: boolean | null
  rootOrgId: string | null
  managedBy: string | null
}

export type MarkDeletedOutcome =
  | { kind: 'deleted' }
  | { kind: 'already-deleted' }
  /** Someone changed the row between our read and our write (e.g. blocked it); read again. */
  | { kind: 'changed'; current: UserRecord | undefined }
  /**
   * The transaction's answer was lost (a timeout) and the row could not be read back either: it may
   * have applied. The request stays open; the sweeper reads the row again and finishes it.
   */
  | { kind: 'unknown' }

export interface UserStore {
  findUser(userId: string): Promise<UserRecord | undefined>
  /** Role names from user_roles, as stored. */
  findRoles(userId: string): Promise<string[]>
  /** Organisations the user belongs to (user_organisation rows not marked left). */
  findOrganisationIds(userId: string): Promise<string[]>
  /** The username, read once before the profile is blanked (only when the event may carry it). */
  findUserName(userId: string): Promise<string | null>
  /**
   * The lock: one lightweight transaction sets status 2 + isdeleted, applied only if the row still
   * holds the values we decided on. From here the user is deleted for every reader and locked out.
   * A lost answer is settled by reading the row back (serially): 'deleted' only when it holds this
   * very change; DependencyUnavailableError only when the change is known not to have applied.
   */
  markDeleted(user: UserRecord, change: { requestedBy: string; at: Date }): Promise<MarkDeletedOutcome>
  /** Removes every user_lookup row of the user (username, email, phone, external ids). Idempotent. */
  eraseLookups(userId: string): Promise<number>
  /** Removes every usr_external_identity row of the user. Idempotent. */
  eraseExternalIdentities(userId: string): Promise<number>
  /** Marks every user_organisation row left (isdeleted, orgleftdate). Idempotent. */
  leaveOrganisations(userId: string, at: Date): Promise<number>
  /** Blanks every personal column of the user row. Idempotent. */
  scrubProfile(userId: string, change: { requestedBy: string; at: Date }): Promise<void>
  /** Ids of the users this user manages (managedby). */
  findManagedUserIds(userId: string): Promise<string[]>
  /** Ids of ORG_ADMINs scoped to an organisation (suggested new owners, for the event). */
  findOrgAdminIds(organisationId: string, limit: number): Promise<string[]>

  // What the person's export shows, and what a dry run counts: every row as stored.
  /** The user row, every column. */
  readUserRow(userId: string): Promise<JsonRow | undefined>
  /** Every user_lookup row of the user. */
  readLookups(userId: string): Promise<{ type: string; value: string }[]>
  /** Every usr_external_identity row of the user. */
  readExternalIdentities(userId: string): Promise<JsonRow[]>
  /** Every user_organisation row of the user, left ones included. */
  readOrganisations(userId: string): Promise<JsonRow[]>
  /** Every user_roles row of the user. */
  readRoles(userId: string): Promise<JsonRow[]>

  // The hard deletion: what Sunbird keeps goes too.
  /** Removes every user_organisation row of the user. Idempotent. */
  removeOrganisations(userId: string): Promise<number>
  /** Removes every user_roles row of the user. Idempotent. */
  eraseRoles(userId: string): Promise<number>

  // Other users' memberships that name the person as who added them (see search-added-by-name.ts).
  /**
   * Sets `addedbyname` to null on the user_organisation row (userId, organisationId), only when the
   * row's `addedby` is `adderId` and its `addedbyname` is set: true when it wrote. Never creates a row. Idempotent.
   */
  blankAdderName(userId: string, organisationId: string, adderId: string): Promise<boolean>
  /** Leaves only id, userid, status 2, isdeleted, createddate, updateddate and updatedby on the row; every other column null. Idempotent. */
  reduceToTombstone(userId: string, change: { requestedBy: string; at: Date }): Promise<void>

  // Cancel of a soft deletion.
  /**
   * Puts status and isdeleted back to what they were before the soft deletion's lock, only while
   * the row still stands as that lock left it: deleted (status 2, isdeleted) and last written by
   * it (`updatedby` its requester and, when the lock's time was kept, `updateddate` that time). One
   * lightweight transaction, so a row that is gone is never written again (an UPDATE would recreate
   * it) and a row an erasure rewrote since (a hard deletion's tombstone, Sunbird's scrub) is never
   * reactivated. 'restored': the row reads not deleted (put back by this write, or by an earlier
   * one: a repeat is harmless); 'changed': it is gone, or deleted by another write since the lock,
   * and was left as it is. A lock recorded before its time was kept is matched on status,
   * isdeleted and `updatedby` only.
   *
   * A row only stamped since by a writer outside this service (`updateddate`, `updatedby`), not
   * erased (some first or last name, email or phone left), is put back over that stamp, conditioned
   * on the row exactly as read again, and only while `stillHolds` answers true (the caller's hold,
   * and no deletion that takes none on the user); a row stamped again each time ends in
   * DependencyUnavailableError after 3 tries. Without `stillHolds`, or when it answers false,
   * 'changed'. The statements and their order: docs/operating.md ("cancel, the row's restore").
   */
  restoreStatus(
    userId: string,
    prior: { status: number | null; isDeleted: boolean | null },
    lock: { requestedBy: string; at?: Date },
    change: { requestedBy: string; at: Date },
    stillHolds?: () => Promise<boolean>,
  ): Promise<'restored' | 'changed'>
}

export interface Clock {
  now(): Date
}

export type AccountErasure = 'deleted' | 'disabled' | 'absent'

/** The identity provider's account of a person, as the export shows it. */
export type AccountRecord = {
  username: string | null
  email: string | null
  firstName: string | null
  lastName: string | null
  enabled: boolean
  /** When the account was created (ISO 8601), when the provider says. */
  created: string | null
  attributes: Record<string, string[]>
  federatedIdentities: { identityProvider: string; userId: string; userName: string }[]
}

/** What disabling a user's accounts did: 'absent' when the provider holds none; the provider's ids of the accounts the call disabled. */
export interface AccountDisabling {
  outcome: 'disabled' | 'absent'
  disabled: string[]
}

/** One account of a user at the identity provider: its provider id, and whether it can sign in. */
export interface AccountState {
  accountId: string
  enabled: boolean
}

/** The identity provider (Keycloak) side of a user. */
export interface IdentityProvider {
  /**
   * Ends every session of the user, then removes the account; when removal is refused, disables it
   * and blanks its names and email instead. Idempotent ('absent' when there is no such account).
   * Throws DependencyUnavailableError when the provider cannot be reached.
   */
  eraseAccount(userId: string): Promise<AccountErasure>
  /**
   * Ends every session of every account the user has and disables each, keeping them (soft
   * deletion). Answers the provider's ids of the accounts this call turned from enabled to
   * disabled (`disabled`; none for one that was disabled already), so that a cancel enables those
   * and no other. `onDisabled` is told each such id as soon as the provider has taken the change,
   * so a caller still knows them when the call fails part way. Idempotent: a second call finds
   * every account disabled and names none.
   */
  disableAccount(userId: string, onDisabled?: (accountId: string) => void): Promise<AccountDisabling>
  /**
   * Enables accounts of the user again (cancel of a soft deletion); the person signs in anew. With
   * `accountIds` (ids disableAccount named), only those of them the provider still holds, and
   * 'absent' when it holds none of them (or none is named); without, every account of the user
   * (a cancel of a deletion recorded before the ids were kept).
   */
  enableAccount(userId: string, accountIds?: readonly string[]): Promise<'enabled' | 'absent'>
  /** The account as the provider holds it, or undefined when there is none. */
  readAccount(userId: string): Promise<AccountRecord | undefined>
  /**
   * Every account the provider holds for the user (the ids disableAccount and enableAccount act on),
   * with whether it is enabled; none when it holds none. Reads only.
   */
  listAccounts(userId: string): Promise<AccountState[]>
}

/**
 * Which deletion holds a user, one row per user, changed only by compare-and-set: of requests
 * racing for one change of state exactly one wins. No row: the user row alone says (active, or
 * deleted by Sunbird's deletion). `restoring`: a cancel is putting a soft deletion back.
 */
export interface UserDeletionState {
  mode: 'soft' | 'hard' | 'sunbird' | 'restoring'
  /** The request that holds it. */
  requestId: string
}

export interface UserDeletionStates {
  get(userId: string): Promise<UserDeletionState | undefined>
  /** Replaces `expected` (undefined: no row) with `next` (undefined: remove the row) if the row still holds `expected`; false otherwise. */
  swap(userId: string, expected: UserDeletionState | undefined, next: UserDeletionState | undefined): Promise<boolean>
}

/** An entry of the sweeper's list: an open request, when it was created, and when it is due if not at once. */
export interface OpenEntry {
  id: string
  userId: string
  createdAt: Date
  dueAt?: Date
}

/**
 * How long after its creation an open entry may still be waiting for its request row: a create
 * whose answer was lost is settled in the background for at most this long (the store's promise).
 */
export const CREATE_SETTLED_WITHIN_MS = 10 * 60_000

/** Durable deletion requests. */
export interface DeletionRequestStore {
  /**
   * Lists the request as open and creates it (state accepted); false when the id is taken already
   * (its request may be left listed by it, closed or not: the sweeper unlists one that owes nothing).
   * Creating it is the point of no return: from there the request is carried out (by the sweeper
   * if not by its runner). DependencyUnavailableError only when it is known not to exist; 'unknown'
   * when the answer was lost and the row could not be read back (the store keeps settling it in the
   * background, so it exists once the store is reachable again; the open entry keeps the request, so
   * the sweeper creates it from there should that settle be cut short: createFromEntry). An entry
   * whose own write failed (DependencyUnavailableError: its caller hears "retry") has what it kept
   * withdrawn in the background, so it keeps nothing should it land all the same. `idChosenBy` 'service' promises
   * that no other create can name the id (see RequestIdChosenBy): the create is then a plain write,
   * safe to send again, and answers true once written.
   */
  create(request: DeletionRequest, leaseUntil: Date, idChosenBy: RequestIdChosenBy): Promise<boolean | 'unknown'>
  /**
   * Lists and creates a request under a derived id that no earlier try can have created (a batch
   * item never tried, of a slice never taken before), fenced by the lease its caller holds on that
   * work (`fence`, the slice lease's end) instead of a compare-and-set: a plain write stamped at a
   * time within the fence, so any create or write of the lease's next holder (made only past the
   * fence) wins over it cell by cell, however late this one lands, and it then changes nothing. The
   * request's lease ends by the fence (the earlier of `leaseUntil` and `fence`), so a caller that
   * stalls past the fence finds it run out and its next fenced write refused (LeaseLostError) once
   * another runner took the request. 'fence passed': not known in place while the fence holds, so
   * the caller goes no further: the fence had passed before the create could be stamped (nothing
   * written), or its answer was lost (it may land, stamped within the fence). Never settled later,
   * unlike create: the lease's next holder finds the request if it landed.
   */
  createFenced(request: DeletionRequest, leaseUntil: Date, fence: Date): Promise<true | 'fence passed'>
  /**
   * Creates the request an open entry names when no create ever made it (the sweeper asks once the
   * entry is twice CREATE_SETTLED_WITHIN_MS old and still has no request): a create whose row never
   * applied, whose caller may have been answered "accepted". `create` keeps in the entry what the
   * request was created with (ids, plan, schedule, target), and the request is created again from
   * that, as it was: accepted, no steps, its creation time; its lease free, for the sweeper to take.
   * Under a compare-and-set, so a copy of the first create that lands late changes nothing.
   * 'exists': a request has that id now. 'not kept': the entry keeps no request, or is gone: a
   * fenced create's (its batch job settles that item), one listed by reopen, one whose write failed
   * (its caller heard "retry"), or one written before entries kept their request.
   */
  createFromEntry(id: string): Promise<DeletionRequest | 'exists' | 'not kept'>
  get(id: string): Promise<DeletionRequest | undefined>
  /** Newest first. */
  findByUser(userId: string, limit: number): Promise<DeletionRequest[]>
  /** Takes the request for `until` if nobody holds it: only one runner at a time. */
  acquireLease(id: string, now: Date, until: Date): Promise<boolean>
  /**
   * Gives the request up (a runner that failed half-way), so a retry can take it over at once.
   * `heldUntil`: as for recordSteps, except that a lease lost already is simply not given up.
   */
  releaseLease(id: string, heldUntil?: Date): Promise<void>
  /**
   * Records the outcomes of one or more steps (one write: a run checkpoints several at once) and the
   * state, and holds the request until `leaseUntil` in the same write: a runner that keeps
   * checkpointing keeps its lease.
   *
   * `heldUntil` fences a runner's write by the lease it holds (the value its create, acquire or last
   * checkpoint set); recordSteps, finish and updatePlan all take it. While that lease holds, the
   * write is plain, and it loses to every write of a runner that takes the request over later,
   * even if it is applied after them (a stalled driver, a replica's hint). Once the lease has run
   * out, the write lands only if nobody took the request since (a compare-and-set on the lease);
   * else it throws LeaseLostError and writes nothing. Without `heldUntil` the write is plain, for
   * writers that hold no run's lease.
   */
  recordSteps(id: string, outcomes: Partial<Record<StepName, StepOutcome>>, state: RequestState, leaseUntil: Date, heldUntil?: Date): Promise<void>
  /**
   * Holds the request until `leaseUntil`, under the lease the run holds (`heldUntil`), and writes
   * nothing else: a run whose lease has run out takes it again before it does what only a holder
   * may (store the audit record of the request's end). Fenced as recordSteps is: once `heldUntil`
   * has passed, a compare-and-set on the lease that lands only if nobody took the request since;
   * else LeaseLostError, and nothing written.
   */
  renewLease(id: string, leaseUntil: Date, heldUntil: Date): Promise<void>
  /**
   * Whether the request's lease is still exactly `heldUntil`, as the run's last write set it: a
   * compare-and-set that writes the same value (one lightweight transaction), else LeaseLostError.
   * For a write sent while the lease held but answered only after it ran out: it may have landed
   * after another runner took the request over, and lost to that runner's lease by its timestamp.
   */
  confirmLease(id: string, heldUntil: Date): Promise<void>
  /**
   * Sets the final (or partial, or scheduled) state and the receipt; a scheduled or partial one is
   * listed as due at `dueAt` (null: at once; absent: as it was listed), in the same write as the state, whole or not at all: never after the lease is
   * given back, where it could push back the "due at once" of a cancel that took the request
   * meanwhile, and, like the state, losing to every write of a later taker however late it lands.
   * Past `heldUntil` (the finish then a compare-and-set on the lease) the due time is not written:
   * the entry keeps the one it had (due at once, for a first settle), and the sweeper, finding the
   * request listed due before its erasure, puts it back (relist). `steps`: outcomes not recorded
   * yet, written with it. Releases the lease, but a finished request's (completed, failed,
   * cancelled) finished under one: its run keeps it, stores the end's audit record, unlists the
   * request, and only then releases it, so nobody (a cancel reopening it, the sweeper) acts on the
   * request between its finish and its record. A finished
   * request stays listed until `unlist`: for a run that died before that, the sweeper takes it up
   * once the lease runs out and stores the record. `heldUntil`: as for recordSteps; required for a
   * finished state (one written without it would read closed, isClosed, with its record owed).
   */
  finish(id: string, state: RequestState, fields: { receipt?: DeletionReceipt; reason?: string; dueAt?: Date | null; steps?: Partial<Record<StepName, StepOutcome>> }, heldUntil?: Date): Promise<void>
  /**
   * Listed requests due by `dueBy` (a scheduled one is due at its erasure time; others always), for
   * the sweeper, each with its creation time. An entry may outlive its request's finish (a run that
   * died before its end's audit record, or a replica down longer than the list keeps tombstones
   * brings it back) or name a request that never came to exist (a create that never applied): the
   * sweeper audits the first if owed and unlists both.
   */
  listOpen(limit: number, dueBy?: Date): Promise<OpenEntry[]>
  /**
   * Makes the listOpen calls that follow one round of the open list, for a caller that must reach
   * every open request once (`npm run deletion:resume`): from the list's start, each call going on
   * from where the last one stopped, none going past the list's end. Entries listed behind the round
   * meanwhile wait for the next one. Once a call has reached the end, listOpen goes round as before.
   */
  startRound(): void
  /** Whether a listOpen call since startRound() has reached the end of the open list (false before any startRound()). */
  roundEnded(): boolean
  /**
   * Takes the request off the sweeper's list, and nothing else. `heldUntil`: the lease a run holds,
   * fencing it as relist: past it nothing is written (the request stays listed), so a run that
   * stalled past its lease never unlists a request another runner has taken and listed since.
   */
  unlist(id: string, heldUntil?: Date): Promise<void>
  /** Whether the request is on the sweeper's list (a finished one: its end's record may be owed). */
  isListed(id: string): Promise<boolean>
  /** The sweeper's list entry of `id`, due or not, whether or not its request exists (deletion:resume of one id). */
  openEntry(id: string): Promise<OpenEntry | undefined>
  /**
   * Whether the request is closed: finished and its lease given back (the epoch), as the run that
   * audited its end and unlisted it leaves it. One whose end's record is owed keeps its run's lease,
   * run out or not. Read before acquireLease, which overwrites the lease.
   */
  isClosed(id: string): Promise<boolean>
  /** A grace period ends: the request follows its erasure plan from here. */
  updatePlan(id: string, plan: PlanName, state: RequestState, heldUntil?: Date): Promise<void>
  /**
   * A finished request, as its runner read it, is taken up again (a cancel undoing it): the state,
   * whose cancel it is (`cancelledBy`, when a caller asked), and listed open (under the user and
   * creation time it was listed with) so the sweeper finishes it. Fenced by `heldUntil` as
   * recordSteps is: LeaseLostError, and nothing written, when another runner took the request over.
   */
  reopen(request: Pick<DeletionRequest, 'id' | 'userId' | 'createdAt' | 'cancelledBy'>, state: RequestState, heldUntil?: Date): Promise<void>
  /**
   * A cancel that has taken a completed request (its lease held) names its caller on it before it
   * lists it and moves the user's hold: `cancelledBy` alone is written, the state and all else stay
   * as they are. A completed request so named owes no end's record (owedEndRecord): the cancel
   * stored any owed before. Fenced by `heldUntil` as reopen is.
   */
  nameCanceller(id: string, cancelledBy: string, heldUntil?: Date): Promise<void>
  /**
   * Lists the request open (again), under the user and creation time it was listed with, due at
   * `dueAt` or at once. Without `heldUntil`: plain idempotent writes, unfenced, since an entry due at
   * once only makes the sweeper look (it reads the request and the user's hold, under its own lease,
   * before it acts). A cancel lists right before it moves the user's hold, so the sweeper finishes
   * whatever of it lands. With `heldUntil` (the sweeper putting back the due time of a grace period it found
   * listed due too early, under the lease it holds): fenced by that lease as recordSteps is while it
   * holds, so a cancel that takes the request later, and lists it due at once, is never pushed back
   * to `dueAt` by this write landing after it; past `heldUntil` nothing is written (the entry stays
   * due, and the sweeper looks again).
   */
  relist(request: Pick<DeletionRequest, 'id' | 'userId' | 'createdAt'>, dueAt?: Date, heldUntil?: Date): Promise<void>
  /**
   * The relay's confirmation that the request's event reached the topic: the event step reads
   * 'published' from then on, whatever outcome the run records for it after (kept apart from the
   * step outcomes, so a run's later write of 'queued' cannot hide it).
   */
  markEventPublished(id: string, at: Date): Promise<void>
}

/** The downstream event, written durably and published by a relay. */
export interface EventOutbox {
  /**
   * Idempotent per request: a run again builds the same mid (see build-event.ts), so a second append
   * leaves one entry with that mid, and an entry published already is not listed again.
   */
  append(requestId: string, event: Record<string, unknown>): Promise<void>
  /** 'published' once the relay has delivered it, else 'queued' (or undefined when none). */
  state(requestId: string): Promise<'queued' | 'published' | undefined>
}

/** Append-only, hash-chained audit records. Ids and outcomes only. */
export interface AuditTrail {
  append(record: AuditRecord): Promise<void>
}

export interface AuditRecord {
  event: 'deletion.accepted' | 'deletion.completed' | 'deletion.partial' | 'deletion.failed' | 'deletion.scheduled' | 'deletion.cancelled' | 'user.exported'
  requestId: string
  userId: string
  requestedBy: string
  at: string
  detail?: Record<string, string | number>
}

/** The search document's flags a soft deletion sets, as they were before it (a cancel puts them back). */
export interface SearchUserFlags {
  status: number | null
  isDeleted: boolean | null
  isBlocked: boolean | null
}

/**
 * Sunbird's search engine (Elasticsearch / OpenSearch): the user document behind `user_alias`
 * (`_id` = user id) and the notes index `usernotes`. Throws DependencyUnavailableError('search')
 * when the engine does not answer or refuses (any error answer but the 404 of what is not there).
 */
export interface UserSearchIndex {
  /** The user document's source, or undefined when there is none. */
  readUser(userId: string): Promise<JsonRow | undefined>
  /** Replaces the whole document with `document` (nothing else survives); 'absent' (nothing written) when there was none. */
  replaceUser(userId: string, document: JsonRow): Promise<'replaced' | 'absent'>
  /** Sets status 2, isDeleted and isBlocked in one update (the caller reads the flags before, for a cancel); false when there is no document. */
  flagUserDeleted(userId: string): Promise<boolean>
  /** Puts the flags back; false when there is no document. */
  restoreUserFlags(userId: string, prior: SearchUserFlags): Promise<boolean>
  /** Removes the user document; 1 when there was one, else 0. */
  deleteUser(userId: string): Promise<number>
  /** Every `usernotes` document of the user; past the adapter's bound (runaway index) it fails as unavailable, never returns part of them. */
  readNotes(userId: string): Promise<JsonRow[]>
  /** Removes every `usernotes` document of the user; how many. */
  deleteNotes(userId: string): Promise<number>
  /**
   * A page of the other users' documents whose memberships added by `adderId` (organisations.addedBy)
   * still carry the adder's name (addedByName), in a stable order: `after`, the page's `next`, asks
   * for the page after it; `next` is absent on the last page. A page may hold fewer than `pageSize`
   * documents and still have a next (documents that match only through another adder's name).
   */
  findAdderNamed(adderId: string, pageSize: number, after?: string): Promise<AdderNamedPage>
  /** Removes addedByName from the memberships of `userId`'s document that `adderId` added; true when the document changed. Idempotent. Not visible to searches before the next refresh (see refreshUsers). */
  eraseAdderName(userId: string, adderId: string): Promise<boolean>
  /** Makes every write to the user documents so far visible to searches (those of eraseAdderName, which do not refresh one by one). */
  refreshUsers(): Promise<void>
}

/** Documents that name an adder in their memberships: each document's id (the user id) and the organisation ids of those memberships. Never the name. */
export interface AdderNamedPage {
  documents: { userId: string; organisationIds: string[] }[]
  next?: string
}

/**
 * What `user:<id>` holds: Sunbird's hash (its fields), or a key of another type that something else
 * wrote there, with its value as held (a string; a list's or a set's members; a sorted set's members
 * and scores; null for a type that is not read: a stream, a module's), or, for a key of any type
 * larger than the adapter's bound (REDIS_MAX_VALUE_BYTES), its type and size without its value.
 */
export type CachedUser =
  | { readonly kind: 'hash'; readonly fields: Record<string, string> }
  | { readonly kind: 'other'; readonly type: string; readonly value: JsonValue }
  | { readonly kind: 'tooLarge'; readonly type: string; readonly size: CachedValueSize; readonly maxBytes: number }

/** How large a cached key is, as far as it was measured before reading it: bytes (a string's length, else Redis's memory for it), members (of a hash, list, set or sorted set; a stream's entries). */
export interface CachedValueSize {
  readonly bytes?: number
  readonly members?: number
}

/**
 * Sunbird's user cache: Redis DB 12, hash `user:<id>`. Throws DependencyUnavailableError('redis') when
 * Redis does not answer, a command included (REDIS_TIMEOUT_MS), is loading or busy, or refuses the
 * credentials; never for what the key holds.
 */
export interface UserCache {
  /** What the key holds, or undefined when there is no key; never more than the adapter's bound (then its size, not its value). */
  readUser(userId: string): Promise<CachedUser | undefined>
  /** Whether there is a key (of any type, any size), without reading or sizing it: what a dry run and a verification need. */
  hasUser(userId: string): Promise<boolean>
  /** Removes the key; 1 when there was one, else 0. */
  deleteUser(userId: string): Promise<number>
}

/** The user-keyed tables of the sunbird keyspace beyond the five Sunbird's deletion touches. */
export type PersonalTable = 'user_declarations' | 'user_consent' | 'user_notes' | 'shadow_user' | 'user_feed' | 'user_cert' | 'address'

/** One table of another keyspace keyed by user id (ERASURE_EXTRA_TARGETS): its rows deleted, or the named columns blanked. */
export interface ExtraTarget {
  keyspace: string
  table: string
  /** The column holding the user id. */
  userColumn: string
  action: 'delete' | 'blank'
  /** For 'blank': the columns set to null. */
  columns?: readonly string[]
}

/** The short-lived code tables keyed by a plain email or phone. */
export type CodeTable = 'otp' | 'rate_limit'

export interface PersonalDataTables {
  /** The person's contact values (email, phone and their previous / recovery forms) as the user row holds them; empty ones left out. */
  readContacts(userId: string): Promise<string[]>
  /** Rows of `table` keyed by any of `values` (otp: either type). */
  countCodes(table: CodeTable, values: readonly string[]): Promise<number>
  /** Removes the rows of `table` keyed by any of `values`; how many there were. Idempotent. */
  deleteCodes(table: CodeTable, values: readonly string[]): Promise<number>
  /** Every row of the user in `table` (by its user column or userid index). */
  readRows(table: PersonalTable, userId: string): Promise<JsonRow[]>
  /** Removes every row of the user in `table`; how many. Idempotent. */
  deleteRows(table: PersonalTable, userId: string): Promise<number>
  /** Sets name, email and phone of the user's shadow_user rows to null; how many rows. Idempotent. */
  blankShadowUsers(userId: string): Promise<number>
  /** Rows of the user in an extra target; undefined when its table does not exist. */
  countExtra(target: ExtraTarget, userId: string): Promise<number | undefined>
  /** Deletes the user's rows of an extra target, or blanks its columns; how many rows; undefined when its table does not exist. */
  eraseExtra(target: ExtraTarget, userId: string): Promise<number | undefined>
  /**
   * What deletion:verify reads again of an extra target, in one read: the user's rows, and how many
   * of them still hold a value in a column the target blanks (never the values). 'table not found'
   * when its table does not exist; 'column not found' when a column it names (its userColumn, or one
   * it blanks) is not in the table.
   */
  inspectExtra(target: ExtraTarget, userId: string): Promise<{ rows: number; holdingValues: number } | 'table not found' | 'column not found'>
}

/** When a store will have physically dropped the values a deletion overwrote or removed, from its live settings. */
export interface PhysicalErasure {
  /** By store name as the receipt names it; a store it cannot speak for is left out. Never throws. */
  horizons(stores: readonly string[], at: Date): Promise<Record<string, { by?: string; how: string }>>
}

/** Told about every locked (deleted) user and every restored one: the lock-out cache listens. */
export interface DeletionListener {
  /** `restorable`: a soft deletion, which a cancel may undo (so the answer is not kept as final). */
  userDeleted(userId: string, restorable?: boolean): void
  userRestored(userId: string): void
}

/** A batch job's stored state: `paused` while its circuit breaker is open. A cancel is kept apart (BatchJob.cancelled), so no breaker write overwrites it. */
export type BatchJobState = 'running' | 'paused' | 'completed'

/** Who cancelled a job, and when: ids only. */
export interface BatchCancellation {
  at: Date
  by: string
}

/** What became of a job's cancel: `recorded` when this call's stands, else an earlier one's does, recorded `at`. */
export interface BatchCancelOutcome {
  recorded: boolean
  at: Date
}

/** A batch of deletions, asked for in one call and worked through by every instance. Ids only. */
export interface BatchJob {
  id: string
  createdBy: string
  /** The creator's organisations (the scopes of their roles): whose ORG_ADMINs may follow the job. */
  organisationIds: string[]
  /** Who each id is deleted as: the creator, exactly as they were verified when submitting. */
  caller: Caller
  mode?: 'soft' | 'hard'
  total: number
  /** How many slices the ids are split into; a slice is the unit an instance leases. */
  slices: number
  state: BatchJobState
  createdAt: Date
  updatedAt: Date
  /** Present once the job was cancelled: no deletion begins after the runners see it. */
  cancelled?: BatchCancellation
}

/** `cancelled`: the job was cancelled before this user's deletion began; they were not deleted. */
export type BatchItemStatus = 'deleted' | 'failed' | 'pending' | 'cancelled'

/** One user of a batch: the outcome of its deletion (`err`: the code it failed with). */
export interface BatchItem {
  userId: string
  slice: number
  status: BatchItemStatus
  err?: string
  /** Tries that met an unavailable dependency (retried until the limit). */
  attempts: number
  at?: Date
  /**
   * Only for a deleted user: their deletion still owed steps when the job settled them (its request
   * `partial`, a store unreachable, or handed over unfinished to the sweeper), which are retried
   * until done. As it stood then: not changed when those steps are done later.
   */
  owed?: boolean
}

/** What became of a slice's users, counted once when the slice is done, so a job's status reads slices instead of every user. */
export interface SliceTally {
  succeeded: number
  /** Failed users by code. */
  failed: Record<string, number>
  /** Users not deleted because the job was cancelled first (absent: none). */
  cancelled?: number
  /** Deleted users whose deletion still owed steps when settled (BatchItem.owed; absent: none). */
  owed?: number
  /**
   * When the first and the last of the users deletion work settled (deleted or failed) were settled;
   * not those a cancel spared, settled at once and by none (absent: none had a time).
   */
  firstSettledAt?: Date
  lastSettledAt?: Date
}

export interface BatchSliceState {
  slice: number
  done: boolean
  leaseUntil: Date
  /** Some instance has taken the slice at some time: its users may have been tried. */
  taken: boolean
  /** Its users' outcomes, counted when it was done (absent for slices done before the counts were kept). */
  tally?: SliceTally
}

/** Durable batch jobs: the job, its slices (leased to one instance at a time), and one outcome per user. */
export interface BatchJobStore {
  /**
   * Records the job itself (not its slices or users: `open` writes those) unless a job is recorded
   * under its id already: a compare-and-set, so of creates under one id, at once or one after another
   * (a submit retried with its Idempotency-Key, from which the id follows), exactly one records it.
   * Answers undefined when this one was recorded, else the job recorded under the id, untouched.
   */
  create(job: BatchJob): Promise<BatchJob | undefined>
  /**
   * Opens a recorded job to the runners: writes its slices (free) and the given users (pending), then
   * lists it open, last, so a runner never meets a job whose users are not all written. Safe to do
   * again, also while an earlier call is still under way (a retried submit completing what a failed
   * one left unwritten): a slice or user written before is left as it is, so a user already worked
   * keeps their outcome and a slice its lease, holder and counts; a completed job is not listed again.
   */
  open(job: BatchJob, items: readonly Pick<BatchItem, 'userId' | 'slice'>[]): Promise<void>
  /**
   * Records and opens a job whose id no other submit names (a random one: a submit without an
   * Idempotency-Key), so that it is seen only once whole: its slices (free) and users (pending)
   * first, then the job and its open listing together, both or neither (one logged batch). A call
   * that fails part way leaves no job: get answers none (the status route: not found), no runner
   * lists it, and the slices and users it wrote are named by nothing. One whose answer was lost
   * may have recorded the whole job, which is then worked as any other.
   */
  createWhole(job: BatchJob, items: readonly Pick<BatchItem, 'userId' | 'slice'>[]): Promise<void>
  get(jobId: string): Promise<BatchJob | undefined>
  /** Every user of one slice. */
  items(jobId: string, slice: number): Promise<BatchItem[]>
  /** The job's users from `offset`, at most `limit` of them, in slice order (reads no more than offset + limit). */
  itemsPage(jobId: string, offset: number, limit: number): Promise<BatchItem[]>
  /**
   * One user's outcome, fenced by the slice's lease (`heldUntil`): false, and nothing written, once
   * the lease has run out (another instance may hold the slice now); while it holds, the write
   * carries the time it was checked, so a later holder's writes win however late this one lands.
   */
  recordItem(jobId: string, item: BatchItem, heldUntil: Date): Promise<boolean>
  setState(jobId: string, state: BatchJobState): Promise<void>
  /**
   * Records that the job was cancelled, apart from its state (a breaker's late state write never
   * undoes it), unless a cancel is recorded already: a compare-and-set, so of cancels at once or one
   * after another exactly one is recorded, and its who and when stand. Answers whether this one was,
   * and when the one that stands was recorded. Only for a job recorded (get answers it): a cancel of
   * an id no job has would leave a partial row.
   */
  cancel(jobId: string, cancellation: BatchCancellation): Promise<BatchCancelOutcome>
  /** Ids of the jobs not completed. */
  listOpen(): Promise<string[]>
  /** Marks the job completed and unlists it. Idempotent. */
  complete(jobId: string): Promise<void>
  slices(jobId: string): Promise<BatchSliceState[]>
  /**
   * Takes the slice for `owner` until `until` if its lease has run out: one instance at a time.
   * `neverTaken`: the slice was read never taken, and is taken as such only if no instance has
   * taken it since (one compare-and-set all the same), so its holder knows that none of its users
   * was tried before, however stale its read: a holder that took it since may have opened their
   * requests, and then given it back or seen its lease run out.
   */
  acquireSlice(jobId: string, slice: number, owner: string, now: Date, until: Date, neverTaken?: boolean): Promise<boolean>
  /** Extends the lease while `owner` still holds it; false when it was lost. */
  renewSlice(jobId: string, slice: number, owner: string, until: Date): Promise<boolean>
  /**
   * Gives the slice up at once (shutdown, or a dependency in trouble), so any instance may take it;
   * only while `owner` is still the one that took it last: a slice another instance took over
   * meanwhile stays with that instance.
   */
  releaseSlice(jobId: string, slice: number, owner: string): Promise<void>
  /** Every user of the slice is settled: marked done with what became of them. Fenced by the lease as recordItem is. */
  finishSlice(jobId: string, slice: number, tally: SliceTally, heldUntil: Date): Promise<boolean>
  /** Takes one token of the job's budget for the given second, across every instance; answers how many were taken in that second so far. */
  takePaceToken(jobId: string, second: number): Promise<number>
}

/** What a requester's count holds for one minute (minutes since the epoch). */
export interface MinuteCount {
  minute: number
  count: number
}

/**
 * How many deletions each requester has done or has under way, per minute, across every instance:
 * the mass-deletion guard's reservations, summed over a sliding window. A counter, so `add` is not
 * idempotent (never replayed) and cannot be conditional; `countsBetween` sees every `add`
 * acknowledged before it is asked.
 */
export interface RequesterDeletionCounts {
  /** Adds `delta` to the requester's count for the minute: 1 reserves a deletion, -1 gives one back. */
  add(requester: string, minute: number, delta: number): Promise<void>
  /** The requester's counts of the minutes from `fromMinute` to `toMinute`, both included, oldest first; a minute nothing was added to may be left out. */
  countsBetween(requester: string, fromMinute: number, toMinute: number): Promise<MinuteCount[]>
}
