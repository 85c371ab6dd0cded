import type { PermissionCache } from '../engine/cache.js'
import { isPermission, PermissionSet } from '../engine/permission.js'
import { effectivePermissions, type RoleDefinition } from '../engine/roles.js'
import type { RoleStore } from './role-store.js'

/** Who asks: a signed-in user, or an API key acting for its creator with its scopes. */
export type RbacPrincipal =
  | { type: 'user'; userId: string }
  | { type: 'apiKey'; keyId: string; userId: string; scopes: readonly string[] }

export interface AuthorizerOptions {
  systemRoles: ReadonlyMap<string, RoleDefinition>
  store: RoleStore
  cache: PermissionCache
  /** The user's role names in the tenant (tenancy's membership), or without tenancy, globally. */
  assignedRoles: (tenantId: string | null, userId: string) => Promise<readonly string[]>
}

/**
 * Effective permissions per (principal, tenant), computed once from system roles, the tenant's
 * custom roles and the principal's assignments, then held in memory until something changes.
 */
export class Authorizer {
  readonly #options: AuthorizerOptions

  constructor(options: AuthorizerOptions) {
    this.#options = options
  }

  /** System roles and the tenant's custom ones, by name (a custom role never shadows a system one). */
  async roles(tenantId: string | null): Promise<Map<string, RoleDefinition>> {
    const roles = new Map<string, RoleDefinition>()
    for (const custom of await this.#options.store.list(tenantId)) roles.set(custom.name, custom)
    for (const [name, system] of this.#options.systemRoles) roles.set(name, system)
    return roles
  }

  /** Synchronous when warm: a hook can skip a promise. */
  peek(principal: RbacPrincipal, tenantId: string | null): PermissionSet | undefined {
    return this.#options.cache.peek(this.#key(principal, tenantId))
  }

  /** peek for a signed-in user, with nothing to allocate: the guard's warm path. */
  peekUser(userId: string, tenantId: string | null): PermissionSet | undefined {
    return this.#options.cache.peekPrincipal(tenantId, userId)
  }

  permissionsOf(principal: RbacPrincipal, tenantId: string | null): Promise<PermissionSet> {
    const key = this.#key(principal, tenantId)
    if (principal.type === 'user') {
      return this.#options.cache.get(key, () => this.#userPermissions(principal.userId, tenantId))
    }
    // A key never holds more than its creator holds now: demote the creator and the key follows.
    return this.#options.cache.get(key, async () => {
      const creator = await this.permissionsOf({ type: 'user', userId: principal.userId }, tenantId)
      return PermissionSet.of(principal.scopes.filter(isPermission)).intersect(creator)
    })
  }

  /** The permissions `roles` grant in the tenant (escalation checks). */
  async permissionsOfRoles(
    tenantId: string | null,
    roles: readonly string[],
  ): Promise<PermissionSet> {
    return effectivePermissions(await this.roles(tenantId), roles)
  }

  async #userPermissions(userId: string, tenantId: string | null): Promise<PermissionSet> {
    const [roles, assigned] = await Promise.all([
      this.roles(tenantId),
      this.#options.assignedRoles(tenantId, userId),
    ])
    return effectivePermissions(roles, assigned)
  }

  #key(principal: RbacPrincipal, tenantId: string | null) {
    return principal.type === 'user'
      ? { tenantId, principalId: principal.userId }
      : { tenantId, principalId: `key:${principal.keyId}`, ownerId: principal.userId }
  }
}
