import type { PermissionDeclaration } from '@acme/core'

/**
 * The permissions flags' routes declare in core's catalog. In the operators' tenant they reach
 * every flag; in any other tenant, the flags marked tenant-editable, for that tenant only.
 */
export const FLAGS_PERMISSIONS = [
  {
    name: 'flags:read',
    description:
      'See flags, their targeting, overrides and history, and why a tenant gets a value.',
    grant: { admin: true },
  },
  {
    name: 'flags:manage',
    description: "Create, change and delete flags and segments, and set tenants' overrides.",
    grant: { admin: true },
  },
] as const satisfies readonly PermissionDeclaration[]
