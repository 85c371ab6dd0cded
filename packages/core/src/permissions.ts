/** The role that holds every permission of its tenant (`*`), and of which one must remain. */
export const OWNER_ROLE = 'owner'

/** `resource:action`, lower case: what routes declare and roles grant. */
const PERMISSION_NAME = /^[a-z][a-z0-9-]*:[a-z][a-z0-9-]*$/

/** A role name a grant may name: the same rule as an authorization plugin's role names. */
const ROLE_NAME = /^[a-z][a-z0-9_-]{0,39}$/

/**
 * What one system role gets of a permission by default: `true` the permission itself, `'own'` its
 * own-scoped variant (`resource:action:own`: the action only on records the caller owns).
 */
export type RoleGrant = true | 'own'

/**
 * Which system roles an authorization plugin's default roles give a permission to, by role name
 * (`owner` holds everything anyway). `{}` keeps it for owners.
 */
export type PermissionGrant = Readonly<
  Partial<Record<'admin' | 'member' | 'viewer' | (string & {}), RoleGrant>>
>

/** One entry of `app.permissions.declare(owner, [...])`. */
export interface PermissionDeclaration {
  name: string
  description: string
  /**
   * Which default system roles get it. Omitted: `resource:read` goes to admin, member and viewer,
   * anything else to admin only (see `defaultPermissionGrant`).
   */
  grant?: PermissionGrant | undefined
}

export interface PermissionInfo {
  name: string
  description: string
  /** The package (or `app`) that declared it. */
  owner: string
  /** The grant declared, or the default one for its name when none was. */
  grant: PermissionGrant
}

const READERS: PermissionGrant = Object.freeze({ admin: true, member: true, viewer: true })
const ADMINS: PermissionGrant = Object.freeze({ admin: true })

/**
 * The grant of a permission declared without one: `resource:read` to admin, member and viewer;
 * anything else to admin only.
 */
export function defaultPermissionGrant(name: string): PermissionGrant {
  return name.endsWith(':read') ? READERS : ADMINS
}

/**
 * `app.permissions`: every permission the app's routes and services use, declared by the package
 * that uses it, with the system roles it goes to by default. Plugins declare theirs whether or not
 * an authorization plugin is installed; one that is (e.g. @acme/rbac) refuses roles and route
 * guards naming anything not declared here, and builds its default roles from the grants.
 */
export class PermissionCatalog {
  readonly #entries = new Map<string, PermissionInfo>()

  declare(owner: string, permissions: ReadonlyArray<PermissionDeclaration>): void {
    const checked: PermissionInfo[] = []
    for (const { name, description, grant } of permissions) {
      if (!PERMISSION_NAME.test(name)) {
        throw new TypeError(`${owner}: permission "${name}" must look like resource:action`)
      }
      const existing = this.#entries.get(name)
      if (existing && existing.owner !== owner) {
        throw new TypeError(
          `${owner}: permission "${name}" is already declared by ${existing.owner}`,
        )
      }
      checked.push({
        name,
        description,
        owner,
        grant: grant === undefined ? defaultPermissionGrant(name) : checkGrant(owner, name, grant),
      })
    }
    // All or nothing: a declaration refused part-way leaves the catalog as it was.
    for (const entry of checked) this.#entries.set(entry.name, entry)
  }

  has(name: string): boolean {
    return this.#entries.has(name)
  }

  /** Sorted by name. */
  list(): PermissionInfo[] {
    return [...this.#entries.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    )
  }
}

/** A frozen copy of a well-formed grant, or a TypeError naming what is wrong. */
function checkGrant(owner: string, name: string, grant: unknown): PermissionGrant {
  if (typeof grant !== 'object' || grant === null || Array.isArray(grant)) {
    throw new TypeError(
      `${owner}: permission "${name}": grant must be an object of role names, e.g. { admin: true, member: 'own' }`,
    )
  }
  const copy: Record<string, RoleGrant> = {}
  for (const [role, value] of Object.entries(grant)) {
    if (!ROLE_NAME.test(role)) {
      throw new TypeError(
        `${owner}: permission "${name}": grant names ${JSON.stringify(role.slice(0, 60))}, which is not a role name`,
      )
    }
    if (value !== true && value !== 'own') {
      throw new TypeError(
        `${owner}: permission "${name}": grant of "${role}" must be true or 'own'`,
      )
    }
    copy[role] = value
  }
  return Object.freeze(copy)
}
