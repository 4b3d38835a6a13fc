import { deleteUserEvent } from './delete-user-event.js'
import { externalIdentities } from './external-identities.js'
import { keycloakAccount } from './keycloak-account.js'
import { lock } from './lock.js'
import { lookups } from './lookups.js'
import { managedUsers } from './managed-users.js'
import { organisations } from './organisations.js'
import { roles } from './roles.js'
import type { DeletionStep, PlanName } from './step.js'
import { userRow } from './user-row.js'

/**
 * Every step of a deletion, in the order they run. Adding a step: one file in this folder that
 * declares it (see step.ts), one line here, and its name in the steps of
 * schemas/user-delete-status.response.json (a unit test compares the two).
 */
export const deletionSteps = [lock, keycloakAccount, lookups, externalIdentities, organisations, roles, userRow, managedUsers, deleteUserEvent] as const satisfies readonly DeletionStep[]

export type StepName = (typeof deletionSteps)[number]['name']

export const STEPS: readonly StepName[] = deletionSteps.map((step) => step.name)

/** The steps a plan runs, in order. */
export function stepsOf(plan: PlanName): readonly DeletionStep<StepName>[] {
  return deletionSteps.filter((step: DeletionStep<StepName>) => step.plans.includes(plan))
}
