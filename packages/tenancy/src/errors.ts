import { defineError } from '@acme/core'

/** @acme/tenancy's catalogue. Codes are public API: see the package README. */
export const TenancyErrors = {
  TenantRequired: defineError(
    'ACME_TENANCY_TENANT_REQUIRED',
    400,
    'Tenant Required',
    'Name the tenant: a token issued for it, the x-tenant-id header, or its subdomain.',
  ),
  // Identical for "no such tenant" and "not a member": ids of other customers are not confirmed.
  TenantNotFound: defineError('ACME_TENANCY_TENANT_NOT_FOUND', 404, 'Not Found', 'No such tenant.'),
  NotFound: defineError('ACME_TENANCY_NOT_FOUND', 404, 'Not Found', 'No such resource.'),
  TenantSuspended: defineError(
    'ACME_TENANCY_TENANT_SUSPENDED',
    403,
    'Tenant Suspended',
    'This tenant is suspended.',
  ),
  Forbidden: defineError(
    'ACME_TENANCY_FORBIDDEN',
    403,
    'Forbidden',
    'Your role in this tenant does not allow this.',
  ),
  SlugTaken: defineError(
    'ACME_TENANCY_SLUG_TAKEN',
    409,
    'Slug Taken',
    'Another tenant uses this slug.',
  ),
  // A bug in the app, told to the client like any other 500; the log says what happened.
  RawSqlUnscoped: defineError(
    'ACME_TENANCY_RAW_SQL_UNSCOPED',
    500,
    'Internal Server Error',
    'An unexpected error occurred. Quote the request id when you contact support.',
  ),
  CrossTenantWrite: defineError(
    'ACME_TENANCY_CROSS_TENANT_WRITE',
    404,
    'Not Found',
    'No such resource.',
  ),
  RateLimited: defineError(
    'ACME_TENANCY_RATE_LIMITED',
    429,
    'Too Many Requests',
    "This tenant's plan allows no more requests right now; retry later.",
  ),
  SeatLimit: defineError(
    'ACME_TENANCY_SEAT_LIMIT',
    409,
    'Seat Limit Reached',
    "The tenant's plan has no free seat.",
  ),
  InvalidInput: defineError(
    'ACME_TENANCY_INVALID_INPUT',
    400,
    'Bad Request',
    'The request is invalid.',
  ),
  UnknownRole: defineError(
    'ACME_TENANCY_UNKNOWN_ROLE',
    400,
    'Unknown Role',
    'A role named in the request does not exist.',
  ),
  AlreadyMember: defineError(
    'ACME_TENANCY_ALREADY_MEMBER',
    409,
    'Already a Member',
    'This address already belongs to a member of the tenant.',
  ),
  InvitationInvalid: defineError(
    'ACME_TENANCY_INVITATION_INVALID',
    400,
    'Invalid Invitation',
    'This invitation link is invalid, expired, revoked or already used. Ask for a new one.',
  ),
  InvitationEmailMismatch: defineError(
    'ACME_TENANCY_INVITATION_EMAIL_MISMATCH',
    403,
    'Invitation For Another Address',
    'This invitation was sent to another email address: sign in with that account to accept it.',
  ),
  Unavailable: defineError(
    'ACME_TENANCY_UNAVAILABLE',
    503,
    'Service Unavailable',
    'Tenancy checks are unavailable; retry shortly.',
  ),
} as const
