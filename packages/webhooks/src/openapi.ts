import type { OpenApiPathItem } from '@acme/core'
import type { EventTypeInfo } from './event-types.js'

const SIGNATURE_HEADERS = [
  {
    name: 'webhook-id',
    description: 'The message id (`msg_…`), the same on every retry: deduplicate on it.',
  },
  {
    name: 'webhook-timestamp',
    description: 'Seconds since the epoch of this attempt; refuse one too far from now.',
  },
  {
    name: 'webhook-signature',
    description:
      '`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` with the endpoint secret; two ' +
      'entries, separated by a space, while a rotated secret still signs.',
  },
]

/**
 * The OpenAPI 3.1 `webhooks` section: one entry per event type of the catalog, the POST each
 * endpoint receives (its signature headers, the envelope with the payload's JSON Schema, and
 * what each answer means to the sender).
 */
export function openApiWebhooks(types: readonly EventTypeInfo[]): Record<string, OpenApiPathItem> {
  const entries: Record<string, OpenApiPathItem> = {}
  for (const type of types) {
    const { $schema: _dialect, ...data } = type.schema
    entries[type.name] = {
      post: {
        tags: ['webhooks'],
        operationId: `webhook.${type.name}`,
        summary: type.description,
        description:
          `Sent to each enabled endpoint whose event-type filter matches \`${type.name}\`, ` +
          'signed per Standard Webhooks 1.0 (verify with `verifyWebhook` from ' +
          '`@acme/webhooks/receiver` or any Standard Webhooks library), after the transaction ' +
          'that sent it committed. Redirects are not followed.',
        parameters: SIGNATURE_HEADERS.map((header) => ({
          ...header,
          in: 'header',
          required: true,
          schema: { type: 'string' },
        })),
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['type', 'timestamp', 'data'],
                properties: {
                  type: { type: 'string', const: type.name },
                  timestamp: {
                    type: 'string',
                    format: 'date-time',
                    description: 'When the event was sent; the same on every retry.',
                  },
                  data,
                },
              },
            },
          },
        },
        responses: {
          '2XX': { description: 'Received: the delivery is done.' },
          '410': { description: 'Gone: the endpoint is disabled and its admins are mailed.' },
          '429': { description: 'Retried after `Retry-After` (at most 24 h), as is 503.' },
          default: {
            description: 'Any other answer, or none within the timeout: retried on the schedule.',
          },
        },
      },
    }
  }
  return entries
}
