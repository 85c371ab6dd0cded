/** The permissions rbac's routes declare in core's catalog. */
export const RBAC_PERMISSIONS = [
  { name: 'roles:read', description: 'See the roles of the tenant and what they grant.' },
  { name: 'roles:manage', description: 'Create, change and delete custom roles.' },
] as const

/** Declared by rbac only when tenancy (which owns them) is absent. */
export const MEMBER_PERMISSIONS = [
  { name: 'members:read', description: 'See users and their roles.' },
  { name: 'members:manage', description: "Change users' roles." },
] as const
