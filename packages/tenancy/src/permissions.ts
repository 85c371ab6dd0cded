import type { PermissionDeclaration } from '@acme/core'

/**
 * The permissions tenancy's routes declare, in core's catalog (an authorization plugin grants
 * them), with the default system roles that get them: admins run the tenant, everyone reads its
 * members, and only owners delete it.
 */
export const TENANCY_PERMISSIONS = [
  {
    name: 'tenants:manage',
    description: 'Rename the tenant and change its settings.',
    grant: { admin: true },
  },
  { name: 'tenants:delete', description: 'Delete the tenant with all its data.', grant: {} },
  {
    name: 'members:read',
    description: 'See the members of the tenant and their roles.',
    grant: { admin: true, member: true, viewer: true },
  },
  { name: 'members:manage', description: "Change members' roles.", grant: { admin: true } },
  {
    name: 'members:remove',
    description: 'Remove members from the tenant.',
    grant: { admin: true },
  },
  {
    name: 'members:invite',
    description: 'Invite people, list and revoke invitations.',
    grant: { admin: true },
  },
  {
    name: 'api-keys:manage',
    description: "Create, list and revoke the tenant's API keys.",
    grant: { admin: true },
  },
] as const satisfies readonly PermissionDeclaration[]
