import type { TenancyTx } from '../db.js'
import type { TenantScopedClient } from '../scoped-client.js'

/**
 * What an authorization plugin needs of members' roles, so it never touches tenancy's tables:
 * the roles as stored (not the membership cache) and taking a role name away from every holder
 * inside the caller's tenant transaction, so it commits or rolls back with the caller's change.
 */
export interface MemberRoles {
  /** The member's roles read from the database; null when not a member. */
  rolesOf(tenantId: string, userId: string): Promise<string[] | null>
  /**
   * Removes `role` from the tenant's memberships and pending invitations, through `db`: the
   * client `withTenant` handed the caller, so the change shares its transaction.
   */
  removeRole(db: TenantScopedClient, tenantId: string, role: string): Promise<void>
}

export function createMemberRoles(
  withTenant: <R>(tenantId: string, work: (db: TenantScopedClient) => Promise<R>) => Promise<R>,
): MemberRoles {
  return {
    rolesOf: (tenantId, userId) =>
      withTenant(tenantId, async (db) => {
        const member = await (db as unknown as TenancyTx).membership.findUnique({
          where: { tenantId_userId: { tenantId, userId } },
          select: { roles: true },
        })
        return member?.roles ?? null
      }),
    async removeRole(db, tenantId, role) {
      const tx = db as unknown as TenancyTx
      const without = (roles: string[]) => roles.filter((name) => name !== role)
      const members = await tx.membership.findMany({
        where: { tenantId, roles: { has: role } },
        select: { userId: true, roles: true },
      })
      for (const { userId, roles } of members) {
        await tx.membership.update({
          where: { tenantId_userId: { tenantId, userId } },
          data: { roles: without(roles) },
        })
      }
      const invitations = await tx.invitation.findMany({
        where: { tenantId, acceptedAt: null, revokedAt: null, roles: { has: role } },
        select: { id: true, roles: true },
      })
      for (const invitation of invitations) {
        await tx.invitation.update({
          where: { id: invitation.id },
          data: { roles: without(invitation.roles) },
        })
      }
    },
  }
}
