import { PermissionCatalog } from '@acme/core'
import { TENANCY_PERMISSIONS } from '@acme/tenancy'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_SYSTEM_ROLES,
  defaultSystemRoles,
  deriveSystemRoles,
  effectivePermissions,
  findInheritanceCycle,
  type GrantedPermission,
  MAX_INHERITANCE_DEPTH,
  RoleCycleError,
  type RoleDefinition,
  RoleDepthError,
  RoleInheritanceError,
  validateRole,
} from '../../src/engine/roles.js'
import { RBAC_PERMISSIONS } from '../../src/permissions.js'

function rolesOf(...definitions: RoleDefinition[]): Map<string, RoleDefinition> {
  return new Map(definitions.map((role) => [role.name, role]))
}

const role = (name: string, permissions: string[], inherits: string | null = null) => ({
  name,
  permissions,
  inherits,
})

/** r0 inherits r1, which inherits r2 ... up to r<links>: `links` inheritance links. */
function chainOf(links: number): Map<string, RoleDefinition> {
  const roles: RoleDefinition[] = []
  for (let i = 0; i <= links; i++) {
    roles.push(role(`r${i}`, [`level${i}:read`], i < links ? `r${i + 1}` : null))
  }
  return rolesOf(...roles)
}

/** A catalog as an app with all first-party plugins registers. */
const CATALOG = new Set([
  'tenants:manage',
  'tenants:delete',
  'billing:read',
  'billing:manage',
  'members:read',
  'members:invite',
  'members:remove',
  'roles:read',
  'roles:manage',
  'api-keys:read',
  'api-keys:manage',
  'projects:read',
  'projects:write',
  'projects:delete',
  'webhooks:manage',
  'flags:manage',
  'audit:read',
  'files:read',
  'files:write',
  'jobs:manage',
])

describe('effectivePermissions', () => {
  const roles = rolesOf(
    role('viewer', ['members:read', 'projects:read']),
    role('editor', ['projects:write'], 'viewer'),
    role('lead', ['projects:delete'], 'editor'),
    role('billing', ['billing:read']),
    role('orphan', ['files:read'], 'deleted-role'),
  )

  it('grants a role its own permissions and every ancestor’s', () => {
    const lead = effectivePermissions(roles, ['lead'])
    expect(lead.toArray()).toEqual([
      'members:read',
      'projects:delete',
      'projects:read',
      'projects:write',
    ])
    const editor = effectivePermissions(roles, ['editor'])
    expect(editor.can('projects:write')).toBe(true)
    expect(editor.can('projects:delete')).toBe(false)
  })

  it('unites the permissions of several roles', () => {
    const both = effectivePermissions(roles, ['viewer', 'billing'])
    expect(both.toArray()).toEqual(['billing:read', 'members:read', 'projects:read'])
  })

  it('grants nothing for an unknown role, and stops at an unknown parent', () => {
    expect(effectivePermissions(roles, ['ghost']).toArray()).toEqual([])
    expect(effectivePermissions(roles, ['ghost', 'billing']).toArray()).toEqual(['billing:read'])
    expect(effectivePermissions(roles, ['orphan']).toArray()).toEqual(['files:read'])
    expect(effectivePermissions(roles, []).toArray()).toEqual([])
  })

  it.each([
    ['self', rolesOf(role('a', ['x:read'], 'a')), ['a'], ['a', 'a']],
    [
      'two roles',
      rolesOf(role('a', ['x:read'], 'b'), role('b', ['y:read'], 'a')),
      ['a'],
      ['a', 'b', 'a'],
    ],
    [
      'three roles',
      rolesOf(role('a', [], 'b'), role('b', [], 'c'), role('c', [], 'a')),
      ['c'],
      ['c', 'a', 'b', 'c'],
    ],
    [
      'a loop above the assigned role',
      rolesOf(role('x', [], 'a'), role('a', [], 'b'), role('b', [], 'a')),
      ['x'],
      ['a', 'b', 'a'],
    ],
  ] as const)('refuses a cycle through %s, with its path', (_, roles, assigned, cycle) => {
    let thrown: unknown
    try {
      effectivePermissions(roles, assigned)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(RoleCycleError)
    expect(thrown).toBeInstanceOf(RoleInheritanceError)
    expect((thrown as RoleCycleError).cycle).toEqual(cycle)
    expect((thrown as RoleCycleError).message).toContain(cycle.join(' → '))
  })

  it(`follows up to ${MAX_INHERITANCE_DEPTH} inheritance links and refuses one more`, () => {
    const deepest = effectivePermissions(chainOf(MAX_INHERITANCE_DEPTH), ['r0'])
    expect(deepest.toArray()).toHaveLength(MAX_INHERITANCE_DEPTH + 1)
    expect(deepest.can(`level${MAX_INHERITANCE_DEPTH}:read`)).toBe(true)

    const tooDeep = chainOf(MAX_INHERITANCE_DEPTH + 1)
    expect(() => effectivePermissions(tooDeep, ['r0'])).toThrow(RoleDepthError)
    expect(() => effectivePermissions(tooDeep, ['r0'])).toThrow(RoleInheritanceError)
    // The same chain entered one level lower is within the limit.
    expect(effectivePermissions(tooDeep, ['r1']).toArray()).toHaveLength(MAX_INHERITANCE_DEPTH + 1)
  })

  it('refuses a stored role with a malformed permission rather than guess', () => {
    const corrupted = rolesOf(role('broken', ['members:read', 'MEMBERS:*']))
    expect(() => effectivePermissions(corrupted, ['broken'])).toThrow(/"MEMBERS:\*"/)
  })
})

describe('findInheritanceCycle', () => {
  const roles = rolesOf(role('a', []), role('b', [], 'a'), role('c', [], 'b'))

  it('returns the loop a new parent would close, the role first and last', () => {
    expect(findInheritanceCycle(roles, 'a', 'c')).toEqual(['a', 'c', 'b', 'a'])
    expect(findInheritanceCycle(roles, 'a', 'b')).toEqual(['a', 'b', 'a'])
    expect(findInheritanceCycle(roles, 'a', 'a')).toEqual(['a', 'a'])
  })

  it('returns null when the chain ends', () => {
    expect(findInheritanceCycle(roles, 'a', null)).toBeNull()
    expect(findInheritanceCycle(roles, 'new-role', 'c')).toBeNull()
    expect(findInheritanceCycle(roles, 'c', 'a')).toBeNull()
    expect(findInheritanceCycle(roles, 'a', 'unknown')).toBeNull()
  })

  it('reports a loop already further up the chain', () => {
    const broken = rolesOf(role('x', [], 'y'), role('y', [], 'x'))
    expect(findInheritanceCycle(broken, 'new-role', 'x')).toEqual(['x', 'y', 'x'])
  })
})

describe('validateRole', () => {
  const roles = rolesOf(role('base', ['members:read']), role('child', [], 'base'))

  it('accepts catalog permissions, known wildcards, own scopes and a known parent', () => {
    const fine = role(
      'support',
      ['*', 'members:read', 'projects:*', 'projects:*:own', 'files:write:own'],
      'base',
    )
    expect(validateRole(fine, CATALOG, roles)).toEqual([])
  })

  it('names each malformed or unknown permission', () => {
    const bad = role('bad', [
      'members:read',
      'Members:read',
      'members:fly',
      'rockets:*',
      'rockets:*:own',
      'rockets:launch:own',
      `x:${'a'.repeat(500)}`,
    ])
    const problems = validateRole(bad, CATALOG, roles)
    expect(problems).toEqual([
      'malformed permission "Members:read"',
      'unknown permission "members:fly"',
      'unknown permission "rockets:*"',
      'unknown permission "rockets:*:own"',
      'unknown permission "rockets:launch:own"',
      `malformed permission "x:${'a'.repeat(118)}…"`,
    ])
  })

  it('refuses an unknown parent', () => {
    expect(validateRole(role('r', [], 'deleted'), CATALOG, roles)).toEqual([
      'unknown parent role "deleted"',
    ])
  })

  it('refuses a parent that closes a cycle, showing it', () => {
    expect(validateRole(role('base', ['members:read'], 'child'), CATALOG, roles)).toEqual([
      'inheritance cycle: base → child → base',
    ])
    expect(validateRole(role('base', [], 'base'), CATALOG, roles)).toEqual([
      'inheritance cycle: base → base',
    ])
  })

  it('refuses a parent that makes the chain deeper than allowed, below or above the role', () => {
    const chain = chainOf(MAX_INHERITANCE_DEPTH)
    // A new role on top of a full chain: one link too many.
    const onTop = validateRole(role('top', [], 'r0'), CATALOG, chain)
    expect(onTop).toHaveLength(1)
    expect(onTop[0]).toMatch(/^inheritance deeper than 10: top → r0 → /)
    // The last role of a full chain gaining a parent lengthens the chain of r0, which inherits it.
    const below = rolesOf(...chain.values(), role('extra', []))
    const lengthened = validateRole(role(`r${MAX_INHERITANCE_DEPTH}`, [], 'extra'), CATALOG, below)
    expect(lengthened).toHaveLength(1)
    expect(lengthened[0]).toMatch(/^inheritance deeper than 10: r0 → .* → extra$/)
    // Within the limit: fine.
    expect(validateRole(role('top', [], 'r1'), CATALOG, chain)).toEqual([])
  })

  it('refuses an empty name', () => {
    expect(validateRole(role('  ', []), CATALOG, roles)).toEqual(['role name is empty'])
  })
})

describe('DEFAULT_SYSTEM_ROLES', () => {
  it('owner holds *; admin, member and viewer name no resource of their own', () => {
    expect(DEFAULT_SYSTEM_ROLES.map((r) => [r.name, [...r.permissions], r.system])).toEqual([
      ['owner', ['*'], true],
      ['admin', [], true],
      ['member', [], true],
      ['viewer', [], true],
    ])
  })

  it('cannot be altered in place', () => {
    const owner = DEFAULT_SYSTEM_ROLES.find((r) => r.name === 'owner')
    if (owner === undefined) throw new Error('no owner role')
    const permissions = owner.permissions as string[]
    expect(() => permissions.push('x:y')).toThrow(TypeError)
    const renamed = owner as { name: string }
    expect(() => {
      renamed.name = 'boss'
    }).toThrow(TypeError)
    expect(() => (DEFAULT_SYSTEM_ROLES as RoleDefinition[]).pop()).toThrow(TypeError)
  })
})

describe('defaultSystemRoles: the default roles from the catalog grants', () => {
  /** An app with tenancy, rbac and its own permissions, declared as they would be at startup. */
  const catalog = new PermissionCatalog()
  catalog.declare('@acme/tenancy', TENANCY_PERMISSIONS)
  catalog.declare('@acme/rbac', RBAC_PERMISSIONS)
  catalog.declare('app', [
    { name: 'projects:read', description: 'default grant' },
    { name: 'projects:write', description: 'x', grant: { admin: true, member: 'own' } },
    { name: 'projects:delete', description: 'default grant' },
    { name: 'billing:manage', description: 'owners only', grant: {} },
    { name: 'audit:read', description: 'not for everyone', grant: { admin: true } },
  ])
  const names = new Set(catalog.list().map((entry) => entry.name))
  const systemRoles = new Map(defaultSystemRoles(catalog.list()).map((r) => [r.name, r]))

  it('are valid system roles against the catalog, in catalog order', () => {
    expect([...systemRoles.keys()]).toEqual(['owner', 'admin', 'member', 'viewer'])
    for (const systemRole of systemRoles.values()) {
      expect(systemRole.system).toBe(true)
      expect(validateRole(systemRole, names, systemRoles)).toEqual([])
    }
    expect(systemRoles.get('viewer')?.permissions).toEqual(['members:read', 'projects:read'])
    expect(systemRoles.get('member')?.permissions).toEqual([
      'members:read',
      'projects:read',
      'projects:write:own',
    ])
  })

  // The role × permission matrix: every catalog permission, as each system role answers it.
  const MATRIX: Record<string, string[]> = {
    owner: [...names],
    admin: [...names].filter((p) => p !== 'tenants:delete' && p !== 'billing:manage'),
    member: ['members:read', 'projects:read'],
    viewer: ['members:read', 'projects:read'],
  }
  const OWN_ONLY: Record<string, string[]> = {
    owner: [],
    admin: [],
    member: ['projects:write'],
    viewer: [],
  }

  it.each(Object.keys(MATRIX))('%s holds exactly its row of the matrix', (name) => {
    const granted = effectivePermissions(systemRoles, [name])
    for (const permission of names) {
      const full = MATRIX[name]?.includes(permission) ?? false
      const own = full || (OWN_ONLY[name]?.includes(permission) ?? false)
      expect({ permission, full: granted.can(permission) }).toEqual({ permission, full })
      const mine = granted.can(permission, { ownerId: 'u1', userId: 'u1' })
      const theirs = granted.can(permission, { ownerId: 'u2', userId: 'u1' })
      expect({ permission, mine, theirs }).toEqual({ permission, mine: own, theirs: full })
    }
  })

  it('an empty catalog: owner *, the others nothing', () => {
    expect(defaultSystemRoles([]).map((r) => [r.name, [...r.permissions]])).toEqual([
      ['owner', ['*']],
      ['admin', []],
      ['member', []],
      ['viewer', []],
    ])
  })

  it('granting owner adds nothing to *', () => {
    const roles = defaultSystemRoles([{ name: 'x:y', grant: { owner: true, viewer: 'own' } }])
    expect(roles.find((r) => r.name === 'owner')?.permissions).toEqual(['*'])
    expect(roles.find((r) => r.name === 'viewer')?.permissions).toEqual(['x:y:own'])
  })

  it('a grant naming a role that is not a default system role is refused, naming both', () => {
    const grants: GrantedPermission[] = [
      { name: 'notes:read', owner: 'app', grant: { auditor: true, admin: true } },
      { name: 'notes:write', grant: { editor: 'own' } },
    ]
    expect(() => defaultSystemRoles(grants)).toThrow(TypeError)
    expect(() => defaultSystemRoles(grants)).toThrow(
      'permission "notes:read" (declared by app) grants role "auditor", which is not a default system role (owner, admin, member, viewer)',
    )
    expect(deriveSystemRoles(grants).problems).toHaveLength(2)
    expect(deriveSystemRoles(grants).problems[1]).toContain('grants role "editor"')
  })
})
