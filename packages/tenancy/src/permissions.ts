/** The permissions tenancy's routes declare, in core's catalog (an authorization plugin grants them). */
export const TENANCY_PERMISSIONS = [
  { name: 'tenants:manage', description: 'Rename the tenant and change its settings.' },
  { name: 'tenants:delete', description: 'Delete the tenant with all its data.' },
  { name: 'members:read', description: 'See the members of the tenant and their roles.' },
  { name: 'members:manage', description: "Change members' roles." },
  { name: 'members:remove', description: 'Remove members from the tenant.' },
  { name: 'members:invite', description: 'Invite people, list and revoke invitations.' },
  { name: 'api-keys:manage', description: "Create, list and revoke the tenant's API keys." },
] as const
