import type { FastifyContextConfig, FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { RedisClient } from '../data/redis.js'
import { throttledLog } from '../log-throttle.js'
import { parseOptions } from '../options.js'
import { routeConfigOf } from '../route-config.js'
import { type ClientLimit, type LimitSettings, MemoryLimit, RedisLimit } from './client-limit.js'
import { RedisWindows } from './redis-windows.js'

export interface RateLimitSettings {
  max: number
  timeWindowMs: number
  allowList: readonly string[]
}

/** `config.rateLimit` of a route: its own limit, in place of the global one. */
const routeLimitSchema = z
  .object({
    max: z.number().int().positive().optional(),
    /** Milliseconds. */
    timeWindow: z.number().int().positive().optional(),
  })
  .strict()

const kRouteLimit = Symbol('acme.core.routeLimit')
type LimitedConfig = FastifyContextConfig & { [kRouteLimit]?: ClientLimit | null }

/**
 * Builds the global limit and each route's own when the route is declared (`onRoute`), and
 * answers which one a request runs under without reading any option per request: the route's
 * own, none (`rateLimit: false`), or the global one (every other route, and 404s).
 */
export function installRateLimits(
  app: FastifyInstance,
  settings: RateLimitSettings,
  redis: RedisClient | null,
  prefix: string,
): (request: FastifyRequest) => ClientLimit | null {
  const allowList = new Set(settings.allowList)
  let lastError: unknown = null
  const warn = throttledLog((suppressed) =>
    app.log.warn(
      { err: lastError ?? undefined, suppressed },
      'rate limits count in this instance only: Redis is unreachable',
    ),
  )
  const degraded = (error: unknown) => {
    lastError = error
    warn()
  }
  const build = (max: number, windowMs: number, keyPrefix: string): ClientLimit => {
    const limit: LimitSettings = { max, windowMs, allowList }
    return redis
      ? new RedisLimit(limit, new RedisWindows(redis, keyPrefix), degraded)
      : new MemoryLimit(limit)
  }
  const global = build(settings.max, settings.timeWindowMs, prefix)

  app.addHook('onRoute', (route) => {
    const own = route.config?.rateLimit
    if (own === undefined) return
    let limit: ClientLimit | null = null
    if (own !== false) {
      const parsed = parseOptions(`@acme/core (rateLimit of ${route.url})`, routeLimitSchema, own)
      const methods = [route.method].flat().join(',')
      limit = build(
        parsed.max ?? settings.max,
        parsed.timeWindow ?? settings.timeWindowMs,
        // A counter per route: a route's own limit never shares a count with another's.
        `${prefix}${methods}${route.url}-`,
      )
    }
    route.config = { ...route.config, [kRouteLimit]: limit } as LimitedConfig
  })

  return (request) => {
    const limit = (routeConfigOf(request) as LimitedConfig | undefined)?.[kRouteLimit]
    return limit === undefined ? global : limit
  }
}
