import { safeString, safeText } from '@acme/core'
import { z } from 'zod'

export const tenantParams = z.object({ tenantId: z.uuid() }).strict()
export const endpointParams = z.object({ tenantId: z.uuid(), endpointId: z.uuid() }).strict()

// Headers a tenant may not set: the signature's, the framing's and the connection's.
const RESERVED_HEADER =
  /^(webhook-.*|host|content-length|content-type|content-encoding|transfer-encoding|connection|keep-alive|upgrade|te|trailer|proxy-.*|user-agent)$/i
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/

export const customHeaders = z
  .record(
    z
      .string()
      .regex(HEADER_NAME, 'must be an HTTP header name')
      .refine(
        (name) => !RESERVED_HEADER.test(name),
        'is set by the delivery itself and may not be replaced',
      ),
    safeString().max(1024),
  )
  .refine((headers) => Object.keys(headers).length <= 20, 'at most 20 headers')

const eventTypeFilter = z.string().min(1).max(100)

export const endpointBody = z
  .object({
    url: safeString()
      .trim()
      .min(1)
      .max(2048)
      .describe('Public http(s) URL deliveries are POSTed to.'),
    description: safeText().max(500).default(''),
    eventTypes: z
      .array(eventTypeFilter)
      .max(100)
      .default([])
      .describe('Event types delivered (`invoice.paid`, `invoice.*`, `*`); empty: all.'),
    enabled: z.boolean().default(true),
    headers: customHeaders.default({}),
    rateLimitPerSecond: z.number().int().min(1).max(10_000).nullable().default(null),
  })
  .strict()

export const endpointPatch = z
  .object({
    url: safeString().trim().min(1).max(2048).optional(),
    description: safeText().max(500).optional(),
    eventTypes: z.array(eventTypeFilter).max(100).optional(),
    enabled: z
      .boolean()
      .optional()
      .describe('`true` re-enables an endpoint disabled by failures or a 410.'),
    headers: customHeaders.optional(),
    rateLimitPerSecond: z.number().int().min(1).max(10_000).nullable().optional(),
  })
  .strict()

export const endpointView = z.object({
  id: z.uuid(),
  url: z.string(),
  description: z.string(),
  eventTypes: z.array(z.string()),
  enabled: z.boolean(),
  disabledReason: z
    .enum(['manual', 'gone', 'failing'])
    .nullable()
    .describe('Why deliveries stopped: `manual`, `gone` (410 from the receiver) or `failing`.'),
  headers: z.record(z.string(), z.string()),
  rateLimitPerSecond: z.number().int().nullable(),
  failingSince: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
})

export const secretView = z
  .string()
  .describe('`whsec_` + base64: shown once, store it now. Verify deliveries with it.')

export const eventTypeView = z.object({
  name: z.string(),
  description: z.string(),
  schema: z.record(z.string(), z.unknown()).describe('The payload as JSON Schema.'),
})
