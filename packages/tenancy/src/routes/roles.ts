import type { FastifyRequest } from 'fastify'
import { TenancyErrors } from '../errors.js'
import { OWNER_ROLE } from '../services/tenants.js'
import type { RequestTenant } from '../types.js'

export const ADMIN_ROLE = 'admin'

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

/** Role checks of plain memberships; @acme/rbac's permissions take over when it is installed. */
export function requireRole(tenant: RequestTenant, allowed: readonly string[]): void {
  if (!tenant.roles.some((role) => allowed.includes(role))) throw new TenancyErrors.Forbidden()
}

export const isOwner = (tenant: RequestTenant) => tenant.roles.includes(OWNER_ROLE)
export const managers = [OWNER_ROLE, ADMIN_ROLE] as const
