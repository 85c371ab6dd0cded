import type { FastifyInstance, FastifyRequest } from 'fastify'

/**
 * What rbac uses of @acme/tenancy when it is installed. Tenancy is an optional peer, so its
 * types are not imported: these mirror the part of `app.tenancy` rbac calls.
 */
export interface TenancyBridge {
  membership(tenantId: string, userId: string): Promise<{ roles: string[] } | null>
  invalidate(tenantId: string, userId?: string): Promise<void>
  withTenant<R>(tenantId: string, work: (db: unknown) => Promise<R>): Promise<R>
  setRoleAuthority(authority: {
    assertCanAssign(
      request: FastifyRequest,
      tenantId: string,
      roles: readonly string[],
      replacing: readonly string[],
    ): Promise<void>
  }): void
  tenants: { setRoles(tenantId: string, userId: string, roles: string[]): Promise<void> }
  memberRoles: {
    rolesOf(tenantId: string, userId: string): Promise<string[] | null>
    removeRole(db: never, tenantId: string, role: string): Promise<void>
  }
}

export function tenancyOf(app: FastifyInstance): TenancyBridge | null {
  return app.hasDecorator('tenancy') ? (app as unknown as { tenancy: TenancyBridge }).tenancy : null
}

/** The request's tenant id when tenancy resolved one. */
export function tenantIdOf(request: FastifyRequest): string | null {
  return (request as { tenant?: { id: string } | null }).tenant?.id ?? null
}

/**
 * The member's roles as stored, not from tenancy's membership cache: on another instance, rbac's
 * broadcast of a change may arrive before tenancy's, and roles read from a membership cache not
 * yet told would then stay cached as permissions. Null: not a member.
 */
export function memberRoles(
  tenancy: TenancyBridge,
  tenantId: string,
  userId: string,
): Promise<string[] | null> {
  return tenancy.memberRoles.rolesOf(tenantId, userId)
}
