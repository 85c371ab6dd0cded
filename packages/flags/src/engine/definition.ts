import { safeJson, safeString } from '@acme/core'
import { z } from 'zod'

/**
 * What a flag serves: `boolean`; `kill-switch`, a boolean that is only on or off (no plan, tenant,
 * rule or rollout applies); `string`; `number`; `json`, checked against the flag's JSON Schema.
 */
export const FLAG_TYPES = ['boolean', 'kill-switch', 'string', 'number', 'json'] as const
export type FlagType = (typeof FLAG_TYPES)[number]

/** A served value: JSON. The flag's type narrows it (see `valueSchemaOf`). */
export type FlagValue =
  | boolean
  | string
  | number
  | null
  | FlagValue[]
  | { [key: string]: FlagValue }

/** Flag and segment keys: what code and URLs name them by. */
export const flagKey = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'lower-case letters, digits, ".", "_" and "-", 1 to 100')

/** Names of context attributes a condition reads (`tenantId`, `plan`, `userId` or your own). */
const attributeName = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/)

export const CONDITION_OPERATORS = [
  'in',
  'not_in',
  'eq',
  'neq',
  'lt',
  'lte',
  'gt',
  'gte',
  'before',
  'after',
  'semver_eq',
  'semver_lt',
  'semver_lte',
  'semver_gt',
  'semver_gte',
  'starts_with',
  'ends_with',
  'contains',
  'in_segment',
  'not_in_segment',
] as const
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number]

const SEGMENT_OPERATORS: readonly ConditionOperator[] = ['in_segment', 'not_in_segment']
/** Operators comparing with one value; the others take a list. */
const SINGLE_VALUE: readonly ConditionOperator[] = [
  'eq',
  'neq',
  'lt',
  'lte',
  'gt',
  'gte',
  'before',
  'after',
  'semver_eq',
  'semver_lt',
  'semver_lte',
  'semver_gt',
  'semver_gte',
]

export const conditionSchema = z
  .object({
    /** The context attribute; not used by the segment operators. */
    attribute: attributeName.optional(),
    operator: z.enum(CONDITION_OPERATORS),
    /** A list (in, starts_with, segment keys, ...) or one value (comparisons); no length cap. */
    values: z
      .array(z.union([safeString().max(500), z.number().finite()]))
      .min(1)
      .max(100_000),
  })
  .strict()
  .superRefine((condition, context) => {
    const segments = SEGMENT_OPERATORS.includes(condition.operator)
    if (!segments && condition.attribute === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['attribute'],
        message: 'required by this operator',
      })
    }
    if (SINGLE_VALUE.includes(condition.operator) && condition.values.length !== 1) {
      context.addIssue({ code: 'custom', path: ['values'], message: 'takes exactly one value' })
    }
    if (segments && !condition.values.every((value) => flagKey.safeParse(value).success)) {
      context.addIssue({ code: 'custom', path: ['values'], message: 'must be segment keys' })
    }
  })
export type Condition = z.output<typeof conditionSchema>

/** A reusable audience: every condition holds (segments do not nest, so no cycle can form). */
export const segmentDefinitionSchema = z
  .object({
    key: flagKey,
    description: safeString().max(500).default(''),
    conditions: z
      .array(conditionSchema)
      .max(50)
      .refine(
        (conditions) => conditions.every((c) => !SEGMENT_OPERATORS.includes(c.operator)),
        'a segment cannot name another segment',
      ),
  })
  .strict()
export type SegmentDefinition = z.output<typeof segmentDefinitionSchema>
export type SegmentDefinitionInput = z.input<typeof segmentDefinitionSchema>

const ruleId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/)
/** Any JSON value (the flag's type narrows it when checked). */
export const flagValueSchema = safeJson() as z.ZodType<FlagValue>
const anyValue = flagValueSchema

export const ruleSchema = z
  .object({
    id: ruleId,
    description: safeString().max(300).default(''),
    /** Every condition holds (AND); a rule with several lists is several rules. */
    conditions: z.array(conditionSchema).min(1).max(20),
    value: anyValue,
  })
  .strict()
export type TargetingRule = z.output<typeof ruleSchema>

export const rolloutSchema = z
  .object({
    /** Share of units served `value`, to 0.01 %. */
    percentage: z.number().min(0).max(100).multipleOf(0.01),
    value: anyValue,
    /** Whose id is hashed: the tenant (a whole customer sees the same thing) or the user. */
    stickiness: z.enum(['tenant', 'user']).default('tenant'),
    /** Changes the buckets without renaming the flag (a fresh draw); default the empty string. */
    seed: z
      .string()
      .regex(/^[A-Za-z0-9_-]{0,40}$/)
      .default(''),
  })
  .strict()
export type Rollout = z.output<typeof rolloutSchema>

export const prerequisiteSchema = z.object({ key: flagKey, value: anyValue }).strict()
export type Prerequisite = z.output<typeof prerequisiteSchema>

/**
 * A flag as stored and as the management routes take it. `enabled: false` is the kill switch:
 * the flag serves `offValue` and nothing else is looked at.
 */
export const flagDefinitionSchema = z
  .object({
    key: flagKey,
    type: z.enum(FLAG_TYPES),
    description: safeString().max(500).default(''),
    enabled: z.boolean().default(true),
    /** Served when on and no layer matched. */
    defaultValue: anyValue,
    /** Served when off or a prerequisite fails; default `false` for booleans, else `defaultValue`. */
    offValue: anyValue.optional(),
    /** `json` flags: the JSON Schema every value of the flag must satisfy. */
    schema: z.record(z.string(), z.unknown()).optional(),
    /**
     * The plan entitlement that turns a boolean flag on (tenancy's `plans.<name>.entitlements`);
     * default the flag's key, so "Pro has uploads" is one line in the plan catalogue. `null`: none.
     */
    entitlement: z.string().min(1).max(100).nullable().optional(),
    /** A value per plan name, ahead of overrides and rules. */
    plans: z.record(z.string().regex(/^[a-z0-9-]{1,40}$/), anyValue).default({}),
    prerequisites: z.array(prerequisiteSchema).max(20).default([]),
    rules: z.array(ruleSchema).max(200).default([]),
    rollout: rolloutSchema.nullable().default(null),
    /** Returned by `GET /flags/evaluated` to browsers. */
    clientVisible: z.boolean().default(false),
    /** Tenant admins (holding `flags:manage` in their tenant) may set their tenant's override. */
    tenantEditable: z.boolean().default(false),
  })
  .strict()
export type FlagDefinition = z.output<typeof flagDefinitionSchema>
export type FlagDefinitionInput = z.input<typeof flagDefinitionSchema>

/** A change to a flag: the fields given replace the stored ones (key and type excepted). */
export const flagPatchSchema = z
  .object({
    description: safeString().max(500),
    enabled: z.boolean(),
    defaultValue: flagValueSchema,
    offValue: flagValueSchema,
    schema: z.record(z.string(), z.unknown()),
    entitlement: z.string().min(1).max(100).nullable(),
    plans: z.record(z.string().regex(/^[a-z0-9-]{1,40}$/), flagValueSchema),
    prerequisites: z.array(prerequisiteSchema).max(20),
    rules: z.array(ruleSchema).max(200),
    rollout: rolloutSchema.nullable(),
    clientVisible: z.boolean(),
    tenantEditable: z.boolean(),
  })
  .partial()
  .strict()

export const segmentPatchSchema = z
  .object({
    description: safeString().max(500),
    conditions: z.array(conditionSchema).max(50),
  })
  .partial()
  .strict()
