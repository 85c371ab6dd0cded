import { defineError } from '@acme/core'

/** @acme/audit's catalogue. Codes are public API: see the package README. */
export const AuditErrors = {
  InvalidCursor: defineError(
    'ACME_AUDIT_INVALID_CURSOR',
    400,
    'Invalid Cursor',
    'The cursor is not one this API returned; start again without it.',
  ),
  InvalidRange: defineError(
    'ACME_AUDIT_INVALID_RANGE',
    400,
    'Invalid Range',
    'The range is empty or reversed: "from" must not be after "to".',
  ),
  // A bug in the caller (an action never defined, metadata its schema refuses): a 500 to the
  // client like any other, with the reason in the log.
  InvalidEntry: defineError(
    'ACME_AUDIT_INVALID_ENTRY',
    500,
    'Internal Server Error',
    'An unexpected error occurred. Quote the request id when you contact support.',
  ),
  TenantRequired: defineError(
    'ACME_AUDIT_TENANT_REQUIRED',
    400,
    'Tenant Required',
    'Name the tenant whose audit log you want.',
  ),
  RetentionUnavailable: defineError(
    'ACME_AUDIT_NO_CHECKPOINT_KEY',
    404,
    'Not Found',
    'This deployment signs no retention checkpoints.',
  ),
} as const
