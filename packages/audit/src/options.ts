import { maintenanceJobOptions } from '@acme/core'
import { z } from 'zod'

/** Days a plan's entries are kept: Starter 30 days, Pro 1 year, Enterprise 7 years. */
export const DEFAULT_RETENTION_DAYS: Record<string, number> = {
  starter: 30,
  pro: 365,
  enterprise: 7 * 365,
}

const days = z
  .number()
  .int()
  .min(1)
  .max(100 * 365)

export const auditOptionsSchema = z
  .object({
    /** Route prefix of the audit routes. */
    prefix: z
      .string()
      .regex(/^(\/[a-z0-9-]+)*$/)
      .default(''),
    /**
     * Ed25519 private key (PKCS#8 PEM) that signs the retention job's "pruned up to" checkpoints;
     * its public key is served at `GET /audit/checkpoint-keys`. Required while retention is on.
     */
    checkpointKey: z.string().min(1).optional(),
    /**
     * After a key rotation: the Ed25519 public keys (PEM) of earlier `checkpointKey`s, which
     * still check the checkpoints they signed.
     */
    retiredCheckpointKeys: z.array(z.string().min(1)).default([]),
    /** Record every domain event of the app's event bus (auth, tenancy, rbac, ...). */
    events: z
      .object({
        enabled: z.boolean().default(true),
        /** Event names never recorded (e.g. noisy ones you audit otherwise). */
        ignore: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
    /** Record a `access.denied` entry for each 403 answered on a route with a tenant. */
    deniedAccess: z.boolean().default(true),
    /**
     * The `audit.retention` job: `{ enabled, everySeconds | cron + tz, retentionDays, batchSize }`.
     * `retentionDays` applies to plans `retentionPlans` does not list, to deleted tenants and to
     * the app's own chain.
     */
    retention: maintenanceJobOptions({ everySeconds: 86_400 }),
    /** Days a tenant's entries are kept, by its plan. */
    retentionPlans: z.record(z.string(), days).default(() => ({ ...DEFAULT_RETENTION_DAYS })),
    /**
     * The linker, which gives committed entries their place in the chain: entries linked per
     * transaction, how often (ms) it looks for chains with entries still unlinked (those
     * recorded outside a request, or by an instance that stopped first; 0: never), and how long
     * (ms) a request to link waits for others to join its pass.
     */
    link: z
      .object({
        batchSize: z.number().int().min(1).max(10_000).default(1_000),
        sweepMs: z.number().int().min(0).max(3_600_000).default(2_000),
        delayMs: z.number().int().min(0).max(10_000).default(100),
      })
      .strict()
      .prefault({}),
    /**
     * Entries one page of a free-text search reads at most (bounded work per page: free text
     * has no index); a page that read them all without filling up returns a cursor to go on.
     */
    searchWindow: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Longest export, in entries (bounded work per request). */
    exportLimit: z.number().int().min(1).max(10_000_000).default(1_000_000),
    /** Injectable time source (tests): entry times and retention cutoffs. */
    clock: z
      .custom<() => Date>(
        (value) => typeof value === 'function',
        'must be a function returning a Date',
      )
      .optional(),
  })
  .strict()
  .superRefine((options, ctx) => {
    if (options.retention.enabled && !options.checkpointKey) {
      ctx.addIssue({
        code: 'custom',
        path: ['checkpointKey'],
        message:
          'is required while retention is enabled: an Ed25519 private key in PEM, which signs the checkpoints retention leaves (or set retention.enabled: false)',
      })
    }
  })

export type AuditOptions = z.input<typeof auditOptionsSchema>
export type ResolvedAuditOptions = z.output<typeof auditOptionsSchema>
