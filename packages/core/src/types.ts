import type { Broadcast } from './broadcast.js'
import type { AppCache } from './cache/app-cache.js'
import type { AcmeContextTenant, AcmeContextUser } from './context.js'
import type { CounterStore } from './counters/types.js'
import type { PrismaClientLike } from './data/prisma.js'
import type { RedisClient } from './data/redis.js'
import type { EventBus } from './events.js'
import type { HealthRegistry } from './health.js'
import type { JobRunner } from './jobs/types.js'
import type { Mailer } from './mail/types.js'
import type { OpenApiRegistry } from './openapi.js'
import type { Brand } from './options.js'
import type { PermissionCatalog } from './permissions.js'
import type { RouteChecks } from './route-checks.js'
import type { RouteTable } from './route-table.js'

/**
 * Hosts register their generated client so `app.prisma` carries its models:
 * `declare module '@acme/core' { interface AcmeRegister { prisma: PrismaClient } }`
 */
export interface AcmeRegister {}

export type AcmePrisma = AcmeRegister extends { prisma: infer Client } ? Client : PrismaClientLike

/** How a route is authenticated; auth enforces it, the OpenAPI document shows it. */
export type RouteAuthMode = 'public' | 'optional' | 'required'

/** `allow`: an API key may call the route (within its scopes); `deny`: a key gets 403. */
export type RouteApiKeyRule = 'allow' | 'deny'

/** A route's own per-client limit: `max` requests per `timeWindow` ms (defaults: the global's). */
export interface RouteRateLimit {
  max?: number
  timeWindow?: number
}

export interface RoutePermissions {
  all?: readonly string[]
  any?: readonly string[]
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The host's PrismaClient; throws ACME_CORE_INVALID_OPTION when none was configured. */
    readonly prisma: AcmePrisma
    /** Shared ioredis client, or null in embedded mode (no Redis configured). */
    readonly redis: RedisClient | null
    /** Prefix for every Redis key and pub/sub channel a plugin creates (option `redisKeyPrefix`). */
    readonly redisKeyPrefix: string
    readonly brand: Brand
    /** Pub/sub between the app's instances over one Redis subscriber (no-op without Redis). */
    readonly broadcast: Broadcast
    /** Cache for the app's own routes: TTL, tags, memory (broadcast-invalidated) or Redis. */
    readonly cache: AppCache
    /** Fixed windows, attempt counters and GCRA limits, in Redis (shared) or in memory. */
    readonly counters: CounterStore
    readonly jobs: JobRunner
    readonly mailer: Mailer
    readonly events: EventBus
    readonly health: HealthRegistry
    readonly openapi: OpenApiRegistry
    /** The permissions routes and services use, declared by the packages that use them. */
    readonly permissions: PermissionCatalog
    /** Every route with its config, for startup checks by plugins. */
    readonly routeTable: RouteTable
    /**
     * Per-route checks plugins declare (authentication, tenant, permission), built once per
     * route at `ready()`: `app.routeChecks.add('authorize', (route) => check | null)`.
     */
    readonly routeChecks: RouteChecks
  }

  interface FastifyContextConfig {
    /** Authentication the route requires (default decided by the auth plugin). */
    auth?: RouteAuthMode
    /**
     * The one permission the route requires, or `false` for a route any authenticated caller may
     * use on their own account (it declares, on purpose, that no permission applies).
     */
    permission?: string | false
    /** Several permissions: all of them, or any one. */
    permissions?: RoutePermissions
    /**
     * Whether an API key may call the route (see `apiKeyRule`): by default only routes that
     * declare a permission, which the key's scopes must then grant.
     */
    apiKeys?: RouteApiKeyRule
    /**
     * This route's own per-client limit, counted apart from the global one and in its place, or
     * `false`: the route is not limited.
     */
    rateLimit?: false | RouteRateLimit
    /**
     * The route serves a document (HTML): its responses get helmet's whole header set, not only
     * the headers that apply to any response (core's `securityHeaders: 'applicable'`).
     */
    document?: boolean
  }
}

export type { AcmeContextTenant, AcmeContextUser }
