import { defineError } from '@acme/core'

/** @acme/webhooks' catalogue. Codes are public API: see the package README. */
export const WebhooksErrors = {
  EndpointNotFound: defineError(
    'ACME_WEBHOOKS_ENDPOINT_NOT_FOUND',
    404,
    'Not Found',
    'No webhook endpoint with this id in this tenant.',
  ),
  DeliveryNotFound: defineError(
    'ACME_WEBHOOKS_DELIVERY_NOT_FOUND',
    404,
    'Not Found',
    'No webhook delivery with this id in this tenant.',
  ),
  NotResendable: defineError(
    'ACME_WEBHOOKS_NOT_RESENDABLE',
    409,
    'Not Resendable',
    'The delivery cannot be sent again now.',
  ),
  UrlRefused: defineError(
    'ACME_WEBHOOKS_URL_REFUSED',
    400,
    'Endpoint URL Refused',
    'Webhook endpoints must be public http(s) URLs.',
  ),
  UnknownEventType: defineError(
    'ACME_WEBHOOKS_UNKNOWN_EVENT_TYPE',
    400,
    'Unknown Event Type',
    'The event-type filter names no event type of the catalog (GET /webhooks/event-types).',
  ),
  TooManyEndpoints: defineError(
    'ACME_WEBHOOKS_TOO_MANY_ENDPOINTS',
    409,
    'Too Many Endpoints',
    'The tenant has as many webhook endpoints as it may have; delete one first.',
  ),
  SigningKeyNotFound: defineError(
    'ACME_WEBHOOKS_SIGNING_KEY_NOT_FOUND',
    404,
    'Not Found',
    'The tenant has no signing key: deliveries carry `v1` (HMAC) signatures only.',
  ),
  ReplayNotFound: defineError(
    'ACME_WEBHOOKS_REPLAY_NOT_FOUND',
    404,
    'Not Found',
    'No webhook replay with this id in this tenant.',
  ),
  TenantRequired: defineError(
    'ACME_WEBHOOKS_TENANT_REQUIRED',
    400,
    'Tenant Required',
    'Name the tenant whose webhooks you want.',
  ),
  // Bugs in the sending code (an event type never declared, a payload its schema refuses, a
  // payload over the limit): a 500 to the client like any other, with the reason in the log.
  InvalidEvent: defineError(
    'ACME_WEBHOOKS_INVALID_EVENT',
    500,
    'Internal Server Error',
    'An unexpected error occurred. Quote the request id when you contact support.',
  ),
} as const
