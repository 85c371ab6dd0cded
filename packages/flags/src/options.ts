import { safeJson } from '@acme/core'
import { z } from 'zod'
import { FLAG_TYPES, flagKey } from './engine/definition.js'

/**
 * A flag the app's code reads, declared in code so it exists (created with these settings, then
 * managed through the routes) before anyone configures it. The type the code relies on is fixed
 * here: a stored flag of another type is refused at startup.
 */
const declaredFlag = z
  .object({
    key: flagKey,
    type: z.enum(FLAG_TYPES),
    description: z.string().max(500).default(''),
    defaultValue: safeJson(),
    /** `json` flags: a zod schema (converted to JSON Schema and stored) or a JSON Schema. */
    schema: z
      .union([
        z.custom<z.ZodType>((value) => value instanceof z.ZodType),
        z.record(z.string(), z.unknown()),
      ])
      .optional(),
    clientVisible: z.boolean().default(false),
    tenantEditable: z.boolean().default(false),
  })
  .strict()

export type FlagDeclaration = z.input<typeof declaredFlag>

export const flagsOptionsSchema = z
  .object({
    /** The environment this instance serves (`production`, `staging`...): flags are per environment. */
    environment: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,39}$/)
      .default('production'),
    /** Flags the code reads: created at startup when missing, their type checked when present. */
    flags: z.array(declaredFlag).default([]),
    /**
     * How often every instance asks the database for the environment's version, the fallback
     * for a change whose broadcast it missed. 0: never (the broadcast alone, then STALE once it
     * is lost for `maxStaleSeconds`).
     */
    pollSeconds: z.number().min(0).max(3_600).default(30),
    /**
     * An instance that could not confirm its flags are current for this long reports STALE: the
     * evaluation reason, `app.flags.status()`, and readiness (see `readiness`).
     */
    maxStaleSeconds: z.number().positive().max(86_400).default(60),
    readiness: z
      .object({
        /** Readiness fails while STALE, so a load balancer drains the instance. */
        failWhenStale: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /**
     * Scheduled changes (enable at a time, ramps): the `flags.schedules` job applies those due,
     * every `everySeconds`, on one instance per tick. `enabled: false` unschedules the job.
     */
    schedules: z
      .object({
        enabled: z.boolean().default(true),
        everySeconds: z.number().int().min(1).max(3_600).default(30),
      })
      .strict()
      .prefault({}),
    /**
     * The tenant whose members manage every flag (operators): with `flags:manage` there they use
     * the operator routes. Its id (uuid). Without it, flags change only through `app.flags.admin`
     * and tenant admins' overrides of tenant-editable flags.
     */
    operatorTenantId: z.uuid().optional(),
    /** Routes under this prefix. */
    prefix: z
      .string()
      .regex(/^(\/[a-z0-9-]+)*$/)
      .default(''),
    /** The injected clock (tests move it); default the system clock. */
    clock: z.custom<() => Date>((value) => typeof value === 'function').optional(),
  })
  .strict()

export type FlagsOptions = z.input<typeof flagsOptionsSchema>
export type ResolvedFlagsOptions = z.output<typeof flagsOptionsSchema>
