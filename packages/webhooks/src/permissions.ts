import type { PermissionDeclaration } from '@acme/core'

/**
 * The permissions webhook routes declare in core's catalog. Endpoints decide where the tenant's
 * events go, so changing them is for admins; reading the delivery log is too (response bodies
 * and headers come from the customer's own systems).
 */
export const WEBHOOKS_PERMISSIONS = [
  {
    name: 'webhooks:read',
    description: "See the tenant's webhook endpoints and their delivery log.",
    grant: { admin: true },
  },
  {
    name: 'webhooks:manage',
    description:
      'Create, change, rotate the secret of and delete webhook endpoints; resend and replay deliveries.',
    grant: { admin: true },
  },
] as const satisfies readonly PermissionDeclaration[]
