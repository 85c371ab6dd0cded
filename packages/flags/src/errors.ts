import { defineError } from '@acme/core'

/** @acme/flags' catalogue. Codes are public API: see the package README. */
export const FlagsErrors = {
  FlagNotFound: defineError('ACME_FLAGS_FLAG_NOT_FOUND', 404, 'Not Found', 'No such flag.'),
  SegmentNotFound: defineError(
    'ACME_FLAGS_SEGMENT_NOT_FOUND',
    404,
    'Not Found',
    'No such segment.',
  ),
  ScheduleNotFound: defineError(
    'ACME_FLAGS_SCHEDULE_NOT_FOUND',
    404,
    'Not Found',
    'No pending schedule with this id.',
  ),
  FlagExists: defineError(
    'ACME_FLAGS_FLAG_EXISTS',
    409,
    'Flag Exists',
    'A flag with this key already exists in this environment.',
  ),
  SegmentExists: defineError(
    'ACME_FLAGS_SEGMENT_EXISTS',
    409,
    'Segment Exists',
    'A segment with this key already exists in this environment.',
  ),
  InvalidDefinition: defineError(
    'ACME_FLAGS_INVALID_DEFINITION',
    400,
    'Invalid Flag Definition',
    'The definition does not hold together: see `problems`.',
  ),
  InvalidValue: defineError(
    'ACME_FLAGS_INVALID_VALUE',
    400,
    'Invalid Flag Value',
    "The value does not fit the flag's type or schema.",
  ),
  InUse: defineError(
    'ACME_FLAGS_IN_USE',
    409,
    'In Use',
    'Other flags depend on this one (a prerequisite or a segment): change them first.',
  ),
  NotTenantEditable: defineError(
    'ACME_FLAGS_NOT_TENANT_EDITABLE',
    403,
    'Forbidden',
    'This flag is managed by the operators of the service.',
  ),
  OperatorsOnly: defineError(
    'ACME_FLAGS_OPERATORS_ONLY',
    403,
    'Forbidden',
    "Only the service's operators manage flags.",
  ),
  NotLoaded: defineError(
    'ACME_FLAGS_NOT_LOADED',
    503,
    'Service Unavailable',
    'Flags are not loaded yet; retry shortly.',
  ),
} as const
