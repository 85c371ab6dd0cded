import type { FastifyInstance, FastifyRequest } from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import type { BooleanFlagKey, Evaluation, FlagKey, FlagValueOf } from '../src/index.js'

// What an app writes to type its flags, checked by `tsc --noEmit` (the package's typecheck). It
// holds for every test file of the package: the flags the other tests read are here too.
declare module '../src/types.js' {
  interface AcmeFlags {
    'new-billing': boolean
    theme: 'light' | 'dark'
    limits: { max: number }
    uploads: boolean
    'beta-reports': boolean
    checkout: string
    'new-checkout': string
    'white-glove': boolean
    launch: boolean
    ramped: boolean
  }
}

describe('flags typed by augmentation', () => {
  it('narrows keys and values', () => {
    expectTypeOf<FlagKey>().toEqualTypeOf<
      | 'new-billing'
      | 'theme'
      | 'limits'
      | 'uploads'
      | 'beta-reports'
      | 'checkout'
      | 'new-checkout'
      | 'white-glove'
      | 'launch'
      | 'ramped'
    >()
    expectTypeOf<BooleanFlagKey>().toEqualTypeOf<
      'new-billing' | 'uploads' | 'beta-reports' | 'white-glove' | 'launch' | 'ramped'
    >()
    expectTypeOf<FlagValueOf<'theme'>>().toEqualTypeOf<'light' | 'dark'>()
  })

  it('types request.flags and app.flags', () => {
    expectTypeOf<FastifyRequest['flags']['value']>().toBeCallableWith('limits')
    expectTypeOf<ReturnType<FastifyRequest['flags']['isEnabled']>>().toEqualTypeOf<boolean>()
    // @ts-expect-error: theme is not a boolean flag
    expectTypeOf<FastifyRequest['flags']['isEnabled']>().toBeCallableWith('theme')
    // @ts-expect-error: no such flag
    expectTypeOf<FastifyRequest['flags']['value']>().toBeCallableWith('typo')
    expectTypeOf<FastifyInstance['flags']['explain']>()
      .returns.toHaveProperty('evaluation')
      .toEqualTypeOf<Evaluation>()
  })
})
