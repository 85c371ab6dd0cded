import type { PermissionDeclaration } from '@acme/core'

/**
 * The permissions rbac's routes declare in core's catalog, with the default system roles that get
 * them: admins only. Members and viewers do not read the role definitions (what each role grants
 * says how the tenant is defended); `GET /rbac/me/permissions` tells anyone what they hold.
 */
export const RBAC_PERMISSIONS = [
  {
    name: 'roles:read',
    description: 'See the roles of the tenant and what they grant.',
    grant: { admin: true },
  },
  {
    name: 'roles:manage',
    description: 'Create, change and delete custom roles.',
    grant: { admin: true },
  },
] as const satisfies readonly PermissionDeclaration[]

/** Declared by rbac only when tenancy (which owns them) is absent. */
export const MEMBER_PERMISSIONS = [
  {
    name: 'members:read',
    description: 'See users and their roles.',
    grant: { admin: true, member: true, viewer: true },
  },
  { name: 'members:manage', description: "Change users' roles.", grant: { admin: true } },
] as const satisfies readonly PermissionDeclaration[]
