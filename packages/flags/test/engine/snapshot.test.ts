import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type FlagDefinitionInput,
  flagDefinitionSchema,
  type SegmentDefinition,
} from '../../src/engine/definition.js'
import { bucketOf } from '../../src/engine/murmur.js'
import { FlagSnapshot, type TenantOverride } from '../../src/engine/snapshot.js'

const PLANS: Record<string, readonly string[]> = {
  starter: [],
  pro: ['uploads', 'sso'],
  enterprise: ['uploads', 'sso', 'audit-export'],
}

function snapshot(
  flags: FlagDefinitionInput[],
  extra: { segments?: SegmentDefinition[]; overrides?: TenantOverride[]; version?: number } = {},
): FlagSnapshot {
  return new FlagSnapshot({
    version: extra.version ?? 1,
    flags: flags.map((flag) => flagDefinitionSchema.parse(flag)),
    segments: extra.segments ?? [],
    overrides: extra.overrides ?? [],
    entitlements: (plan) => PLANS[plan] ?? [],
  })
}

/** A flag with every layer configured, each giving a value of its own. */
const layered: FlagDefinitionInput = {
  key: 'checkout',
  type: 'string',
  defaultValue: 'default',
  offValue: 'off',
  plans: { enterprise: 'plan-enterprise' },
  prerequisites: [{ key: 'payments', value: true }],
  rules: [
    {
      id: 'eu',
      conditions: [{ attribute: 'country', operator: 'in', values: ['FR', 'DE'] }],
      value: 'rule-eu',
    },
  ],
  rollout: { percentage: 50, value: 'rollout', stickiness: 'tenant' },
}
const payments: FlagDefinitionInput = { key: 'payments', type: 'kill-switch', defaultValue: true }

/** A tenant id inside (or outside) checkout's 50 % rollout. */
function tenantIn(inside: boolean): string {
  for (let index = 0; ; index++) {
    const id = `tenant-${index}`
    if (bucketOf('checkout', '', id) < 5_000 === inside) return id
  }
}

describe('evaluation order: kill switch → prerequisite → plan → override → rules → rollout → default', () => {
  const overridden = 'tenant-overridden'
  const flags = snapshot([layered, payments], {
    overrides: [{ flagKey: 'checkout', tenantId: overridden, value: 'override' }],
  })
  const outside = tenantIn(false)

  it('serves each layer when the layers before it do not match', () => {
    const cases = [
      [{ tenantId: outside, plan: 'starter' }, 'default', 'DEFAULT', 'default'],
      [{ tenantId: tenantIn(true), plan: 'starter' }, 'rollout', 'SPLIT', 'rollout'],
      [
        { tenantId: outside, plan: 'starter', attributes: { country: 'FR' } },
        'rule-eu',
        'TARGETING_MATCH',
        'rule:eu',
      ],
      [
        { tenantId: overridden, plan: 'starter', attributes: { country: 'FR' } },
        'override',
        'OVERRIDE',
        'override',
      ],
      [
        { tenantId: overridden, plan: 'enterprise', attributes: { country: 'FR' } },
        'plan-enterprise',
        'PLAN',
        'plan:enterprise',
      ],
    ] as const
    for (const [context, value, reason, variant] of cases) {
      const evaluation = flags.evaluate('checkout', context)
      expect({
        value: evaluation.value,
        reason: evaluation.reason,
        variant: evaluation.variant,
      }).toEqual({
        value,
        reason,
        variant,
      })
      expect(evaluation.version).toBe(1)
    }
  })

  it('a failed prerequisite beats plan, override, rules and rollout', () => {
    const off = snapshot([layered, { ...payments, enabled: false }], {
      overrides: [{ flagKey: 'checkout', tenantId: overridden, value: 'override' }],
    })
    const evaluation = off.evaluate('checkout', { tenantId: overridden, plan: 'enterprise' })
    expect(evaluation).toMatchObject({
      value: 'off',
      reason: 'PREREQUISITE_FAILED',
      variant: 'prerequisite:payments',
    })
    expect(off.evaluate('payments', {})).toMatchObject({ value: false, reason: 'DISABLED' })
  })

  it('the kill switch beats everything', () => {
    const killed = snapshot([{ ...layered, enabled: false }, payments], {
      overrides: [{ flagKey: 'checkout', tenantId: overridden, value: 'override' }],
    })
    for (const context of [
      { tenantId: overridden, plan: 'enterprise', attributes: { country: 'FR' } },
      { tenantId: tenantIn(true), plan: 'starter' },
      {},
    ]) {
      expect(killed.evaluate('checkout', context)).toMatchObject({
        value: 'off',
        reason: 'DISABLED',
        variant: 'off',
      })
    }
  })

  it('explain lists every layer it passed, and the one that decided', () => {
    const { evaluation, steps } = flags.explain('checkout', {
      tenantId: outside,
      plan: 'starter',
      attributes: { country: 'US' },
    })
    expect(evaluation.reason).toBe('DEFAULT')
    expect(steps.map((step) => `${step.layer}:${step.outcome}`)).toEqual([
      'kill-switch:passed',
      'prerequisite:passed',
      'plan:passed',
      'override:passed',
      'rule:passed',
      'rollout:passed',
      'default:matched',
    ])
    expect(steps[5]?.detail).toMatch(/^bucket \d+ of 10000, rollout below 5000$/)
  })

  it('an unknown flag is an ERROR with no value, and is not enabled', () => {
    expect(flags.evaluate('nope', {})).toMatchObject({
      value: null,
      reason: 'ERROR',
      errorCode: 'FLAG_NOT_FOUND',
    })
    expect(flags.isEnabled('nope', {})).toBe(false)
  })
})

describe('plans', () => {
  it("a boolean flag is on for plans whose entitlements name it (tenancy's catalogue)", () => {
    const flags = snapshot([{ key: 'uploads', type: 'boolean', defaultValue: false }])
    expect(flags.evaluate('uploads', { plan: 'pro' })).toMatchObject({
      value: true,
      reason: 'PLAN',
      variant: 'plan:pro',
    })
    expect(flags.evaluate('uploads', { plan: 'starter' })).toMatchObject({
      value: false,
      reason: 'DEFAULT',
    })
    expect(flags.evaluate('uploads', {})).toMatchObject({ value: false, reason: 'DEFAULT' })
  })

  it('a named entitlement, or none, replaces the key; a value set for a plan wins over it', () => {
    const flags = snapshot([
      { key: 'single-sign-on', type: 'boolean', defaultValue: false, entitlement: 'sso' },
      { key: 'sso', type: 'boolean', defaultValue: false, entitlement: null },
      {
        key: 'exports',
        type: 'boolean',
        defaultValue: false,
        entitlement: 'audit-export',
        plans: { enterprise: false },
      },
    ])
    expect(flags.isEnabled('single-sign-on', { plan: 'pro' })).toBe(true)
    expect(flags.isEnabled('sso', { plan: 'pro' })).toBe(false)
    expect(flags.evaluate('exports', { plan: 'enterprise' })).toMatchObject({
      value: false,
      reason: 'PLAN',
    })
  })

  it('a kill switch ignores plans: only on or off', () => {
    const flags = snapshot([{ key: 'uploads', type: 'kill-switch', defaultValue: true }])
    expect(flags.evaluate('uploads', { plan: 'starter' })).toMatchObject({
      value: true,
      reason: 'DEFAULT',
    })
  })
})

describe('targeting rules', () => {
  const rule = (condition: Record<string, unknown>) =>
    snapshot([
      {
        key: 'f',
        type: 'boolean',
        defaultValue: false,
        rules: [{ id: 'r', conditions: [condition], value: true }],
      },
    ] as FlagDefinitionInput[])
  const holds = (
    condition: Record<string, unknown>,
    attributes: Record<string, unknown>,
    top = {},
  ) => rule(condition).isEnabled('f', { ...top, attributes: attributes as never })

  it.each([
    [{ attribute: 'country', operator: 'in', values: ['FR', 'DE'] }, { country: 'DE' }, true],
    [{ attribute: 'country', operator: 'in', values: ['FR', 'DE'] }, { country: 'US' }, false],
    [
      { attribute: 'roles', operator: 'in', values: ['admin'] },
      { roles: ['viewer', 'admin'] },
      true,
    ],
    [{ attribute: 'country', operator: 'not_in', values: ['FR'] }, { country: 'US' }, true],
    [{ attribute: 'country', operator: 'not_in', values: ['FR'] }, {}, false],
    [{ attribute: 'tier', operator: 'eq', values: ['gold'] }, { tier: 'gold' }, true],
    [{ attribute: 'tier', operator: 'neq', values: ['gold'] }, { tier: 'gold' }, false],
    [{ attribute: 'seats', operator: 'gt', values: [10] }, { seats: 11 }, true],
    [{ attribute: 'seats', operator: 'gte', values: [10] }, { seats: 10 }, true],
    [{ attribute: 'seats', operator: 'lt', values: [10] }, { seats: '9' }, true],
    [{ attribute: 'seats', operator: 'lte', values: [10] }, { seats: 'ten' }, false],
    [
      { attribute: 'signup', operator: 'before', values: ['2026-01-01T00:00:00Z'] },
      { signup: '2025-12-31T23:59:59Z' },
      true,
    ],
    [
      { attribute: 'signup', operator: 'after', values: ['2026-01-01T00:00:00Z'] },
      { signup: Date.parse('2026-06-01') },
      true,
    ],
    [
      { attribute: 'signup', operator: 'after', values: ['2026-01-01T00:00:00Z'] },
      { signup: 'not a date' },
      false,
    ],
    [{ attribute: 'app', operator: 'semver_gte', values: ['2.10.0'] }, { app: '2.9.9' }, false],
    [{ attribute: 'app', operator: 'semver_gte', values: ['2.10.0'] }, { app: '2.10.0' }, true],
    [{ attribute: 'app', operator: 'semver_lt', values: ['2.0.0'] }, { app: '2.0.0-rc.1' }, true],
    [
      { attribute: 'app', operator: 'semver_eq', values: ['1.2.3'] },
      { app: 'v1.2.3+build.7' },
      true,
    ],
    [
      { attribute: 'app', operator: 'semver_gt', values: ['1.0.0-alpha.1'] },
      { app: '1.0.0-alpha.beta' },
      true,
    ],
    [
      { attribute: 'email', operator: 'ends_with', values: ['@initech.test'] },
      { email: 'a@initech.test' },
      true,
    ],
    [{ attribute: 'email', operator: 'starts_with', values: ['ops-'] }, { email: 'dev@x' }, false],
    [
      { attribute: 'email', operator: 'contains', values: ['initech'] },
      { email: 'a@initech.test' },
      true,
    ],
  ])('%j with %j → %s', (condition, attributes, expected) => {
    expect(holds(condition, attributes)).toBe(expected)
  })

  it('reads tenantId, plan and userId from the context itself', () => {
    expect(
      holds({ attribute: 'tenantId', operator: 'in', values: ['t1'] }, {}, { tenantId: 't1' }),
    ).toBe(true)
    expect(holds({ attribute: 'plan', operator: 'eq', values: ['pro'] }, {}, { plan: 'pro' })).toBe(
      true,
    )
    expect(
      holds({ attribute: 'userId', operator: 'in', values: ['u1'] }, {}, { userId: 'u2' }),
    ).toBe(false)
  })

  it('an in-list of 50,000 tenant ids has no cap and decides in a set lookup', () => {
    const ids = Array.from({ length: 50_000 }, (_, index) => `t-${index}`)
    const flags = rule({ attribute: 'tenantId', operator: 'in', values: ids })
    expect(flags.isEnabled('f', { tenantId: 't-49999' })).toBe(true)
    expect(flags.isEnabled('f', { tenantId: 't-50000' })).toBe(false)
  })

  it('every condition of a rule must hold, and the first rule that holds wins', () => {
    const flags = snapshot([
      {
        key: 'f',
        type: 'string',
        defaultValue: 'none',
        rules: [
          {
            id: 'both',
            conditions: [
              { attribute: 'country', operator: 'eq', values: ['FR'] },
              { attribute: 'seats', operator: 'gt', values: [5] },
            ],
            value: 'both',
          },
          {
            id: 'fr',
            conditions: [{ attribute: 'country', operator: 'eq', values: ['FR'] }],
            value: 'fr',
          },
        ],
      },
    ])
    expect(flags.evaluate('f', { attributes: { country: 'FR', seats: 6 } }).variant).toBe(
      'rule:both',
    )
    expect(flags.evaluate('f', { attributes: { country: 'FR', seats: 2 } }).variant).toBe('rule:fr')
    expect(flags.evaluate('f', { attributes: { country: 'US', seats: 9 } }).variant).toBe('default')
  })

  it('segments: a rule names a reusable audience', () => {
    const flags = snapshot(
      [
        {
          key: 'f',
          type: 'boolean',
          defaultValue: false,
          rules: [
            {
              id: 'beta',
              conditions: [{ operator: 'in_segment', values: ['beta-testers'] }],
              value: true,
            },
          ],
        },
        {
          key: 'g',
          type: 'boolean',
          defaultValue: false,
          rules: [
            {
              id: 'rest',
              conditions: [{ operator: 'not_in_segment', values: ['beta-testers'] }],
              value: true,
            },
          ],
        },
      ],
      {
        segments: [
          {
            key: 'beta-testers',
            description: '',
            conditions: [{ attribute: 'tenantId', operator: 'in', values: ['t1', 't2'] }],
          },
        ],
      },
    )
    expect(flags.isEnabled('f', { tenantId: 't2' })).toBe(true)
    expect(flags.isEnabled('f', { tenantId: 't3' })).toBe(false)
    expect(flags.isEnabled('g', { tenantId: 't3' })).toBe(true)
  })
})

describe('percentage rollout', () => {
  const rollout = (percentage: number, stickiness: 'tenant' | 'user' = 'tenant', seed = '') =>
    snapshot([
      {
        key: 'ramp',
        type: 'boolean',
        defaultValue: false,
        rollout: { percentage, value: true, stickiness, seed },
      },
    ])

  it('a unit inside at some percentage stays inside at every higher one (ramps only add)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (tenantId, a, b) => {
          const [low, high] = a <= b ? [a, b] : [b, a]
          if (rollout(low / 100).isEnabled('ramp', { tenantId })) {
            expect(rollout(high / 100).isEnabled('ramp', { tenantId })).toBe(true)
          }
        },
      ),
      { numRuns: 500 },
    )
  })

  it('serves the share it is set to, to 1 point over 20,000 tenants', () => {
    const flags = rollout(25)
    let inside = 0
    for (let index = 0; index < 20_000; index++) {
      if (
        flags.isEnabled('ramp', {
          tenantId: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
        })
      )
        inside++
    }
    expect(inside / 20_000).toBeGreaterThan(0.24)
    expect(inside / 20_000).toBeLessThan(0.26)
  })

  it('0 % serves nobody and 100 % everybody', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (tenantId) => {
        expect(rollout(0).isEnabled('ramp', { tenantId })).toBe(false)
        expect(rollout(100).isEnabled('ramp', { tenantId })).toBe(true)
      }),
    )
  })

  it('sticks to the tenant by default: every user of a tenant sees the same', () => {
    const flags = rollout(50)
    for (let tenant = 0; tenant < 50; tenant++) {
      const tenantId = `tenant-${tenant}`
      const first = flags.isEnabled('ramp', { tenantId, userId: 'u0' })
      for (let user = 1; user < 20; user++) {
        expect(flags.isEnabled('ramp', { tenantId, userId: `u${user}` })).toBe(first)
      }
    }
  })

  it('with user stickiness, users of one tenant differ; without the unit, nobody is in', () => {
    const flags = rollout(50, 'user')
    const seen = new Set<boolean>()
    for (let user = 0; user < 50; user++)
      seen.add(flags.isEnabled('ramp', { tenantId: 't', userId: `u${user}` }))
    expect(seen).toEqual(new Set([true, false]))
    expect(rollout(100, 'user').isEnabled('ramp', { tenantId: 't' })).toBe(false)
    expect(rollout(100).isEnabled('ramp', { userId: 'u' })).toBe(false)
  })

  it('a new seed draws the buckets again', () => {
    let differs = 0
    for (let index = 0; index < 200; index++) {
      const tenantId = `tenant-${index}`
      if (
        rollout(50).isEnabled('ramp', { tenantId }) !==
        rollout(50, 'tenant', 'again').isEnabled('ramp', { tenantId })
      ) {
        differs++
      }
    }
    expect(differs).toBeGreaterThan(50)
  })
})
