import cors from '@fastify/cors'
import rateLimit from '@fastify/rate-limit'
import type { FastifyContextConfig, FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { CoreErrors } from './errors.js'
import type { ResolvedCoreOptions } from './options.js'
import { computeSecurityHeaders } from './security-headers.js'

/** Security headers, CORS and the global per-client rate limit, as a reviewer expects them. */
export async function registerSecurityDefaults(
  app: FastifyInstance,
  options: ResolvedCoreOptions,
  redis: Redis | null,
): Promise<void> {
  if (options.helmet !== false) {
    const headers = computeSecurityHeaders(options.helmet === true ? {} : options.helmet)
    app.addHook('onRequest', (_request, reply, done) => {
      reply.headers(headers)
      done()
    })
  }

  await app.register(cors, {
    origin: options.cors.origin,
    credentials: options.cors.credentials,
  })

  if (options.rateLimit === false) return
  const { max, timeWindowMs, allowList } = options.rateLimit
  await app.register(rateLimit, {
    // No hook per route: the limit runs in the one instance-level hook below, ahead of every
    // plugin's hooks, so a flood of forged credentials is refused before it costs a lookup.
    global: false,
    max,
    timeWindow: timeWindowMs,
    allowList,
    // Redis makes the limit hold across every instance; without it each process counts alone.
    ...(redis ? { redis, nameSpace: `${options.redisKeyPrefix}rate-limit:` } : {}),
    // Fail closed: a Redis outage must not switch the limit off.
    skipOnError: false,
    enableDraftSpec: true,
    errorResponseBuilder: (_request, context) =>
      new CoreErrors.RateLimited({
        detail: `Rate limit of ${context.max} requests exceeded; retry in ${context.after}.`,
      }),
  })
  installLimitBeforeAuthentication(app)
}

type LimitHook = ReturnType<FastifyInstance['rateLimit']>
const kRouteLimit = Symbol.for('acme.core.routeRateLimit')
type LimitedConfig = FastifyContextConfig & { [kRouteLimit]?: LimitHook }

/**
 * One `onRequest` hook on the root instance, added before any plugin registers: it runs first for
 * every route and for 404s. A route's own `config.rateLimit` object replaces the global limit for
 * that route (its limiter is built once, here in `onRoute`); `rateLimit: false` opts out.
 */
function installLimitBeforeAuthentication(app: FastifyInstance): void {
  const globalLimit = app.rateLimit()
  app.addHook('onRoute', (route) => {
    const own = route.config?.rateLimit
    if (typeof own === 'object') {
      route.config = { ...route.config, [kRouteLimit]: app.rateLimit(own) } as LimitedConfig
    }
  })
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config as LimitedConfig | undefined
    if (config?.rateLimit === false) return
    await (config?.[kRouteLimit] ?? globalLimit).call(app, request, reply)
  })
}
