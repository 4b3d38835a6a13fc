import { deleteUserEvent } from './delete-user-event.js'
import { externalIdentities } from './external-identities.js'
import { extraTargets } from './extra-targets.js'
import { keycloakAccount } from './keycloak-account.js'
import { lock } from './lock.js'
import { lookups } from './lookups.js'
import { managedUsersStep } from './managed-users.js'
import { organisations } from './organisations.js'
import { roles } from './roles.js'
import { searchAddedByName } from './search-added-by-name.js'
import { searchNotes } from './search-notes.js'
import { searchUser } from './search-user.js'
import { shadowUser } from './shadow-user.js'
import { otpCodes, rateLimits } from './short-lived-codes.js'
import { address, consent, declarations, notes, userCert, userFeed } from './side-tables.js'
import type { DeletionStep, PlanName } from './step.js'
import { cacheUser } from './user-cache.js'
import { userRow } from './user-row.js'

/**
 * The steps that erase one person's stores, in the order they run for the deleted user. A managed
 * user goes through the same ones, under the same plan (see managed-users.ts): a step added here
 * erases the managed users' copy of its store too.
 */
const personalStoreSteps = [
  keycloakAccount,
  // Keyed by the plain email / phone: found from the profile, so before it is blanked.
  otpCodes,
  rateLimits,
  lookups,
  externalIdentities,
  organisations,
  roles,
  declarations,
  consent,
  notes,
  searchNotes,
  shadowUser,
  userFeed,
  userCert,
  address,
  extraTargets,
  userRow,
  // After the row, as Sunbird updates its search document after the database.
  searchUser,
  // After the person's own document: then other users' documents that name them as who added them.
  searchAddedByName,
  cacheUser,
] as const satisfies readonly DeletionStep[]

const managedUsers = managedUsersStep(personalStoreSteps)

/**
 * Every step of a deletion, in the order they run. Adding a step: one file in this folder that
 * declares it (see step.ts), one line here (in personalStoreSteps when it erases a store of the
 * person), and its name in the step names of schemas/deletion-request.json (a unit test
 * compares the two).
 */
export const deletionSteps = [lock, ...personalStoreSteps, managedUsers, deleteUserEvent] as const satisfies readonly DeletionStep[]

export type StepName = (typeof deletionSteps)[number]['name']

export const STEPS: readonly StepName[] = deletionSteps.map((step) => step.name)

/** The steps a plan runs, in order. */
export function stepsOf(plan: PlanName): readonly DeletionStep<StepName>[] {
  return deletionSteps.filter((step: DeletionStep<StepName>) => step.plans.includes(plan))
}
