import { defineError } from '@acme/core'

/** @acme/rbac's catalogue. Codes are public API: see the package README. */
export const RbacErrors = {
  Forbidden: defineError(
    'ACME_RBAC_FORBIDDEN',
    403,
    'Forbidden',
    'You do not have the permission this requires.',
  ),
  Escalation: defineError(
    'ACME_RBAC_ESCALATION',
    403,
    'Forbidden',
    'You cannot grant, assign or take permissions you do not hold yourself.',
  ),
  SystemRole: defineError(
    'ACME_RBAC_SYSTEM_ROLE',
    403,
    'System Role',
    'System roles are defined in code and cannot be changed or deleted.',
  ),
  RoleNotFound: defineError('ACME_RBAC_ROLE_NOT_FOUND', 404, 'Not Found', 'No such role.'),
  RoleExists: defineError(
    'ACME_RBAC_ROLE_EXISTS',
    409,
    'Role Exists',
    'A role with this name already exists.',
  ),
  RoleInUse: defineError(
    'ACME_RBAC_ROLE_IN_USE',
    409,
    'Role In Use',
    'Other roles inherit from this role: change them first.',
  ),
  InvalidRole: defineError(
    'ACME_RBAC_INVALID_ROLE',
    400,
    'Invalid Role',
    'The role names unknown permissions, an unknown parent, or closes an inheritance cycle.',
  ),
  UnknownRole: defineError(
    'ACME_RBAC_UNKNOWN_ROLE',
    400,
    'Unknown Role',
    'A role named in the request does not exist.',
  ),
  MemberNotFound: defineError('ACME_RBAC_MEMBER_NOT_FOUND', 404, 'Not Found', 'No such member.'),
  Unavailable: defineError(
    'ACME_RBAC_UNAVAILABLE',
    503,
    'Service Unavailable',
    'Permissions cannot be checked right now; retry shortly.',
  ),
} as const
