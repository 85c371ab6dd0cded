import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { validatorCompiler } from 'fastify-type-provider-zod'
import { Broadcast } from './broadcast.js'
import { createAppCache } from './cache/app-cache.js'
import { createCounterStore } from './counters/index.js'
import { checkMigrations } from './data/migrations-check.js'
import { loadMigrationsTool } from './data/migrations-tool.js'
import { createPrismaClient, type PrismaClientLike, pingDatabase } from './data/prisma.js'
import {
  closeRedis,
  createRedisClient,
  pingRedis,
  type RedisClient,
  type RedisTarget,
} from './data/redis.js'
import { AcmeConfigError, CoreErrors } from './errors.js'
import { EventBus } from './events.js'
import { HealthRegistry } from './health.js'
import { registerHealthRoutes } from './health-routes.js'
import { createJobRunner } from './jobs/index.js'
import { installJsonBodyParser } from './json-body.js'
import { createMailer } from './mail/mailer.js'
import { createMailTransport } from './mail/transport.js'
import { OpenApiRegistry, registerOpenApi } from './openapi.js'
import {
  type CoreOptions,
  coreOptionsSchema,
  parseOptions,
  type ResolvedCoreOptions,
} from './options.js'
import { PermissionCatalog } from './permissions.js'
import { isCaughtByTheNet, sendProblem, toAcmeError, toProblemDocument } from './problem.js'
import { RouteChecks } from './route-checks.js'
import { RouteTable } from './route-table.js'
import { registerSecurityDefaults } from './security.js'
import { serializerCompiler } from './serializer.js'
import { assertSingleCore } from './single-copy.js'
import type { AcmePrisma } from './types.js'

async function registerCore(app: FastifyInstance, rawOptions: CoreOptions): Promise<void> {
  // Two copies of core split the request context and the error classes: refuse them now, and
  // again once every plugin (some imported lazily) is loaded.
  assertSingleCore()
  app.addHook('onReady', async () => assertSingleCore())
  const options = parseOptions('@acme/core', coreOptionsSchema, rawOptions)
  const { brand } = options

  const prisma = resolvePrisma(options)
  if (prisma) {
    // Before any plugin's onReady reads a table: a database without the app's migrations stops
    // here with the migrations to apply, not on a plugin's first query with a missing table.
    app.addHook('onReady', () =>
      checkMigrations({
        prisma,
        setting: options.migrations,
        logger: app.log,
        cwd: process.cwd(),
        loadTool: loadMigrationsTool,
      }),
    )
  }
  const ownsRedis = options.redis !== undefined && !isRedisInstance(options.redis)
  const redis = resolveRedis(app, options.redis)

  app.decorate('prisma', {
    getter(): AcmePrisma {
      if (!prisma) {
        throw new AcmeConfigError('@acme/core', [
          '"prisma" is not configured: pass your PrismaClient as "prisma" or "database"',
        ])
      }
      // The host declares its generated client type through AcmeRegister.
      return prisma as AcmePrisma
    },
  })
  app.decorate<RedisClient | null, 'redis'>('redis', redis)
  app.decorate('redisKeyPrefix', options.redisKeyPrefix)
  app.decorate('brand', brand)

  const broadcast = new Broadcast({ redis, prefix: options.redisKeyPrefix, logger: app.log })
  const cache = createAppCache({
    settings: options.cache,
    redis,
    prefix: options.redisKeyPrefix,
    broadcast,
  })
  app.decorate('broadcast', broadcast)
  app.decorate('cache', cache)
  app.decorate(
    'counters',
    createCounterStore({
      redis,
      prefix: `${options.redisKeyPrefix}counters:`,
      timeoutMs: options.counters.timeoutMs,
      ...(options.counters.clock ? { clock: options.counters.clock } : {}),
    }),
  )
  // First of every onReady hook (core registers first): plugins' caches start subscribed.
  app.addHook('onReady', () => broadcast.start())

  const events = new EventBus(app.log)
  const health = new HealthRegistry(options.health.timeoutMs)
  const openapi = new OpenApiRegistry()
  const jobs = createJobRunner({
    redis,
    prefix: `${options.redisKeyPrefix}jobs`,
    settings: options.jobs,
    logger: app.log,
  })
  const transport = createMailTransport(options.mail, app.log)
  const mailer = createMailer({ brand, transport, jobs, logger: app.log })
  app.decorate('events', events)
  app.decorate('health', health)
  app.decorate('openapi', openapi)
  app.decorate('permissions', new PermissionCatalog())
  const routeTable = new RouteTable()
  routeTable.collect(app)
  app.decorate('routeTable', routeTable)
  const routeChecks = new RouteChecks()
  routeChecks.install(app)
  app.decorate('routeChecks', routeChecks)
  app.decorate('jobs', jobs)
  // Refuses to start on a Redis that may evict jobs (maxmemory-policy other than noeviction).
  app.addHook('onReady', () => jobs.ready())
  app.decorate('mailer', mailer)

  if (prisma) health.register('database', () => pingDatabase(prisma))
  if (redis) health.register('redis', () => pingRedis(redis))
  if (jobs.mode === 'bullmq') health.register('queue', () => jobs.check())

  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  installJsonBodyParser(app, options.limits.jsonDepth)

  const problemTypeBase = `${brand.baseUrl}/problems/`
  app.setErrorHandler((error, request, reply) => {
    const acmeError = toAcmeError(error)
    if (acmeError.statusCode >= 500) {
      request.log.error({ err: error, code: acmeError.code }, 'request failed')
    } else if (isCaughtByTheNet(acmeError)) {
      request.log.warn({ err: error, code: acmeError.code }, 'request refused by the database')
    } else {
      request.log.info({ code: acmeError.code, status: acmeError.statusCode }, 'request refused')
    }
    return sendProblem(reply, acmeError, toProblemDocument(acmeError, request, problemTypeBase))
  })

  await registerSecurityDefaults(app, options, redis)

  app.setNotFoundHandler((request, reply) => {
    const error = new CoreErrors.RouteNotFound()
    return sendProblem(reply, error, toProblemDocument(error, request, problemTypeBase))
  })

  await registerOpenApi(app, options, openapi)
  registerHealthRoutes(app, health)

  app.addHook('onClose', async () => {
    await broadcast.close()
    await jobs.close()
    mailer.close()
    if (!options.closeClients) return
    if (redis) await closeRedis(redis)
    if (prisma) await prisma.$disconnect()
  })

  app.log.info(
    {
      database: prisma ? 'configured' : 'none',
      redis: redis ? (ownsRedis ? 'url' : 'client') : 'none (in-memory stand-ins)',
      jobs: jobs.mode,
      mail: options.mail.transport,
    },
    `${brand.name}: core ready`,
  )
}

function resolvePrisma(options: ResolvedCoreOptions): PrismaClientLike | null {
  if (options.prisma) return options.prisma
  if (options.database) {
    const { PrismaClient, url, poolSize } = options.database
    return createPrismaClient(PrismaClient, url, poolSize)
  }
  return null
}

function isRedisInstance(redis: RedisClient | RedisTarget): redis is RedisClient {
  return typeof redis !== 'string' && !('cluster' in redis && Array.isArray(redis.cluster))
}

function resolveRedis(
  app: FastifyInstance,
  redis: RedisClient | RedisTarget | undefined,
): RedisClient | null {
  if (redis === undefined) return null
  if (isRedisInstance(redis)) return redis
  const client = createRedisClient(redis)
  let reported = false
  // Without a listener ioredis prints every reconnect failure; log the first of each outage.
  client.on('error', (error) => {
    if (reported) return
    reported = true
    app.log.warn({ err: error }, 'redis connection error; reconnecting')
  })
  client.on('ready', () => {
    reported = false
  })
  return client
}

/** The kernel every acme plugin depends on. Register it first. */
export const acmeCore = fp(registerCore, {
  name: '@acme/core',
  fastify: '5.x',
})

export default acmeCore

export { apiKeyRule } from './api-key-rule.js'
export { DEFAULT_PORT, defaultBaseUrl } from './base-url.js'
export {
  Broadcast,
  type BroadcastChannel,
  type BroadcastChannelOptions,
  type BroadcastOptions,
  type MissedReason,
} from './broadcast.js'
export type { AppCache, CacheSetOptions } from './cache/app-cache.js'
export {
  BroadcastCache,
  type BroadcastCacheOptions,
  type Invalidation,
} from './cache/broadcast-cache.js'
export {
  type EntryOptions,
  LocalCache,
  type LocalCacheOptions,
  type MemoizeOptions,
} from './cache/local-cache.js'
export { type Clock, systemClock } from './clock.js'
export type { AcmeContextTenant, AcmeContextUser, RequestContext } from './context.js'
export { getRequestContext, runWithContext } from './context.js'
export {
  type CounterRedis,
  type CounterStore,
  type CounterStoreOptions,
  CounterTimeoutError,
  createCounterStore,
  type GcraDecision,
  type GcraLimit,
  type LeaseDecision,
  type LeaseLimit,
  MemoryCounterStore,
  RedisCounterStore,
  type WindowHit,
} from './counters/index.js'
export { SecretBox } from './crypto/secret-box.js'
export { AcmeMigrationsError, type MigrationsErrorCode } from './data/migrations-error.js'
export type { PrismaClientConstructor, PrismaClientLike } from './data/prisma.js'
export type { RedisClient, RedisTarget } from './data/redis.js'
export {
  AcmeConfigError,
  AcmeError,
  type AcmeErrorClass,
  type AcmeErrorOptions,
  CoreErrors,
  defineError,
  isAcmeError,
  type ProblemFieldError,
} from './errors.js'
export type { AcmeEvents, DomainEvent, EventBus, EventHandler, EventName } from './events.js'
export { clientErrorHandler, frameworkErrors } from './framework-errors.js'
export type { CheckResult, HealthCheck, HealthRegistry, ReadinessReport } from './health.js'
export { deleteInBatches } from './jobs/delete-in-batches.js'
export { maintenanceJobOptions } from './jobs/maintenance-options.js'
export { type JobWhen, scheduleOnReady } from './jobs/schedule-on-ready.js'
export type {
  AcmeJobs,
  EnqueueOptions,
  FailedJob,
  JobContext,
  JobDefinition,
  JobHandle,
  JobRunner,
} from './jobs/types.js'
export type { Logger } from './logger.js'
export {
  generateRequestId,
  type LoggerSettings,
  loggerOptions,
  REDACTED_PATHS,
  redactUrl,
  type ServerSettings,
  serverOptions,
} from './logging.js'
export { escapeHtml } from './mail/layout.js'
export type {
  AcmeMailTemplates,
  DeliveredMail,
  MailContent,
  Mailer,
  MailMessage,
  MailTemplate,
} from './mail/types.js'
export type {
  OpenApiPathItem,
  OpenApiRegistry,
  OpenApiSecurityScheme,
  OpenApiTag,
} from './openapi.js'
export {
  type Brand,
  type CoreOptions,
  coreOptionsSchema,
  parseOptions,
  type ResolvedCoreOptions,
} from './options.js'
export {
  defaultPermissionGrant,
  OWNER_ROLE,
  PermissionCatalog,
  type PermissionDeclaration,
  type PermissionGrant,
  type PermissionInfo,
  type RoleGrant,
} from './permissions.js'
export { PROBLEM_CONTENT_TYPE, type ProblemDocument } from './problem.js'
export { RLS_SETTINGS, type RlsSetting } from './rls-settings.js'
export {
  ROUTE_CHECK_PHASES,
  type RouteCheck,
  type RouteCheckFactory,
  type RouteCheckPhase,
  type RouteChecks,
  type RouteDescription,
} from './route-checks.js'
export type { RouteEntry, RouteTable } from './route-table.js'
export { idParam, MAX_PAGE_SIZE, paginationQuery } from './schemas.js'
export { closeOnSignals, type ShutdownSettings } from './shutdown.js'
export { hasUnsafeCharacters, safeJson, safeJsonObject, safeString, safeText } from './strings.js'
export type {
  AcmePrisma,
  AcmeRegister,
  RouteApiKeyRule,
  RouteAuthMode,
  RoutePermissions,
  RouteRateLimit,
} from './types.js'
