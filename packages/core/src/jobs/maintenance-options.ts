import { z } from 'zod'

/** Five cron fields, or six with seconds first; the runner checks the expression at startup. */
const CRON_SHAPE = /^\S+(\s+\S+){4,5}$/

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

/**
 * The options schema of a plugin's maintenance job (cleanup, retention), one shape for every
 * plugin: `{ enabled, everySeconds | cron + tz, retentionDays, batchSize }`, resolved to
 * `{ enabled, schedule, retentionDays, batchSize }` where `schedule` is what `scheduleOnReady`
 * takes. `everySeconds` defaults to `defaults.everySeconds`.
 */
export function maintenanceJobOptions(defaults: { everySeconds: number }) {
  return z
    .object({
      enabled: z.boolean().default(true),
      /** Runs every this many seconds, the first run one interval after the first start. */
      everySeconds: z
        .number()
        .int()
        .min(60)
        .max(31 * 86_400)
        .optional(),
      /** Instead of `everySeconds`: a cron expression (5 fields, or 6 with seconds first). */
      cron: z.string().trim().regex(CRON_SHAPE, 'must be 5 or 6 cron fields').optional(),
      /** The IANA time zone `cron` is read in. */
      tz: z.string().refine(isTimeZone, 'must be an IANA time zone, like "UTC"').default('UTC'),
      /** Days a row is kept once it stopped serving (expired, revoked, used, lapsed). */
      retentionDays: z.number().int().min(1).max(3_650).default(30),
      /** Rows per DELETE statement: each batch locks at most this many rows. */
      batchSize: z.number().int().min(1).max(10_000).default(1_000),
    })
    .strict()
    .prefault({})
    .superRefine((options, ctx) => {
      if (options.cron !== undefined && options.everySeconds !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['cron'],
          message: 'give "everySeconds" or "cron", not both',
        })
      }
    })
    .transform(({ everySeconds, cron, tz, ...rest }) => ({
      ...rest,
      schedule:
        cron === undefined
          ? { every: (everySeconds ?? defaults.everySeconds) * 1_000 }
          : { cron, tz },
    }))
}
