import { OWNER_ROLE } from '@acme/core'
import type { FastifyRequest } from 'fastify'
import { z } from 'zod'
import { TenancyErrors } from '../errors.js'
import type { RequestTenant, RoleAuthority } from '../types.js'

export const ADMIN_ROLE = 'admin'

/** Role names as memberships store them; which exist is decided by RoleRules. */
export const roleName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,39}$/)
  .meta({
    examples: ['member'],
    description: 'A role of the tenant (see GET /rbac/roles with @acme/rbac).',
  })

/** The request's tenant; the path resolver has verified membership before the handler runs. */
export function currentTenant(request: FastifyRequest): RequestTenant {
  if (!request.tenant) throw new TenancyErrors.TenantNotFound()
  return request.tenant
}

export function callerId(request: FastifyRequest): string {
  const userId = request.principal?.userId
  if (!userId) throw new TenancyErrors.TenantNotFound()
  return userId
}

const isOwner = (tenant: RequestTenant) => tenant.roles.includes(OWNER_ROLE)
export const managers = [OWNER_ROLE, ADMIN_ROLE] as const

/**
 * Who may manage the tenant and hand out which roles. Without an authorization plugin: plain
 * roles (owners and admins manage; only owners touch the owner role). With one (@acme/rbac sets
 * itself as the authority), route permissions are enforced by it and it guards every assignment.
 */
export class RoleRules {
  authority: RoleAuthority | null = null
  readonly #roleNames: ReadonlySet<string>

  constructor(roleNames: readonly string[]) {
    this.#roleNames = new Set(roleNames)
  }

  /** The plain-role check of a route; the authority's route permissions replace it. */
  require(tenant: RequestTenant, allowed: readonly string[]): void {
    if (this.authority) return
    if (!tenant.roles.some((role) => allowed.includes(role))) throw new TenancyErrors.Forbidden()
  }

  /**
   * Refuses giving `roles` to someone who holds `replacing` (an invitation: nothing; a removal:
   * no roles) when the roles are unknown or the caller may not grant or take them.
   */
  async assertCanAssign(
    request: FastifyRequest,
    tenant: RequestTenant,
    roles: readonly string[],
    replacing: readonly string[] = [],
  ): Promise<void> {
    if (this.authority) {
      await this.authority.assertCanAssign(request, tenant.id, roles, replacing)
      return
    }
    const unknown = roles.filter((role) => !this.#roleNames.has(role))
    if (unknown.length > 0) {
      throw new TenancyErrors.UnknownRole({ detail: `Unknown role: ${unknown.join(', ')}.` })
    }
    const touchesOwner = roles.includes(OWNER_ROLE) || replacing.includes(OWNER_ROLE)
    if (touchesOwner && !isOwner(tenant)) throw new TenancyErrors.Forbidden()
  }
}
