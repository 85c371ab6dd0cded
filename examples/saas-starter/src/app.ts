import { dirname, join } from 'node:path'
import acmeAudit from '@acme/audit'
import acmeAuth from '@acme/auth'
import acmeCore, { serverOptions } from '@acme/core'
import acmeFiles from '@acme/files'
import acmeFlags from '@acme/flags'
import acmeRbac from '@acme/rbac'
import acmeTenancy, { DEFAULT_PLANS } from '@acme/tenancy'
import acmeWebhooks from '@acme/webhooks'
import Fastify, { type FastifyInstance } from 'fastify'
import { migrationsDir, openDatabase } from './database.js'
import { filesSigningKey, webhooksEncryptionKey } from './dev-keys.js'
import type { Env } from './env.js'
import type { PrismaClient } from './generated/prisma/client.js'
import { aboutRoutes } from './routes/about.js'
import { documentRoutes } from './routes/documents.js'
import { projectRoutes } from './routes/projects.js'
import { betaReportsFlag, reportRoutes } from './routes/reports.js'

declare module '@acme/core' {
  interface AcmeRegister {
    prisma: PrismaClient
  }
}

export interface BuildOptions {
  /** Where log lines go; defaults to stdout. */
  logStream?: NodeJS.WritableStream
}

/** Builds the whole server; `server.ts` starts it, tests inject into it. */
export async function buildApp(env: Env, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(
    serverOptions({
      level: env.LOG_LEVEL,
      trustProxy: env.TRUST_PROXY,
      ...(options.logStream ? { logger: { stream: options.logStream } } : {}),
    }),
  )
  // The mode first, before migrations or plugins say anything: it decides what the rest means.
  const embedded = !env.DATABASE_URL
  const clustered = env.REDIS_CLUSTER_URLS.length > 0
  const withRedis = clustered || Boolean(env.REDIS_URL)
  app.log.info(
    {
      database: embedded
        ? `embedded PostgreSQL in ${env.PGLITE_DATA_DIR}`
        : 'PostgreSQL (DATABASE_URL)',
      redis: clustered
        ? `Redis Cluster (REDIS_CLUSTER_URLS, ${env.REDIS_CLUSTER_URLS.length} seed nodes)`
        : env.REDIS_URL
          ? 'Redis (REDIS_URL)'
          : 'none: in-memory rate limit and in-process jobs',
    },
    embedded || !withRedis
      ? 'running in embedded mode: fine for development, not for production'
      : 'running with PostgreSQL and Redis',
  )
  const database = await openDatabase(env, (line) => app.log.info(line))

  await app.register(acmeCore, {
    brand: {
      name: env.BRAND_NAME,
      baseUrl: env.PUBLIC_BASE_URL,
      ...(env.SUPPORT_EMAIL ? { supportEmail: env.SUPPORT_EMAIL } : {}),
      ...(env.MAIL_FROM ? { mailFrom: env.MAIL_FROM } : {}),
    },
    prisma: database.prisma,
    // Applied by openDatabase already; core refuses to start if that ever left one out.
    migrations: { dir: migrationsDir },
    ...(clustered
      ? { redis: { cluster: env.REDIS_CLUSTER_URLS } }
      : env.REDIS_URL
        ? { redis: env.REDIS_URL }
        : {}),
    mail: env.SMTP_URL
      ? { transport: 'smtp', url: env.SMTP_URL }
      : { transport: 'file', dir: env.MAIL_DIR },
    cors: { origin: env.CORS_ORIGINS.length > 0 ? env.CORS_ORIGINS : false },
    rateLimit: { max: env.RATE_LIMIT_MAX },
  })

  await app.register(acmeAuth, {
    jwt: {
      issuer: env.PUBLIC_BASE_URL,
      ...(env.JWT_PRIVATE_KEYS ? { privateKeys: env.JWT_PRIVATE_KEYS } : {}),
    },
  })
  if (!env.JWT_PRIVATE_KEYS) {
    app.log.warn(
      'JWT_PRIVATE_KEYS is not set: a signing key was generated for this process only; ' +
        'tokens stop verifying on restart and differ between instances',
    )
  }

  // The plans' entitlements switch flags on per plan: Enterprise gets the beta reports.
  const plans = Object.fromEntries(
    Object.entries(DEFAULT_PLANS).map(([name, plan]) => [
      name,
      name === 'enterprise'
        ? { ...plan, entitlements: [...(plan.entitlements ?? []), 'beta-reports'] }
        : plan,
    ]),
  )
  await app.register(acmeTenancy, { plans })
  await app.register(acmeRbac, {
    // What the default system roles get: owner everything; admin reads and writes projects;
    // member reads, and writes only their own (`projects:write:own`); viewer reads (the default
    // grant of a `:read`).
    permissions: [
      { name: 'projects:read', description: "See the tenant's projects." },
      {
        name: 'projects:write',
        description: 'Create and change projects.',
        grant: { admin: true, member: 'own' },
      },
    ],
  })
  await app.register(
    acmeAudit,
    env.AUDIT_CHECKPOINT_KEY
      ? { checkpointKey: env.AUDIT_CHECKPOINT_KEY }
      : { retention: { enabled: false } },
  )
  if (!env.AUDIT_CHECKPOINT_KEY) {
    app.log.warn(
      'AUDIT_CHECKPOINT_KEY is not set: the audit log keeps every entry (retention needs a key ' +
        'to sign its checkpoints: openssl genpkey -algorithm ed25519)',
    )
  }
  await app.register(acmeWebhooks, {
    encryptionKey: webhooksEncryptionKey(env, (line) => app.log.warn(line)),
    ...(env.WEBHOOKS_ALLOW_LOOPBACK ? { ssrf: { allowAddresses: ['127.0.0.1', '::1'] } } : {}),
  })
  await app.register(acmeFlags, {
    flags: [betaReportsFlag],
    ...(env.OPERATOR_TENANT_ID ? { operatorTenantId: env.OPERATOR_TENANT_ID } : {}),
  })
  // Uploads on local disk under the data folder; a production deployment gives an S3Driver.
  await app.register(acmeFiles, {
    localDirectory: env.FILES_DIR ?? join(dirname(env.PGLITE_DATA_DIR), 'files'),
    signingKey: filesSigningKey(env, (line) => app.log.warn(line)),
  })
  if (database.role === 'switched') {
    app.log.warn(
      `the app works as database role ${env.APP_DATABASE_ROLE} by switching to it on the owner's ` +
        'connections (development only); in production set APP_DATABASE_URL to a login role of ' +
        'its own (acme db app-role)',
    )
  }

  await app.register(aboutRoutes)
  await app.register(projectRoutes)
  await app.register(reportRoutes)
  await app.register(documentRoutes)
  return app
}
