import type { PermissionDeclaration } from '@acme/core'

/**
 * The permissions audit's routes declare in core's catalog: the log says who did what in the
 * tenant, so reading it is for admins (and owners), not for every member.
 */
export const AUDIT_PERMISSIONS = [
  {
    name: 'audit:read',
    description: "Read the tenant's audit log and verify its hash chain.",
    grant: { admin: true },
  },
  {
    name: 'audit:export',
    description: "Export the tenant's audit log (JSON Lines, CSV) with its hashes.",
    grant: { admin: true },
  },
] as const satisfies readonly PermissionDeclaration[]
