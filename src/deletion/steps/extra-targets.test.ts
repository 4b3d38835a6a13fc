import { describe, expect, it } from 'vitest'
import { WORLD_GRACE_DAY_MS, deletionWorld } from '../../../test/support/fakes/deletion-world.js'
import { cancelDeletion } from '../cancel-deletion.js'
import type { Caller } from '../caller.js'
import { type DeletionInput, deleteAccount } from '../delete-account.js'
import type { ExtraTarget } from '../ports.js'
import { resumeOpenDeletions } from '../run-deletion.js'

const TARGET = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const ENROLMENTS = { keyspace: 'sunbird_courses', table: 'user_enrolments', userColumn: 'userid', action: 'delete' } as const
const FEED: ExtraTarget = { keyspace: 'sunbird_notifications', table: 'notification_feed', userColumn: 'userid', action: 'blank', columns: ['message'] }

const self = (): Caller => ({ consumer: 'portal', userId: TARGET, roles: [] })
let counter = 0
const ask = (fields: Partial<DeletionInput> = {}): DeletionInput => ({ requestId: `req-${++counter}`, userId: TARGET, caller: self(), ...fields })

function world() {
  const w = deletionWorld({ seed: [{ id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'] }], extraTargets: [ENROLMENTS, FEED] })
  w.tables.addRow('sunbird_courses.user_enrolments', { userid: TARGET, courseid: 'c-1', progress: 80 })
  w.tables.addRow('sunbird_notifications.notification_feed', { userid: TARGET, id: 'n-1', message: 'Asha, your certificate is ready' })
  return w
}

type World = ReturnType<typeof world>

/** The target's rows in each extra target, and whether the blanked column still holds a value. */
async function extraRows(w: World) {
  const feed = (w.tables.rows.get('sunbird_notifications.notification_feed') ?? []).filter((row) => row.userid === TARGET)
  return { enrolments: await w.tables.countExtra(ENROLMENTS, TARGET), feedMessage: feed[0]?.message ?? null }
}

const KEPT = { enrolments: 1, feedMessage: 'Asha, your certificate is ready' }
const ERASED = { enrolments: 0, feedMessage: null }

const receiptLines = (w: World) =>
  (w.requests.all()[0]?.receipt?.stores ?? [])
    .filter((entry) => entry.store.startsWith('cassandra.sunbird_'))
    .map((entry) => `${entry.store}: ${entry.action}${entry.count === undefined ? '' : ` ${entry.count}`}`)

describe('extra targets (ERASURE_EXTRA_TARGETS), erased only when the deletion erases', () => {
  it('when a soft deletion runs, then no extra target is touched, the receipt says each is kept, and a cancel finds them as they were', async () => {
    const w = world()

    await deleteAccount(w.deps, ask({ mode: 'soft' }))

    expect(await extraRows(w)).toEqual(KEPT)
    expect(receiptLines(w)).toEqual(['cassandra.sunbird_courses.user_enrolments: kept', 'cassandra.sunbird_notifications.notification_feed: kept'])

    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    expect(w.requests.all()[0]?.state).toBe('cancelled')
    expect(await extraRows(w)).toEqual(KEPT)
  })

  it('when a grace period is cancelled before it ends, then the extra targets were never touched', async () => {
    const w = world()

    await deleteAccount(w.deps, ask({ gracePeriodDays: 14 }))
    expect(await extraRows(w)).toEqual(KEPT)
    await cancelDeletion(w.deps, { userId: TARGET, caller: self() })

    expect(await extraRows(w)).toEqual(KEPT)
  })

  it('when a grace period ends, then the erasure erases the extra targets, and the receipt says so per table', async () => {
    const w = world()
    await deleteAccount(w.deps, ask({ gracePeriodDays: 1 }))
    expect(w.requests.all()[0]?.steps.extraTargets).toMatchObject({ status: 'skipped', action: 'kept', plan: 'soft' })

    w.clock.advance(WORLD_GRACE_DAY_MS)
    await resumeOpenDeletions(w.deps)

    expect(w.requests.all()[0]?.state).toBe('completed')
    expect(await extraRows(w)).toEqual(ERASED)
    expect(receiptLines(w)).toEqual(['cassandra.sunbird_courses.user_enrolments: deleted 1', 'cassandra.sunbird_notifications.notification_feed: blanked 1'])
  })

  it('when Sunbird’s deletion or a hard one runs, then the extra targets are erased at once', async () => {
    for (const mode of [undefined, 'hard'] as const) {
      const w = world()

      await deleteAccount(w.deps, ask(mode ? { mode } : {}))

      expect(await extraRows(w)).toEqual(ERASED)
    }
  })

  it('when a dry run is asked, then a soft deletion keeps the extra targets, and a grace period shows what its erasure will do', async () => {
    const w = world()

    const soft = await deleteAccount(w.deps, ask({ mode: 'soft', dryRun: true }))
    const grace = await deleteAccount(w.deps, ask({ gracePeriodDays: 3, dryRun: true }))

    const extra = (outcome: typeof soft) => (outcome.kind === 'dry-run' ? outcome.plan : []).filter((entry) => entry.store.startsWith('cassandra.sunbird_'))
    expect(extra(soft)).toEqual([
      { store: 'cassandra.sunbird_courses.user_enrolments', action: 'keep', count: 1 },
      { store: 'cassandra.sunbird_notifications.notification_feed', action: 'keep', count: 1 },
    ])
    expect(extra(grace)).toEqual([
      { store: 'cassandra.sunbird_courses.user_enrolments', action: 'delete', count: 1 },
      { store: 'cassandra.sunbird_notifications.notification_feed', action: 'blank', count: 1 },
    ])
  })
})
