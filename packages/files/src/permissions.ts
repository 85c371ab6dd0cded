import type { PermissionDeclaration } from '@acme/core'

/**
 * Files are the tenant's: every member reads them; members upload and delete their own
 * (`files:write:own`), admins anyone's.
 */
export const FILES_PERMISSIONS = [
  {
    name: 'files:read',
    description: "List the tenant's files, read their metadata and download them.",
    grant: { admin: true, member: true, viewer: true },
  },
  {
    name: 'files:write',
    description: 'Upload files and delete them.',
    grant: { admin: true, member: 'own' },
  },
] as const satisfies readonly PermissionDeclaration[]
