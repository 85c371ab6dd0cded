import type { PermissionSet } from './engine/permission.js'
import type { RoleDefinition } from './engine/roles.js'
import type { RbacPrincipal } from './services/authorizer.js'

/** `app.rbac`: checks for services and other plugins. */
export interface RbacServices {
  /** Whether the principal holds the permission in the tenant (own-scoped with `ownerId`). */
  can(
    principal: RbacPrincipal,
    permission: string,
    context?: { tenantId?: string | null; ownerId?: string | null },
  ): Promise<boolean>
  /** The principal's effective permissions in the tenant (cached). */
  permissionsOf(principal: RbacPrincipal, tenantId: string | null): Promise<PermissionSet>
  /** System roles and the tenant's custom roles. */
  roles(tenantId: string | null): Promise<Map<string, RoleDefinition>>
  /** Drops cached permissions (e.g. after changing assignments outside rbac's routes). */
  invalidate(scope: { tenantId?: string | null; principalId?: string } | 'all'): Promise<void>
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Whether the caller holds `permission` in the request's tenant: a set lookup, no I/O. With
     * `ownerId`, an own-scoped grant (`projects:write:own`) counts when the caller is the owner.
     */
    can(permission: string, context?: { ownerId?: string | null }): boolean
  }
  interface FastifyInstance {
    readonly rbac: RbacServices
  }
}

declare module '@acme/core' {
  interface AcmeEvents {
    'role.created': { tenantId: string | null; roleId: string; name: string; by: string }
    'role.updated': { tenantId: string | null; roleId: string; name: string; by: string }
    'role.deleted': { tenantId: string | null; roleId: string; name: string; by: string }
    /** `tenantId` is null for global assignments (an authorization plugin without tenancy). */
    'member.roles_changed': { tenantId: string | null; userId: string; roles: string[]; by: string }
    // Emitted by @acme/tenancy (declared identically there); rbac drops cached permissions on them.
    'member.removed': { tenantId: string; userId: string; by: string }
    'tenant.deleted': { tenantId: string; userId: string }
  }
}
