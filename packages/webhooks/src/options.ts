import { maintenanceJobOptions } from '@acme/core'
import { z } from 'zod'

/** The issue's schedule: after the first attempt fails, retry after these delays (7 retries). */
export const DEFAULT_RETRY_SCHEDULE_SECONDS = [
  5,
  5 * 60,
  30 * 60,
  2 * 3600,
  5 * 3600,
  10 * 3600,
  10 * 3600,
] as const

const base64Key = z.string().refine((value) => Buffer.from(value, 'base64').length === 32, {
  message: 'must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)',
})

/**
 * Addresses the SSRF guard lets through although they are not public: for tests that deliver to
 * a receiver on loopback. Refused when NODE_ENV is `production`.
 */
const testAllowlist = z.array(z.union([z.ipv4(), z.ipv6()])).max(16)

export const webhooksOptionsSchema = z
  .object({
    /** Route prefix of the webhook routes. */
    prefix: z
      .string()
      .regex(/^(\/[a-z0-9-]+)*$/)
      .default(''),
    /**
     * 32 bytes in base64: encrypts endpoint secrets at rest (AES-256-GCM). Required: secrets
     * encrypted under a key generated per process would stop working after a restart.
     */
    encryptionKey: base64Key,
    /** Random bytes in a new endpoint secret (Standard Webhooks: 24 to 64). */
    secretBytes: z.number().int().min(24).max(64).default(32),
    /** How long the previous secret keeps signing after a rotation, in seconds. */
    rotationOverlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 86_400)
      .default(86_400),
    /** Largest payload `send` accepts, in bytes of JSON. */
    maxPayloadBytes: z
      .number()
      .int()
      .min(1_024)
      .max(10 * 1024 * 1024)
      .default(256 * 1024),
    /** Endpoints one tenant may have. */
    maxEndpointsPerTenant: z.number().int().min(1).max(10_000).default(50),
    /** Delays between attempts, in seconds, after the first; its length is the retry count. */
    retryScheduleSeconds: z
      .array(
        z
          .number()
          .int()
          .min(1)
          .max(7 * 86_400),
      )
      .min(0)
      .max(20)
      .default(() => [...DEFAULT_RETRY_SCHEDULE_SECONDS]),
    /** A response slower than this is a failed attempt. */
    timeoutMs: z.number().int().min(100).max(60_000).default(15_000),
    /** Mail the tenant's members holding `webhooks:manage` when the engine disables an endpoint. */
    mailAdminsOnDisable: z.boolean().default(true),
    /** An endpoint failing without a success for this long is disabled. */
    disableAfterFailingSeconds: z
      .number()
      .int()
      .min(60)
      .default(5 * 86_400),
    delivery: z
      .object({
        /** Attempts one process makes at once. */
        concurrency: z.number().int().min(1).max(1_000).default(50),
        /**
         * Attempts one tenant may have in flight at once, across all workers: one tenant's burst
         * or dead endpoint cannot take every worker slot.
         */
        perTenantConcurrency: z.number().int().min(1).max(1_000).default(10),
        /** The sweeper's interval: crash leftovers and due retries are queued this often. */
        sweepEverySeconds: z.number().int().min(1).max(3_600).default(5),
        /** Outbox rows and due deliveries one sweep queues. */
        sweepBatch: z.number().int().min(1).max(100_000).default(1_000),
        /** Run the worker and the sweeper in this process (off: an API-only instance). */
        worker: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /**
     * The `webhooks.retention` job: `{ enabled, everySeconds | cron + tz, retentionDays = 30,
     * batchSize }`. Messages older than `retentionDays` are deleted with their deliveries and
     * attempt log, once none is pending.
     */
    retention: maintenanceJobOptions({ everySeconds: 86_400 }),
    ssrf: z
      .object({
        /** Test only: addresses allowed although private or loopback (the local receiver). */
        allowAddresses: testAllowlist.default([]),
      })
      .strict()
      .prefault({}),
    /** Injectable time source (tests): signing timestamps, retry schedule, rotation window. */
    clock: z
      .custom<() => Date>(
        (value) => typeof value === 'function',
        'must be a function returning a Date',
      )
      .optional(),
  })
  .strict()
  .superRefine((options, ctx) => {
    if (options.ssrf.allowAddresses.length > 0 && process.env.NODE_ENV === 'production') {
      ctx.addIssue({
        code: 'custom',
        path: ['ssrf', 'allowAddresses'],
        message:
          'is for tests only and refused when NODE_ENV is "production": deliveries to private or loopback addresses are an SSRF hole',
      })
    }
  })

export type WebhooksOptions = z.input<typeof webhooksOptionsSchema>
export type ResolvedWebhooksOptions = z.output<typeof webhooksOptionsSchema>
