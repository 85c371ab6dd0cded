import { existsSync } from 'node:fs'
import { defaultBaseUrl } from '@acme/core'
import { z } from 'zod'

const optionalUrl = z.preprocess((value) => (value === '' ? undefined : value), z.url().optional())
const optionalEmail = z.preprocess(
  (value) => (value === '' ? undefined : value),
  z.email().optional(),
)

/** Every variable the server reads; `.env.example` documents each one. */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  /** `pretty` when a terminal is attached (people read it), `json` otherwise (machines do). */
  LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
  TRUST_PROXY: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),

  BRAND_NAME: z.string().min(1).default('Initech'),
  /** Empty: http://localhost:<PORT>, so a server moved to another port links to itself. */
  PUBLIC_BASE_URL: optionalUrl,
  SUPPORT_EMAIL: optionalEmail,
  MAIL_FROM: optionalEmail,

  DATABASE_URL: optionalUrl,
  /**
   * The app's own connection: a role made by `acme db app-role` (no superuser, no BYPASSRLS,
   * owns nothing). Without it, the starter creates APP_DATABASE_ROLE and switches to it on the
   * DATABASE_URL connections (development only).
   */
  APP_DATABASE_URL: optionalUrl,
  APP_DATABASE_ROLE: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/)
    .default('acme_app'),
  PGLITE_DATA_DIR: z.string().default('.data/pglite'),
  REDIS_URL: optionalUrl,
  /** Seed nodes of a Redis Cluster, comma-separated; takes precedence over REDIS_URL. */
  REDIS_CLUSTER_URLS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((url) => url.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url({ protocol: /^rediss?$/ }))),
  SMTP_URL: optionalUrl,
  MAIL_DIR: z.string().default('.data/mail'),

  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((origin) => origin.trim())
        .filter(Boolean),
    ),
  RATE_LIMIT_MAX: z.coerce.number().int().positive().default(100),

  /** 32 random bytes in base64 (`openssl rand -base64 32`): encrypts webhook endpoint secrets. */
  WEBHOOKS_ENCRYPTION_KEY: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.base64().optional(),
  ),
  /**
   * Development: let webhooks reach a receiver on this machine (127.0.0.1, ::1), which the SSRF
   * guard otherwise refuses. The plugin refuses it when NODE_ENV=production.
   */
  WEBHOOKS_ALLOW_LOOPBACK: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  /** Where uploaded files are kept (the local-disk driver); default: `files` beside PGLITE_DATA_DIR. */
  FILES_DIR: z.preprocess((value) => (value === '' ? undefined : value), z.string().optional()),
  /** 32 random bytes in base64 (`openssl rand -base64 32`): signs file download links. */
  FILES_SIGNING_KEY: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.base64().optional(),
  ),
  /** The operators' tenant: its admins manage feature flags for every tenant (`/flags`). */
  OPERATOR_TENANT_ID: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.uuid().optional(),
  ),
  /**
   * Ed25519 private key (PEM; `\n` escapes allowed on one line) signing the audit log's retention
   * checkpoints. Empty: the audit log keeps every entry (retention off) and says so at startup.
   */
  AUDIT_CHECKPOINT_KEY: z
    .string()
    .default('')
    .transform((value) => (value.trim() === '' ? undefined : value.replace(/\\n/g, '\n'))),

  JWT_PRIVATE_KEYS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      if (value.trim() === '') return undefined
      try {
        return JSON.parse(value) as Array<Record<string, unknown>>
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON array of private JWKs' })
        return z.NEVER
      }
    }),
})

/** The variables after validation, with the defaults that depend on other variables filled in. */
export type Env = Omit<z.output<typeof envSchema>, 'PUBLIC_BASE_URL'> & { PUBLIC_BASE_URL: string }

/** Reads `.env` when present (Node's own loader), then validates; a bad variable stops startup. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env, envFile = '.env'): Env {
  if (source === process.env && existsSync(envFile)) process.loadEnvFile(envFile)
  const result = envSchema.safeParse(source)
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
    throw new Error(`Invalid environment:\n  - ${problems.join('\n  - ')}`)
  }
  const env = result.data
  return {
    ...env,
    // Core's own rule, from the validated port: the log line, the OpenAPI server, problem types
    // and the JWT issuer all take it from here.
    PUBLIC_BASE_URL:
      env.PUBLIC_BASE_URL?.replace(/\/+$/, '') ?? defaultBaseUrl({ PORT: String(env.PORT) }),
  }
}
