import { PermissionSet, parsePermission } from './permission.js'

/**
 * Roles: named lists of permissions, each optionally inheriting every permission of one other role
 * (by name). Nothing here is memoized: callers cache the resulting PermissionSet per principal.
 */

export interface RoleDefinition {
  name: string
  permissions: readonly string[]
  inherits?: string | null
  description?: string
  system?: boolean
}

/** The most `inherits` links followed from any role: a chain of 11 roles at most. */
export const MAX_INHERITANCE_DEPTH = 10

/** A role's inheritance chain cannot be resolved (a cycle, or deeper than allowed). */
export class RoleInheritanceError extends Error {
  /** The roles walked, in order, up to where it went wrong. */
  readonly chain: string[]

  constructor(message: string, chain: string[]) {
    super(message)
    this.name = new.target.name
    this.chain = chain
  }
}

export class RoleCycleError extends RoleInheritanceError {
  /** The roles of the loop in order, the first repeated at the end: ['a', 'b', 'a']. */
  readonly cycle: string[]

  constructor(cycle: string[], chain: string[] = cycle) {
    super(`role inheritance cycle: ${cycle.join(' → ')}`, chain)
    this.cycle = cycle
  }
}

export class RoleDepthError extends RoleInheritanceError {
  constructor(chain: string[]) {
    super(`role inheritance deeper than ${MAX_INHERITANCE_DEPTH}: ${chain.join(' → ')}`, chain)
  }
}

type ChainProblem =
  | { kind: 'cycle'; cycle: string[]; chain: string[] }
  | { kind: 'depth'; chain: string[] }

/**
 * Walks `start` and its ancestors, calling `visit` on each role found. `parentOf` answers a role's
 * parent (so validation can walk a role that is not saved yet). An unknown parent ends the chain:
 * a deleted custom role grants nothing.
 */
function walkChain(
  start: string,
  roleOf: (name: string) => RoleDefinition | undefined,
  parentOf: (role: RoleDefinition) => string | null | undefined,
  visit?: (role: RoleDefinition) => void,
): ChainProblem | null {
  const chain: string[] = []
  let name: string | null | undefined = start
  while (name !== null && name !== undefined) {
    const role = roleOf(name)
    if (role === undefined) return null
    const seenAt = chain.indexOf(name)
    if (seenAt !== -1) {
      chain.push(name)
      return { kind: 'cycle', cycle: chain.slice(seenAt), chain }
    }
    chain.push(name)
    // Links followed so far is chain.length - 1: one more than allowed is refused.
    if (chain.length - 1 > MAX_INHERITANCE_DEPTH) return { kind: 'depth', chain }
    visit?.(role)
    name = parentOf(role)
  }
  return null
}

function toError(problem: ChainProblem): RoleInheritanceError {
  return problem.kind === 'cycle'
    ? new RoleCycleError(problem.cycle, problem.chain)
    : new RoleDepthError(problem.chain)
}

/**
 * The named roles' permissions, each with its inheritance chain; unknown role names grant nothing
 * (a deleted custom role). Throws RoleCycleError on a cycle, RoleDepthError past
 * MAX_INHERITANCE_DEPTH links, TypeError on a malformed stored permission (refusing to answer
 * beats guessing what a corrupted role meant).
 */
export function effectivePermissions(
  roles: ReadonlyMap<string, RoleDefinition>,
  assigned: readonly string[],
): PermissionSet {
  const granted: string[] = []
  const walked = new Set<string>()
  for (const name of assigned) {
    if (walked.has(name)) continue
    walked.add(name)
    const problem = walkChain(
      name,
      (roleName) => roles.get(roleName),
      (role) => role.inherits,
      (role) => {
        for (const permission of role.permissions) granted.push(permission)
      },
    )
    if (problem !== null) throw toError(problem)
  }
  return PermissionSet.of(granted)
}

/**
 * The cycle that setting `name` → `inherits` would close in `roles`, in order, `name` first and
 * last (['a', 'b', 'a']), or null. A cycle elsewhere in the chain (not through `name`) is
 * returned as well, starting at its first repeated role: inheriting from a broken chain is refused.
 */
export function findInheritanceCycle(
  roles: ReadonlyMap<string, RoleDefinition>,
  name: string,
  inherits: string | null,
): string[] | null {
  const problem = walkChainWith(roles, name, inherits)
  return problem?.kind === 'cycle' ? problem.cycle : null
}

/** Looks up roles as if `name`'s parent were `inherits` (the role may not be saved yet). */
function withParent(
  roles: ReadonlyMap<string, RoleDefinition>,
  name: string,
  inherits: string | null,
): (roleName: string) => RoleDefinition | undefined {
  const self: RoleDefinition = { name, permissions: [], inherits }
  return (roleName) => (roleName === name ? self : roles.get(roleName))
}

function walkChainWith(
  roles: ReadonlyMap<string, RoleDefinition>,
  name: string,
  inherits: string | null,
): ChainProblem | null {
  return walkChain(name, withParent(roles, name, inherits), (role) => role.inherits)
}

/**
 * What is wrong with `name` inheriting from `inherits`: a cycle, a chain too deep from `name`, or
 * a chain too deep from a role that already inherits from `name` (its chain grows too).
 */
function inheritanceProblem(
  roles: ReadonlyMap<string, RoleDefinition>,
  name: string,
  inherits: string,
): string | null {
  const own = walkChainWith(roles, name, inherits)
  if (own?.kind === 'cycle') return `inheritance cycle: ${own.cycle.join(' → ')}`
  if (own?.kind === 'depth') return tooDeep(own.chain)
  const roleOf = withParent(roles, name, inherits)
  for (const other of roles.keys()) {
    if (other === name) continue
    const problem = walkChain(other, roleOf, (role) => role.inherits)
    if (problem?.kind === 'depth' && problem.chain.includes(name)) return tooDeep(problem.chain)
  }
  return null
}

function tooDeep(chain: readonly string[]): string {
  return `inheritance deeper than ${MAX_INHERITANCE_DEPTH}: ${chain.join(' → ')}`
}

/**
 * Problems of a role against a catalog: malformed or unknown permissions (a wildcard is known when
 * its resource has at least one catalog permission; '*' always; 'r:a:own' when 'r:a' or 'r:a:own'
 * is in the catalog), unknown parent, an inheritance cycle or a chain deeper than
 * MAX_INHERITANCE_DEPTH. Returns messages; empty when fine.
 */
export function validateRole(
  role: RoleDefinition,
  catalog: ReadonlySet<string>,
  roles: ReadonlyMap<string, RoleDefinition>,
): string[] {
  const problems: string[] = []
  if (role.name.trim() === '') problems.push('role name is empty')

  const catalogResources = new Set<string>()
  for (const name of catalog) {
    const parsed = parsePermission(name)
    if (parsed !== null && parsed.resource !== '*') catalogResources.add(parsed.resource)
  }
  for (const permission of role.permissions) {
    const parsed = parsePermission(permission)
    if (parsed === null) problems.push(`malformed permission ${quote(permission)}`)
    else if (!isKnown(permission, parsed, catalog, catalogResources)) {
      problems.push(`unknown permission ${quote(permission)}`)
    }
  }

  const parent = role.inherits ?? null
  if (parent !== null) {
    if (parent !== role.name && !roles.has(parent)) {
      problems.push(`unknown parent role ${quote(parent)}`)
    } else {
      const problem = inheritanceProblem(roles, role.name, parent)
      if (problem !== null) problems.push(problem)
    }
  }
  return problems
}

function isKnown(
  permission: string,
  parsed: NonNullable<ReturnType<typeof parsePermission>>,
  catalog: ReadonlySet<string>,
  catalogResources: ReadonlySet<string>,
): boolean {
  if (parsed.resource === '*') return true
  if (parsed.action === '*') return catalogResources.has(parsed.resource)
  if (catalog.has(permission)) return true
  return parsed.own && catalog.has(`${parsed.resource}:${parsed.action}`)
}

/** Quoted and cut short: a message must not carry a megabyte of attacker input. */
function quote(value: string): string {
  return JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…` : value)
}

/**
 * The system roles an app gets by default, before the catalog's grants: `owner` holds `*`;
 * `admin`, `member` and `viewer` hold nothing of their own. At startup rbac gives each one what
 * the permissions declared in core's catalog grant it (`defaultSystemRoles`), so no resource is
 * named here: every package (and the app) says who gets its permissions when it declares them.
 */
export const DEFAULT_SYSTEM_ROLES: readonly RoleDefinition[] = Object.freeze(
  [
    {
      name: 'owner',
      description: 'Everything, including deleting the tenant',
      permissions: ['*'],
      system: true,
    },
    {
      name: 'admin',
      description: 'Manages the tenant, its members, roles and resources; not deleting it',
      permissions: [],
      system: true,
    },
    {
      name: 'member',
      description: 'Reads the tenant; writes what the app lets members write',
      permissions: [],
      system: true,
    },
    {
      name: 'viewer',
      description: 'Reads the tenant',
      permissions: [],
      system: true,
    },
  ].map((role) => Object.freeze({ ...role, permissions: Object.freeze(role.permissions) })),
)

/** What `defaultSystemRoles` reads of each catalog entry (core's `PermissionInfo`). */
export interface GrantedPermission {
  name: string
  /** The package that declared it, for messages. */
  owner?: string
  grant: Readonly<Record<string, true | 'own' | undefined>>
}

/**
 * DEFAULT_SYSTEM_ROLES with what `catalog` grants each (`true`: the permission, `'own'`: its
 * `:own` variant), in catalog order, plus problems: a grant naming a role that is not a default
 * system role. `owner` already holds `*`: granting it something adds nothing.
 */
export function deriveSystemRoles(catalog: Iterable<GrantedPermission>): {
  roles: RoleDefinition[]
  problems: string[]
} {
  const granted = new Map<string, string[]>(DEFAULT_SYSTEM_ROLES.map((role) => [role.name, []]))
  const problems: string[] = []
  for (const entry of catalog) {
    for (const [role, value] of Object.entries(entry.grant)) {
      if (value === undefined) continue
      const permissions = granted.get(role)
      if (permissions === undefined) {
        problems.push(
          `permission ${quote(entry.name)}${entry.owner ? ` (declared by ${entry.owner})` : ''} ` +
            `grants role ${quote(role)}, which is not a default system role ` +
            `(${[...granted.keys()].join(', ')}); list your own in systemRoles`,
        )
      } else if (role !== 'owner') {
        permissions.push(value === 'own' ? `${entry.name}:own` : entry.name)
      }
    }
  }
  const roles = DEFAULT_SYSTEM_ROLES.map((role) =>
    role.name === 'owner' ? role : { ...role, permissions: granted.get(role.name) ?? [] },
  )
  return { roles, problems }
}

/**
 * The default system roles an app with these permissions gets (pass `app.permissions.list()` once
 * every package has declared): owner `*`, and admin, member and viewer what the catalog grants
 * them. Throws a TypeError naming any grant to a role that is not one of them.
 */
export function defaultSystemRoles(catalog: Iterable<GrantedPermission>): RoleDefinition[] {
  const { roles, problems } = deriveSystemRoles(catalog)
  if (problems.length > 0) throw new TypeError(problems.join('; '))
  return roles
}
