import { describe, expect, it } from 'vitest'
import { readSchemas } from '../../schemas/schema-registry.js'
import { deletionSteps, STEPS, stepsOf } from './index.js'
import type { DeletionStep } from './step.js'

describe('the declared deletion steps', () => {
  it('when the status schema lists step names, then it lists exactly the declared steps (a new step is documented for clients)', () => {
    const request = readSchemas().get('deletion-request') as unknown as { properties: { steps: { propertyNames: { enum: string[] } } } }

    const documented = request.properties.steps.propertyNames.enum

    expect(documented).toEqual([...STEPS])
  })

  it('when steps are declared, then names are unique and every step but the lock has a function that runs it', () => {
    expect(new Set(STEPS).size).toBe(STEPS.length)
    expect(deletionSteps.filter((step) => !('run' in step)).map((step) => step.name)).toEqual(['lock'])
  })

  it('when a plan is asked for, then it runs its steps in the declared order: Sunbird every step but roles and consent, hard every step, soft the lock, the account, the codes, the extra targets (kept), the search flags and the cache', () => {
    expect(stepsOf('sunbird').map((step) => step.name)).toEqual(STEPS.filter((step) => step !== 'roles' && step !== 'consent'))
    expect(stepsOf('hard').map((step) => step.name)).toEqual([...STEPS])
    expect(stepsOf('soft').map((step) => step.name)).toEqual(['lock', 'keycloak', 'otp', 'rateLimit', 'extraTargets', 'searchUser', 'cacheUser'])
  })

  it('when steps are declared, then the codes keyed by plain email or phone are erased before the profile is blanked', () => {
    expect(STEPS.indexOf('otp')).toBeLessThan(STEPS.indexOf('userRow'))
    expect(STEPS.indexOf('rateLimit')).toBeLessThan(STEPS.indexOf('userRow'))
  })

  it('when steps are declared, then every step previews what a dry run would do, and each store that holds personal data exports it', () => {
    expect(deletionSteps.filter((step: DeletionStep) => !step.preview).map((step) => step.name)).toEqual([])
    expect(deletionSteps.filter((step) => 'exportData' in step).map((step) => step.name)).toEqual([
      'keycloak',
      'lookups',
      'externalIdentities',
      'organisations',
      'roles',
      'declarations',
      'consent',
      'notes',
      'searchNotes',
      'shadowUser',
      'userFeed',
      'userCert',
      'address',
      'userRow',
      'searchUser',
      'cacheUser',
      'managedUsers',
    ])
  })

  it('when the soft plan runs a step, then that step can restore what it did, but caches and short-lived codes, which a cancel does not bring back, and the extra targets, which it only records as kept', () => {
    expect(
      stepsOf('soft')
        .filter((step) => !step.restore)
        .map((step) => step.name),
    ).toEqual(['otp', 'rateLimit', 'extraTargets', 'cacheUser'])
  })
})
