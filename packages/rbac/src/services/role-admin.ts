import { OWNER_ROLE } from '@acme/core'
import type { FastifyInstance } from 'fastify'
import type { PermissionCache } from '../engine/cache.js'
import type { PermissionSet } from '../engine/permission.js'
import {
  effectivePermissions,
  findInheritanceCycle,
  type RoleDefinition,
  RoleInheritanceError,
  validateRole,
} from '../engine/roles.js'
import { RbacErrors } from '../errors.js'
import { memberRoles, type TenancyBridge } from '../tenancy-bridge.js'
import type { Authorizer } from './authorizer.js'
import type { CustomRole, RoleStore } from './role-store.js'

export interface RoleInput {
  name: string
  description?: string
  permissions: string[]
  inherits?: string | null
}

export interface RoleAdminOptions {
  app: FastifyInstance
  tenancy: TenancyBridge | null
  authorizer: Authorizer
  store: RoleStore
  cache: PermissionCache
  systemRoles: ReadonlyMap<string, RoleDefinition>
  defaultRoles: readonly string[]
}

/**
 * Changes to roles and assignments, each behind the escalation guard: nobody creates, edits,
 * deletes, assigns or takes away a role granting more than they hold themselves.
 */
export class RoleAdmin {
  readonly #options: RoleAdminOptions

  constructor(options: RoleAdminOptions) {
    this.#options = options
  }

  get #tenancy(): TenancyBridge | null {
    return this.#options.tenancy
  }

  async createRole(
    caller: PermissionSet,
    tenantId: string | null,
    input: RoleInput,
  ): Promise<CustomRole> {
    if (this.#options.systemRoles.has(input.name)) throw new RbacErrors.SystemRole()
    const roles = await this.#options.authorizer.roles(tenantId)
    if (roles.has(input.name)) throw new RbacErrors.RoleExists()
    const candidate: RoleDefinition = { ...input, inherits: input.inherits ?? null }
    this.#validate(candidate, roles)
    roles.set(candidate.name, candidate)
    this.#guard(caller, effectivePermissions(roles, [candidate.name]))
    const created = await this.#options.store.create(tenantId, input)
    await this.#options.cache.invalidate({ tenantId })
    return created
  }

  async updateRole(
    caller: PermissionSet,
    tenantId: string | null,
    roleId: string,
    patch: Omit<Partial<RoleInput>, 'name'>,
  ): Promise<CustomRole> {
    if (this.#options.systemRoles.has(roleId)) throw new RbacErrors.SystemRole()
    const current = await this.#options.store.get(tenantId, roleId)
    const roles = await this.#options.authorizer.roles(tenantId)
    // Editing a role changes what its holders can do: the caller must hold it before and after.
    this.#guard(caller, effectivePermissions(roles, [current.name]))
    const next: RoleDefinition = {
      ...current,
      ...(patch.permissions === undefined ? {} : { permissions: patch.permissions }),
      ...(patch.inherits === undefined ? {} : { inherits: patch.inherits }),
    }
    this.#validate(next, roles)
    roles.set(next.name, next)
    this.#guard(caller, effectivePermissions(roles, [next.name]))
    const updated = await this.#options.store.update(tenantId, roleId, patch)
    await this.#options.cache.invalidate({ tenantId })
    return updated
  }

  async deleteRole(
    caller: PermissionSet,
    tenantId: string | null,
    roleId: string,
  ): Promise<CustomRole> {
    if (this.#options.systemRoles.has(roleId)) throw new RbacErrors.SystemRole()
    const current = await this.#options.store.get(tenantId, roleId)
    const roles = await this.#options.authorizer.roles(tenantId)
    this.#guard(caller, effectivePermissions(roles, [current.name]))
    const heirs = [...roles.values()].filter((role) => role.inherits === current.name)
    if (heirs.length > 0) {
      throw new RbacErrors.RoleInUse({
        detail: `Roles inherit from it: ${heirs.map((role) => role.name).join(', ')}.`,
      })
    }
    const deleted = await this.#options.store.delete(tenantId, roleId)
    // Its former holders no longer name it: drop what tenancy remembers of their roles too.
    if (tenantId !== null) await this.#tenancy?.invalidate(tenantId)
    await this.#options.cache.invalidate({ tenantId })
    return deleted
  }

  /** Unknown roles are refused; so is giving or taking roles that grant more than the caller holds. */
  async assertCanAssign(
    caller: PermissionSet,
    tenantId: string | null,
    roles: readonly string[],
    replacing: readonly string[],
  ): Promise<void> {
    const known = await this.#options.authorizer.roles(tenantId)
    const unknown = roles.filter((role) => !known.has(role))
    if (unknown.length > 0) {
      throw new RbacErrors.UnknownRole({ detail: `Unknown role: ${unknown.join(', ')}.` })
    }
    this.#guard(caller, effectivePermissions(known, roles))
    this.#guard(caller, effectivePermissions(known, replacing))
  }

  /** The user's roles in the tenant (null when the user is not a member there). */
  async rolesOf(tenantId: string | null, userId: string): Promise<string[] | null> {
    const tenancy = this.#tenancy
    if (tenancy) {
      if (tenantId === null) return null
      return memberRoles(tenancy, tenantId, userId)
    }
    return (await this.#options.store.assigned(userId)) ?? [...this.#options.defaultRoles]
  }

  async setMemberRoles(
    caller: PermissionSet,
    tenantId: string | null,
    userId: string,
    roles: string[],
  ): Promise<void> {
    const current = await this.rolesOf(tenantId, userId)
    if (current === null) throw new RbacErrors.MemberNotFound()
    await this.assertCanAssign(caller, tenantId, roles, current)
    const tenancy = this.#tenancy
    if (tenancy && tenantId !== null) {
      await tenancy.tenants.setRoles(tenantId, userId, roles)
    } else {
      await this.#options.store.assign(userId, roles, OWNER_ROLE)
    }
    await this.#options.cache.invalidate({ tenantId, principalId: userId })
  }

  #validate(role: RoleDefinition, roles: ReadonlyMap<string, RoleDefinition>): void {
    const catalog = new Set(this.#options.app.permissions.list().map((entry) => entry.name))
    const problems = validateRole(role, catalog, roles)
    const cycle = findInheritanceCycle(roles, role.name, role.inherits ?? null)
    if (cycle) problems.push(`inheritance cycle: ${cycle.join(' → ')}`)
    if (problems.length > 0) {
      throw new RbacErrors.InvalidRole({ detail: problems.join('; '), extensions: { problems } })
    }
    try {
      effectivePermissions(new Map([...roles, [role.name, role]]), [role.name])
    } catch (error) {
      if (error instanceof RoleInheritanceError) {
        throw new RbacErrors.InvalidRole({
          detail: error.message,
          extensions: { problems: [error.message] },
        })
      }
      throw error
    }
  }

  #guard(caller: PermissionSet, wanted: PermissionSet): void {
    if (caller.covers(wanted)) return
    const missing = caller.missing(wanted)
    throw new RbacErrors.Escalation({
      detail: `You do not hold: ${missing.join(', ')}.`,
      extensions: { missing },
    })
  }
}
