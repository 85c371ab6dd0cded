import { z } from 'zod'
import { defaultBaseUrl } from './base-url.js'
import type { PrismaClientConstructor, PrismaClientLike } from './data/prisma.js'
import type { RedisClient } from './data/redis.js'
import { AcmeConfigError } from './errors.js'

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null

const prismaInstance = z.custom<PrismaClientLike>(
  (value) => isObject(value) && typeof value.$queryRaw === 'function',
  'must be a PrismaClient instance',
)

const prismaConstructor = z.custom<PrismaClientConstructor>(
  (value) => typeof value === 'function',
  'must be your generated PrismaClient class',
)

const redisInstance = z.custom<RedisClient>(
  (value) => isObject(value) && typeof value.duplicate === 'function',
  'must be an ioredis Redis or Cluster instance',
)

const brandSchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    baseUrl: z
      .url({ protocol: /^https?$/ })
      .transform((url) => url.replace(/\/+$/, ''))
      // Read when the options are parsed (at register), so it follows the PORT the app runs on.
      .default(() => defaultBaseUrl(process.env)),
    supportEmail: z.email().optional(),
    mailFrom: z.email().optional(),
  })
  .strict()

const mailSchema = z.discriminatedUnion('transport', [
  z.object({ transport: z.literal('smtp'), url: z.url({ protocol: /^smtps?$/ }) }).strict(),
  z.object({ transport: z.literal('file'), dir: z.string().min(1).default('.data/mail') }).strict(),
  z.object({ transport: z.literal('memory') }).strict(),
])

const rateLimitSchema = z.union([
  z.literal(false),
  z
    .object({
      max: z.number().int().positive().default(100),
      timeWindowMs: z.number().int().positive().default(60_000),
      allowList: z.array(z.string()).default([]),
    })
    .strict(),
])

const corsSchema = z
  .object({
    origin: z.union([z.boolean(), z.string(), z.array(z.string())]).default(false),
    credentials: z.boolean().default(false),
  })
  .strict()

export const coreOptionsSchema = z
  .object({
    brand: brandSchema,
    prisma: prismaInstance.optional(),
    database: z
      .object({
        url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
        PrismaClient: prismaConstructor,
        poolSize: z.number().int().positive().max(500).default(10),
      })
      .strict()
      .optional(),
    /**
     * The migrations folder compared with the database at startup (`ready` refuses pending ones);
     * default: the CLI's (`acme.prisma.migrations` in package.json, else prisma/migrations).
     */
    migrations: z
      .union([z.literal(false), z.object({ dir: z.string().min(1).optional() }).strict()])
      .prefault({}),
    redis: z
      .union([
        redisInstance,
        z.url({ protocol: /^rediss?$/ }),
        z.object({ cluster: z.array(z.url({ protocol: /^rediss?$/ })).min(1) }).strict(),
      ])
      .optional(),
    redisKeyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9:_-]{1,64}$/)
      .default('acme:'),
    closeClients: z.boolean().default(true),
    jobs: z
      .object({
        concurrency: z.number().int().positive().max(1000).default(5),
        attempts: z.number().int().positive().max(100).default(3),
        backoffMs: z.number().int().nonnegative().default(1_000),
        keepFailed: z.number().int().nonnegative().default(1_000),
        /** The in-process runner's time source for schedules (tests move it, then `runDue()`). */
        clock: z
          .custom<() => Date>(
            (value) => typeof value === 'function',
            'must be a function returning a Date',
          )
          .optional(),
      })
      .strict()
      .prefault({}),
    mail: mailSchema.prefault({ transport: 'file' }),
    cache: z
      .object({
        store: z.enum(['memory', 'redis']).default('memory'),
        ttlMs: z.number().int().nonnegative().default(60_000),
        maxEntries: z.number().int().nonnegative().default(10_000),
      })
      .strict()
      .prefault({}),
    counters: z
      .object({
        /** A Redis call of `app.counters` slower than this rejects (CounterTimeoutError). */
        timeoutMs: z.number().int().positive().max(60_000).default(2_000),
        /** Time of `app.counters`' GCRA decisions and memory windows (tests move it). */
        clock: z
          .custom<() => Date>(
            (value) => typeof value === 'function',
            'must be a function returning a Date',
          )
          .optional(),
      })
      .strict()
      .prefault({}),
    health: z
      .object({ timeoutMs: z.number().int().positive().max(60_000).default(2_000) })
      .strict()
      .prefault({}),
    docs: z
      .object({
        enabled: z.boolean().default(true),
        routePrefix: z
          .string()
          .regex(/^\/[A-Za-z0-9/_-]*$/)
          .default('/docs'),
        title: z.string().optional(),
        version: z.string().default('1.0.0'),
        description: z.string().optional(),
      })
      .strict()
      .prefault({}),
    helmet: z.union([z.boolean(), z.record(z.string(), z.unknown())]).default(true),
    securityHeaders: z.enum(['applicable', 'all']).default('applicable'),
    cors: corsSchema.prefault({}),
    rateLimit: rateLimitSchema.prefault({}),
    limits: z
      .object({ jsonDepth: z.number().int().positive().max(1_000).default(64) })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((options, ctx) => {
    if (options.prisma && options.database) {
      ctx.addIssue({
        code: 'custom',
        path: ['database'],
        message: 'pass either "prisma" (your client) or "database" (core builds one), not both',
      })
    }
    if (options.mail.transport === 'smtp' && !options.brand.mailFrom) {
      ctx.addIssue({
        code: 'custom',
        path: ['brand', 'mailFrom'],
        message: 'is required when mail.transport is "smtp"',
      })
    }
  })

/** What the host passes to `app.register(core, options)`. */
export type CoreOptions = z.input<typeof coreOptionsSchema>
/** The options after validation and defaults. */
export type ResolvedCoreOptions = z.output<typeof coreOptionsSchema>
export type Brand = ResolvedCoreOptions['brand']

/**
 * Parses options with a schema and throws one error naming every bad option, so a typo fails
 * `app.ready()` instead of surfacing as odd behaviour later. Plugins reuse it for their own.
 */
export function parseOptions<S extends z.ZodType>(
  pluginName: string,
  schema: S,
  input: unknown,
): z.output<S> {
  const result = schema.safeParse(input ?? {})
  if (result.success) return result.data
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.') || '(root)'
    return `"${path}" ${issue.message}`
  })
  throw new AcmeConfigError(pluginName, problems)
}
