import { describe, expect, it } from 'vitest'
import { readSchemas } from '../../schemas/schema-registry.js'
import { deletionSteps, STEPS, stepsOf } from './index.js'

describe('the declared deletion steps', () => {
  it('when the status schema lists step names, then it lists exactly the declared steps (a new step is documented for clients)', () => {
    const status = readSchemas().get('user-delete-status.response') as unknown as {
      properties: { result: { properties: { request: { properties: { steps: { propertyNames: { enum: string[] } } } } } } }
    }

    const documented = status.properties.result.properties.request.properties.steps.propertyNames.enum

    expect(documented).toEqual([...STEPS])
  })

  it('when steps are declared, then names are unique and every step but the lock has a function that runs it', () => {
    expect(new Set(STEPS).size).toBe(STEPS.length)
    expect(deletionSteps.filter((step) => !('run' in step)).map((step) => step.name)).toEqual(['lock'])
  })

  it('when the Sunbird plan is asked for, then it runs every declared step, in the declared order', () => {
    expect(stepsOf('sunbird').map((step) => step.name)).toEqual([...STEPS])
  })
})
