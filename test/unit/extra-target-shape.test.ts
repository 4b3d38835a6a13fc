import { describe, expectTypeOf, it } from 'vitest'
import type { ExtraTarget } from '../../src/deletion/ports.js'
import type { ServiceConfiguration } from '../../src/schemas/schema-types.js'

type ConfiguredExtraTarget = ServiceConfiguration['deletion']['extraTargets'][number]

// Checked by tsc (npm test runs it first): src/deletion may not import the schema types, so its
// ExtraTarget is written by hand, and compose.ts only checks that a configured target fits it.
describe('ExtraTarget', () => {
  it('names the same fields as an item of the configuration schema’s deletion.extraTargets, so a field added to the schema is not dropped on its way to the deletion', () => {
    expectTypeOf<keyof ExtraTarget>().toEqualTypeOf<keyof ConfiguredExtraTarget>()
    expectTypeOf<ConfiguredExtraTarget>().toExtend<ExtraTarget>()
  })
})
