import { maintenanceJobOptions } from '@acme/core'
import { z } from 'zod'

const planSchema = z
  .object({
    /** Shown in UIs and invoices. */
    label: z.string().min(1).max(100),
    /** Sustained API requests per minute for the whole tenant (null: unlimited). */
    requestsPerMinute: z.number().int().positive().nullable(),
    /** Members plus pending invitations (null: unlimited). */
    seats: z.number().int().positive().nullable(),
    /** Bytes of uploads (read by the uploads plugin; null: unlimited). */
    storageBytes: z.number().int().nonnegative().nullable(),
    /** Named capabilities other plugins and the app check (feature flags read them). */
    entitlements: z.array(z.string().min(1).max(100)).default([]),
  })
  .strict()

export type Plan = z.output<typeof planSchema>

export const DEFAULT_PLANS: Record<string, z.input<typeof planSchema>> = {
  starter: {
    label: 'Starter',
    requestsPerMinute: 100,
    seats: 5,
    storageBytes: 1024 ** 3,
    entitlements: [],
  },
  pro: {
    label: 'Pro',
    requestsPerMinute: 1_000,
    seats: 50,
    storageBytes: 100 * 1024 ** 3,
    entitlements: ['sso', 'audit-export', 'webhooks'],
  },
  enterprise: {
    label: 'Enterprise',
    requestsPerMinute: 10_000,
    seats: null,
    storageBytes: null,
    entitlements: ['sso', 'audit-export', 'webhooks', 'custom-roles', 'data-residency'],
  },
}

const resolverSchema = z.union([
  z.literal('token'),
  z.literal('header'),
  z.literal('path'),
  z.object({ type: z.literal('subdomain'), baseDomain: z.string().min(3) }).strict(),
])

export type TenantResolverSetting = z.output<typeof resolverSchema>

export const tenancyOptionsSchema = z
  .object({
    /** `multi`: tenants, memberships and their routes. `single`: one implicit tenant, no routes. */
    mode: z.enum(['multi', 'single']).default('multi'),
    /** Single mode: the one tenant's slug (created at startup if missing). */
    singleTenant: z
      .object({ slug: z.string().default('default'), name: z.string().default('Default') })
      .strict()
      .prefault({}),
    plans: z.record(z.string().regex(/^[a-z0-9-]{1,40}$/), planSchema).default(() => {
      const plans: Record<string, Plan> = {}
      for (const [name, plan] of Object.entries(DEFAULT_PLANS)) plans[name] = planSchema.parse(plan)
      return plans
    }),
    defaultPlan: z.string().default('starter'),
    /**
     * Role names a membership may hold when @acme/rbac is absent. `owner` always exists: owners
     * manage everything, `admin` manages the tenant and members except owners.
     */
    roles: z
      .array(z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/))
      .default(['owner', 'admin', 'member', 'viewer'])
      .refine((roles) => roles.includes('owner'), 'must include "owner"'),
    /**
     * Where a request names its tenant, tried in order; the first that names one wins and the
     * caller's membership is always verified. `path` reads the `tenantId` route parameter.
     */
    resolvers: z.array(resolverSchema).min(1).default(['path', 'header', 'token']),
    header: z
      .string()
      .regex(/^[a-z0-9-]+$/)
      .default('x-tenant-id'),
    /**
     * PostgreSQL row-level security as the second wall. Turning it off keeps the scoped client
     * but drops the database's guarantee: know what you give up (see the README).
     */
    rls: z.boolean().default(true),
    /** Refuse to start when the doctor finds a hole (role can bypass RLS, table unscoped...). */
    doctor: z.enum(['enforce', 'warn', 'off']).default('enforce'),
    /** Models that carry the tenant id; default: every model with a `tenantId` field. */
    tenantOwnedModels: z.array(z.string()).optional(),
    /** Tables with a tenant column scoped by their own policies rather than the generic one. */
    policyTables: z.array(z.string()).default([]),
    transaction: z
      .object({
        /**
         * With RLS: `statement` (default), each statement of `request.db` is a transaction of its
         * own, sent with the tenant in one round trip, and `request.db.$transaction` groups
         * statements; `request`, each request is one transaction, committed before a successful
         * response. A route chooses with `config.tenantTransaction`.
         */
        scope: z.enum(['statement', 'request']).default('statement'),
        maxWaitMs: z.number().int().positive().default(2_000),
        timeoutMs: z.number().int().positive().default(10_000),
      })
      .strict()
      .prefault({}),
    /** Membership lookups are cached in memory; changes are broadcast through Redis. */
    membershipCacheSeconds: z.number().int().min(0).max(3_600).default(60),
    invitations: z
      .object({
        ttlSeconds: z
          .number()
          .int()
          .min(3_600)
          .max(30 * 86_400)
          .default(7 * 86_400),
        /** The web app's accept page; defaults to the brand's base URL + /accept-invitation. */
        acceptUrl: z.url().optional(),
      })
      .strict()
      .prefault({}),
    /** Per-tenant rate limit by plan (keyed by client IP when no tenant is named). */
    rateLimit: z
      .object({
        enabled: z.boolean().default(true),
        /** Requests per minute per IP for requests that name no tenant. */
        anonymousPerMinute: z.number().int().positive().default(100),
      })
      .strict()
      .prefault({}),
    /**
     * The `tenancy.cleanup` job, scheduled at startup: deletes invitations that lapsed longer ago
     * than the retention, tenant by tenant. See the README ("Cleanup").
     */
    cleanup: maintenanceJobOptions({ everySeconds: 86_400 }),
    /** Injectable time source (tests): invitation expiry and the request limit's buckets. */
    clock: z
      .custom<() => Date>(
        (value) => typeof value === 'function',
        'must be a function returning a Date',
      )
      .optional(),
  })
  .strict()
  .superRefine((options, ctx) => {
    if (!(options.defaultPlan in options.plans)) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultPlan'],
        message: `"${options.defaultPlan}" is not one of the plans (${Object.keys(options.plans).join(', ')})`,
      })
    }
  })

export type TenancyOptions = z.input<typeof tenancyOptionsSchema>
export type ResolvedTenancyOptions = z.output<typeof tenancyOptionsSchema>
