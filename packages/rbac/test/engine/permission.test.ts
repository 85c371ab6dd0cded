import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  isPermission,
  PERMISSION_PATTERN,
  PermissionSet,
  parsePermission,
} from '../../src/engine/permission.js'

type Context = { ownerId?: string | null; userId?: string | null }

const set = (...granted: string[]) => PermissionSet.of(granted)

describe('parsing', () => {
  const valid: Array<[string, { resource: string; action: string; own: boolean }]> = [
    ['members:invite', { resource: 'members', action: 'invite', own: false }],
    ['api-keys:create', { resource: 'api-keys', action: 'create', own: false }],
    ['projects:write:own', { resource: 'projects', action: 'write', own: true }],
    ['projects:*', { resource: 'projects', action: '*', own: false }],
    ['projects:*:own', { resource: 'projects', action: '*', own: true }],
    ['*', { resource: '*', action: '*', own: false }],
    ['a1:b2-c3', { resource: 'a1', action: 'b2-c3', own: false }],
    ['projects:owner-transfer', { resource: 'projects', action: 'owner-transfer', own: false }],
    ['own:read', { resource: 'own', action: 'read', own: false }],
    [
      `${'r'.repeat(49)}:${'a'.repeat(50)}`,
      { resource: 'r'.repeat(49), action: 'a'.repeat(50), own: false },
    ],
  ]

  it.each(valid)('accepts %j', (value, parsed) => {
    expect(parsePermission(value)).toEqual(parsed)
    expect(isPermission(value)).toBe(true)
    expect(PERMISSION_PATTERN.test(value)).toBe(true)
  })

  const invalid: Array<[string, string]> = [
    ['', 'empty'],
    [':', 'empty parts'],
    ['members', 'no action'],
    ['members:', 'empty action'],
    [':invite', 'empty resource'],
    ['members::own', 'empty action before own'],
    ['Members:invite', 'uppercase resource'],
    ['members:Invite', 'uppercase action'],
    ['members:invite:OWN', 'uppercase scope'],
    ['members:invite:mine', 'unknown scope'],
    ['members:invite:own:own', 'scope twice'],
    ['members:own', 'action named like the scope'],
    ['members:own:own', 'action named like the scope, scoped'],
    ['*:*', 'wildcard resource with an action'],
    ['*:read', 'wildcard resource'],
    ['*:own', 'own scope on everything'],
    ['members:**', 'double wildcard'],
    ['members:inv*', 'partial wildcard'],
    ['1members:read', 'leading digit'],
    ['-members:read', 'leading dash'],
    ['members:-read', 'action with a leading dash'],
    ['members_x:read', 'underscore'],
    [' members:read', 'leading space'],
    ['members:read ', 'trailing space'],
    ['members:read\n', 'trailing newline'],
    ['members:read\u0000', 'NUL byte'],
    ['members:read;drop table roles', 'SQL-ish'],
    ["members:read' OR '1'='1", 'quote injection'],
    ['../etc:passwd', 'path traversal'],
    ['__proto__:read', 'prototype key'],
    ['members:invité', 'non-ASCII letter'],
    ['members:read,members:invite', 'a list in one string'],
    [`${'r'.repeat(50)}:${'a'.repeat(50)}`, '101 characters'],
    [`${'r'.repeat(46)}:${'a'.repeat(50)}:own`, '101 characters with the scope'],
  ]

  it.each(invalid)('refuses %j (%s)', (value) => {
    expect(parsePermission(value)).toBeNull()
    expect(isPermission(value)).toBe(false)
    expect(PERMISSION_PATTERN.test(value)).toBe(false)
  })

  it('counts the own scope in the 100-character limit', () => {
    const exactly = `${'r'.repeat(45)}:${'a'.repeat(50)}:own`
    expect(exactly).toHaveLength(100)
    expect(isPermission(exactly)).toBe(true)
    expect(isPermission(`r${exactly}`)).toBe(false)
  })

  it('keeps PERMISSION_PATTERN stateless (no global flag) so repeated tests agree', () => {
    expect(PERMISSION_PATTERN.flags).not.toContain('g')
    expect(PERMISSION_PATTERN.test('members:read')).toBe(true)
    expect(PERMISSION_PATTERN.test('members:read')).toBe(true)
  })

  it('refuses a malformed entry when compiling a set, naming it', () => {
    expect(() => set('members:read', 'Members:invite')).toThrow(TypeError)
    expect(() => set('members:read', 'Members:invite')).toThrow(/"Members:invite"/)
    const huge = `x:${'a'.repeat(10_000)}`
    expect(() => set(huge)).toThrow(/…"$/)
  })

  it('refuses a lone string where a list is expected', () => {
    expect(() => PermissionSet.of('members:read')).toThrow(/not a string/)
  })

  it('answers false to a malformed question instead of throwing', () => {
    const all = set('*')
    expect(all.has('Members:read')).toBe(false)
    expect(all.can('members:read; drop')).toBe(false)
    expect(all.can('')).toBe(false)
  })
})

describe('has and can', () => {
  const ASKED = ['r:a', 'r:a:own', 'r:b', 's:a'] as const
  const CONTEXTS: Record<string, Context | undefined> = {
    'no context': undefined,
    'my record': { ownerId: 'u1', userId: 'u1' },
    "someone else's record": { ownerId: 'u2', userId: 'u1' },
    'a record without owner (null)': { ownerId: null, userId: 'u1' },
    'both ids empty': { ownerId: '', userId: '' },
    'owner given, caller unknown': { ownerId: 'u1', userId: null },
    'caller known, no record': { userId: 'u1' },
  }
  /** Per grant and context: the answers for r:a, r:a:own, r:b, s:a (T/F). */
  const full = (row: string) => Object.fromEntries(Object.keys(CONTEXTS).map((c) => [c, row]))
  const TABLE: Record<string, Record<string, string>> = {
    '*': full('TTTT'),
    'r:*': full('TTTF'),
    'r:a': full('TTFF'),
    'r:a:own': {
      'no context': 'FTFF',
      'my record': 'TTFF',
      "someone else's record": 'FFFF',
      'a record without owner (null)': 'FFFF',
      'both ids empty': 'FFFF',
      'owner given, caller unknown': 'FFFF',
      'caller known, no record': 'FTFF',
    },
    'r:*:own': {
      'no context': 'FTFF',
      'my record': 'TTTF',
      "someone else's record": 'FFFF',
      'a record without owner (null)': 'FFFF',
      'both ids empty': 'FFFF',
      'owner given, caller unknown': 'FFFF',
      'caller known, no record': 'FTFF',
    },
    '(nothing)': full('FFFF'),
  }
  const HAS: Record<string, string> = {
    '*': 'TTTT',
    'r:*': 'TTTF',
    'r:a': 'TTFF',
    'r:a:own': 'FTFF',
    'r:*:own': 'FTFF',
    '(nothing)': 'FFFF',
  }
  const grantsOf = (grant: string) => (grant === '(nothing)' ? [] : [grant])

  const canCases = Object.entries(TABLE).flatMap(([grant, byContext]) =>
    Object.entries(byContext).flatMap(([contextName, answers]) =>
      ASKED.map((asked, i) => [grant, asked, contextName, answers[i] === 'T'] as const),
    ),
  )
  it.each(canCases)('grant %s: can(%s) with %s is %s', (grant, asked, contextName, expected) => {
    expect(set(...grantsOf(grant)).can(asked, CONTEXTS[contextName])).toBe(expected)
  })

  const hasCases = Object.entries(HAS).flatMap(([grant, answers]) =>
    ASKED.map((asked, i) => [grant, asked, answers[i] === 'T'] as const),
  )
  it.each(hasCases)('grant %s: has(%s) is %s', (grant, asked, expected) => {
    expect(set(...grantsOf(grant)).has(asked)).toBe(expected)
  })

  it('does not let an own grant satisfy has(), whatever the record', () => {
    expect(set('projects:write:own').has('projects:write')).toBe(false)
    expect(set('projects:*:own').has('projects:write')).toBe(false)
    expect(set('projects:write:own').can('projects:write')).toBe(false)
  })

  it('answers wildcard questions only with a grant at least as broad', () => {
    expect(set('projects:*').has('projects:*')).toBe(true)
    expect(set('projects:read', 'projects:write').has('projects:*')).toBe(false)
    expect(set('projects:*').has('*')).toBe(false)
    expect(set('*').has('*')).toBe(true)
    expect(set('projects:*:own').has('projects:*:own')).toBe(true)
    expect(set('projects:write:own').has('projects:*:own')).toBe(false)
    expect(set('projects:*:own').can('projects:*', { ownerId: 'u1', userId: 'u1' })).toBe(true)
  })

  it('keeps answering correctly once many distinct questions overflow the parse cache', () => {
    const granted = set('members:read', 'projects:*')
    for (let i = 0; i < 12_000; i++) granted.can(`noise:q${i}`)
    expect(granted.can('members:read')).toBe(true)
    expect(granted.can('projects:zzz')).toBe(true)
    expect(granted.can('members:invite')).toBe(false)
  })
})

describe('covers and missing', () => {
  const cases: Array<[string[], string[], boolean]> = [
    [['*'], ['a:x', 'b:*', 'c:y:own', '*'], true],
    [['a:*'], ['a:x', 'a:x:own', 'a:*:own', 'a:*'], true],
    [['a:*'], ['b:x'], false],
    [['a:*'], ['*'], false],
    [['a:x'], ['a:x:own'], true],
    [['a:x'], ['a:*:own'], false],
    [['a:x:own'], ['a:x'], false],
    [['a:*:own'], ['a:x:own', 'a:y:own'], true],
    [['a:*:own'], ['a:x'], false],
    [['a:x', 'b:y'], ['a:x', 'b:y:own'], true],
    [[], [], true],
    [['a:x'], [], true],
    [[], ['a:x:own'], false],
  ]
  it.each(cases)('%j covers %j: %s', (held, granted, expected) => {
    expect(set(...held).covers(set(...granted))).toBe(expected)
    expect(set(...held).missing(set(...granted)).length === 0).toBe(expected)
  })

  it('lists what is missing, normalised and sorted, for the error message', () => {
    const inviter = set('members:read', 'projects:read', 'projects:write:own')
    const asked = set('projects:*', 'members:invite', 'members:read', 'projects:write')
    expect(inviter.missing(asked)).toEqual(['members:invite', 'projects:*'])
    expect(set('*').missing(asked)).toEqual([])
  })
})

describe('intersect, union, expand, toArray', () => {
  const intersections: Array<[string[], string[], string[]]> = [
    [['projects:*'], ['projects:read'], ['projects:read']],
    [['*'], ['projects:read', 'files:*:own'], ['files:*:own', 'projects:read']],
    [['a:x'], ['a:x:own'], ['a:x:own']],
    [['a:*:own'], ['a:x'], ['a:x:own']],
    [['a:*'], ['a:*:own'], ['a:*:own']],
    [['a:x'], ['b:x'], []],
    [['a:x'], ['a:y'], []],
    [[], ['*'], []],
    [
      ['projects:*', 'members:read'],
      ['projects:read', 'projects:write:own', 'files:read'],
      ['projects:read', 'projects:write:own'],
    ],
  ]
  it.each(intersections)('%j ∩ %j = %j', (a, b, expected) => {
    expect(
      set(...a)
        .intersect(set(...b))
        .toArray(),
    ).toEqual(expected)
    expect(
      set(...b)
        .intersect(set(...a))
        .toArray(),
    ).toEqual(expected)
  })

  const unions: Array<[string[], string[], string[]]> = [
    [['a:x'], ['a:*'], ['a:*']],
    [['a:x:own'], ['a:x'], ['a:x']],
    [['b:y'], ['a:x'], ['a:x', 'b:y']],
    [['a:*:own'], ['a:x'], ['a:*:own', 'a:x']],
    [['a:x'], ['*'], ['*']],
    [[], [], []],
  ]
  it.each(unions)('%j ∪ %j = %j', (a, b, expected) => {
    expect(
      set(...a)
        .union(set(...b))
        .toArray(),
    ).toEqual(expected)
    expect(
      set(...b)
        .union(set(...a))
        .toArray(),
    ).toEqual(expected)
  })

  it('normalises, sorts and deduplicates the grants it was given', () => {
    const granted = set(
      'projects:read',
      'projects:*',
      'projects:read',
      'files:write:own',
      'files:write',
    )
    expect(granted.toArray()).toEqual(['files:write', 'projects:*'])
    expect(set('a:x:own', 'a:*:own', 'a:y').toArray()).toEqual(['a:*:own', 'a:y'])
    expect(set('z:a', '*', 'a:b').toArray()).toEqual(['*'])
    expect(PermissionSet.EMPTY.toArray()).toEqual([])
    // A copy: callers cannot change the set through it.
    granted.toArray().push('members:invite')
    expect(granted.has('members:invite')).toBe(false)
  })

  const catalog = [
    'members:read',
    'members:invite',
    'projects:read',
    'projects:write',
    'projects:delete',
    'files:read',
  ]

  it('expands grants against the catalog, own-only names with their scope', () => {
    const granted = set('members:*', 'projects:read', 'projects:write:own')
    expect(granted.expand(catalog)).toEqual([
      'members:invite',
      'members:read',
      'projects:read',
      'projects:write:own',
    ])
    expect(set('projects:*:own').expand(catalog)).toEqual([
      'projects:delete:own',
      'projects:read:own',
      'projects:write:own',
    ])
    expect(set('*').expand(catalog)).toEqual([...catalog].sort())
    expect(PermissionSet.EMPTY.expand(catalog)).toEqual([])
  })

  it('refuses a malformed catalog name when expanding', () => {
    expect(() => set('*').expand(['members:read', 'Nope'])).toThrow(/"Nope"/)
  })
})

/**
 * The algebra against an independent model: a list of grants, each covering a question when its
 * resource and action match (or are wildcards) and it is not own-only where a full grant is asked.
 * Reproduce a failure with FC_SEED=<seed>.
 */
describe('properties', () => {
  const SEED = Number(process.env.FC_SEED ?? 20_260_611)
  const RUNS = 3000

  const permission = fc.oneof(
    { weight: 1, arbitrary: fc.constant('*') },
    {
      weight: 12,
      arbitrary: fc
        .tuple(fc.constantFrom('r', 's', 'projects'), fc.constantFrom('a', 'b', '*'), fc.boolean())
        .map(([resource, action, own]) => `${resource}:${action}${own ? ':own' : ''}`),
    },
  )
  const grants = fc.array(permission, { maxLength: 6 })
  const id = fc.constantFrom<string | null | undefined>('u1', 'u2', '', null, undefined)
  const context = fc.option(fc.record({ ownerId: id, userId: id }, { requiredKeys: [] }), {
    nil: undefined,
  })

  interface ModelGrant {
    resource: string
    action: string
    own: boolean
  }
  const modelParse = (value: string): ModelGrant => {
    if (value === '*') return { resource: '*', action: '*', own: false }
    const [resource = '', action = '', scope] = value.split(':')
    return { resource, action, own: scope === 'own' }
  }
  const modelCovers = (g: ModelGrant, q: ModelGrant) =>
    (g.resource === '*' || g.resource === q.resource) &&
    (g.action === '*' || g.action === q.action) &&
    (!g.own || q.own)
  const modelCan = (granted: string[], asked: string, ctx: Context | undefined): boolean => {
    const q = modelParse(asked)
    const parsed = granted.map(modelParse)
    if (parsed.some((g) => modelCovers(g, { ...q, own: false }))) return true
    if (!parsed.some((g) => modelCovers(g, { ...q, own: true }))) return false
    if (ctx === undefined || ctx.ownerId === undefined) return q.own
    return !!ctx.ownerId && ctx.ownerId === ctx.userId
  }
  const settings = { seed: SEED, numRuns: RUNS }

  it('answers can() as the model does', () => {
    fc.assert(
      fc.property(grants, permission, context, (a, p, ctx) => {
        expect(set(...a).can(p, ctx)).toBe(modelCan(a, p, ctx))
      }),
      settings,
    )
  })

  it('intersect: A ∩ B can p exactly when both A and B can', () => {
    fc.assert(
      fc.property(grants, grants, permission, context, (a, b, p, ctx) => {
        const A = set(...a)
        const B = set(...b)
        expect(A.intersect(B).can(p, ctx)).toBe(A.can(p, ctx) && B.can(p, ctx))
      }),
      settings,
    )
  })

  it('union: A ∪ B can p exactly when A or B can', () => {
    fc.assert(
      fc.property(grants, grants, permission, context, (a, b, p, ctx) => {
        const A = set(...a)
        const B = set(...b)
        expect(A.union(B).can(p, ctx)).toBe(A.can(p, ctx) || B.can(p, ctx))
      }),
      settings,
    )
  })

  it('covers: when A covers B, whatever B can, A can; missing() is empty exactly then', () => {
    fc.assert(
      fc.property(grants, grants, permission, context, (a, b, p, ctx) => {
        const A = set(...a)
        const B = A.intersect(set(...b)) // often covered, so the implication is exercised
        const C = set(...b)
        expect(A.covers(B)).toBe(true)
        if (B.can(p, ctx)) expect(A.can(p, ctx)).toBe(true)
        if (A.covers(C) && C.can(p, ctx)) expect(A.can(p, ctx)).toBe(true)
        expect(A.covers(C)).toBe(A.missing(C).length === 0)
      }),
      settings,
    )
  })

  it('has(p) is covering the one-grant set {p}, and toArray() round-trips', () => {
    fc.assert(
      fc.property(grants, permission, context, (a, p, ctx) => {
        const A = set(...a)
        expect(A.has(p)).toBe(A.covers(set(p)))
        const again = PermissionSet.of(A.toArray())
        expect(again.can(p, ctx)).toBe(A.can(p, ctx))
        expect(again.toArray()).toEqual(A.toArray())
      }),
      settings,
    )
  })
})
