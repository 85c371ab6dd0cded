import { paginationQuery, safeString } from '@acme/core'
import { z } from 'zod'

const json = z.unknown().describe('Any JSON value, exactly as stored (hashed in canonical form).')

export const entrySchema = z.object({
  id: z.uuid(),
  tenantId: z.uuid().nullable(),
  seq: z
    .number()
    .int()
    .nullable()
    .describe(
      'Position in the tenant’s chain: 1, 2, 3... without gaps; null for an entry not linked yet (it is, shortly after it commits).',
    ),
  action: z.string(),
  actionVersion: z.number().int(),
  occurredAt: z.string().describe('UTC, ISO 8601 with milliseconds.'),
  actor: json.describe('`{ type, id, creatorId?, sessionId?, impersonatorId? }`'),
  targets: json.describe('`[{ type, id }]`'),
  before: json,
  after: json,
  changes: json.describe('Field diff of a configuration change: `[{ path, before, after }]`.'),
  metadata: json,
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  requestId: z.string().nullable(),
  prevHash: z.string().nullable(),
  hash: z.string().nullable(),
})

/** Filters of the list and the export. */
export const filterQuery = z.object({
  actorId: safeString().min(1).max(100).optional().describe('User, API key or job id.'),
  action: safeString().min(1).max(100).optional(),
  targetId: safeString().min(1).max(100).optional().describe('Entries naming this target.'),
  from: z.iso.datetime({ offset: true }).optional().describe('Inclusive, ISO 8601.'),
  to: z.iso.datetime({ offset: true }).optional().describe('Exclusive, ISO 8601.'),
  q: safeString()
    .min(2)
    .max(100)
    .optional()
    .describe('Free text: a case-insensitive substring of action, actor, targets or metadata.'),
})

export const listQuery = paginationQuery.extend(filterQuery.shape).strict()

export const exportQuery = filterQuery
  .extend({ format: z.enum(['jsonl', 'csv']).default('jsonl') })
  .strict()

export const verifyQuery = z
  .object({
    fromSeq: z.coerce.number().int().min(1).optional(),
    toSeq: z.coerce.number().int().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(100_000).default(100_000),
  })
  .strict()

export const verifyReportSchema = z.object({
  valid: z.boolean(),
  checked: z.number().int(),
  fromSeq: z.number().int().nullable(),
  toSeq: z.number().int().nullable(),
  nextSeq: z
    .number()
    .int()
    .nullable()
    .describe('Call again with `fromSeq` = this to go on; null when the walk is complete.'),
  head: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
  pending: z
    .number()
    .int()
    .describe('Entries recorded but not linked yet (committed after verify linked the chain).'),
  checkpoint: z
    .object({
      seq: z.number().int(),
      hash: z.string(),
      prunedAt: z.string(),
      keyId: z.string(),
    })
    .nullable(),
  problem: z
    .object({
      kind: z.enum(['altered', 'missing', 'broken_link', 'checkpoint_invalid', 'truncated']),
      seq: z.number().int(),
      entryId: z.uuid().nullable(),
      message: z.string(),
    })
    .nullable(),
})
