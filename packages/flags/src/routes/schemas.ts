import { z } from 'zod'
import { flagKey, flagValueSchema } from '../engine/definition.js'

export { flagPatchSchema, segmentPatchSchema } from '../engine/definition.js'

// Responses: values are any JSON; the shapes around them are declared, so nothing else leaves.
const jsonValue = z.unknown()
const conditionView = z.object({
  attribute: z.string().optional(),
  operator: z.string(),
  values: z.array(z.union([z.string(), z.number()])),
})

export const flagView = z.object({
  key: z.string(),
  type: z.string(),
  description: z.string(),
  enabled: z.boolean(),
  defaultValue: jsonValue,
  offValue: jsonValue.optional(),
  schema: z.record(z.string(), z.unknown()).optional(),
  entitlement: z.string().nullable().optional(),
  plans: z.record(z.string(), jsonValue),
  prerequisites: z.array(z.object({ key: z.string(), value: jsonValue })),
  rules: z.array(
    z.object({
      id: z.string(),
      description: z.string(),
      conditions: z.array(conditionView),
      value: jsonValue,
    }),
  ),
  rollout: z
    .object({
      percentage: z.number(),
      value: jsonValue,
      stickiness: z.enum(['tenant', 'user']),
      seed: z.string(),
    })
    .nullable(),
  clientVisible: z.boolean(),
  tenantEditable: z.boolean(),
})

export const segmentView = z.object({
  key: z.string(),
  description: z.string(),
  conditions: z.array(conditionView),
})

export const evaluationView = z.object({
  key: z.string(),
  value: jsonValue,
  variant: z.string(),
  reason: z
    .string()
    .describe(
      'DISABLED, PREREQUISITE_FAILED, PLAN, OVERRIDE, TARGETING_MATCH, SPLIT, DEFAULT, STALE or ERROR.',
    ),
  matched: z.string().describe('The layer that decided, also when the reason is STALE.'),
  version: z.number().int(),
  errorCode: z.string().optional(),
})

export const overrideView = z.object({ tenantId: z.string(), value: jsonValue })

export const statusView = z.object({
  state: z.enum(['loading', 'ready', 'stale']),
  environment: z.string(),
  version: z.number().int(),
  knownVersion: z.number().int(),
  confirmedAt: z.date().nullable(),
  listening: z.boolean(),
})

export const changeView = z.object({
  version: z.number().int(),
  entity: z.string(),
  key: z.string(),
  tenantId: z.string().nullable(),
  action: z.string(),
  actorId: z.string().nullable(),
  before: jsonValue,
  after: jsonValue,
  createdAt: z.date(),
})

export const keyParams = z.object({ key: flagKey }).strict()
/**
 * Not `tenantId`: tenancy's `path` resolver reads a `tenantId` route parameter as the request's
 * tenant, and the operator working on a customer's override is not that customer's member.
 */
export const overrideParams = z.object({ key: flagKey, customerTenantId: z.uuid() }).strict()
export const valueBody = z.object({ value: flagValueSchema }).strict()

export const scheduleView = z.object({
  id: z.string(),
  key: z.string(),
  runAt: z.date(),
  change: z.unknown().describe('`{ update }` (fields of the flag) or `{ rolloutPercentage }`.'),
  status: z.enum(['pending', 'running', 'applied', 'failed', 'cancelled']),
  error: z.string().nullable(),
  createdBy: z.string().nullable(),
  createdAt: z.date(),
  appliedAt: z.date().nullable(),
})
