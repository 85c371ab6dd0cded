import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import type { RedisClient } from './data/redis.js'
import type { ResolvedCoreOptions } from './options.js'
import { installRateLimits } from './rate-limit/route-limits.js'
import { installLimitHook, installRequestHook } from './request-hook.js'
import { computeSecurityHeaders } from './security-headers.js'
import { installSecurityHeaders } from './security-routes.js'

/**
 * Security headers, CORS and the global per-client rate limit, as a reviewer expects them, in
 * as few per-request hooks as they allow: one when CORS is closed (the default), two around
 * @fastify/cors when origins are allowed, since its preflight answers must carry the security
 * headers and, as before, are not counted.
 */
export async function registerSecurityDefaults(
  app: FastifyInstance,
  options: ResolvedCoreOptions,
  redis: RedisClient | null,
): Promise<void> {
  const headersOf =
    options.helmet === false
      ? null
      : installSecurityHeaders(
          app,
          computeSecurityHeaders(options.helmet === true ? {} : options.helmet),
          options.securityHeaders,
          options.docs.enabled ? options.docs.routePrefix : null,
        )
  const limitOf =
    options.rateLimit === false
      ? null
      : installRateLimits(app, options.rateLimit, redis, `${options.redisKeyPrefix}rate-limit:`)
  // A closed CORS policy sets no header and answers no preflight: registering @fastify/cors for
  // it would only add a hook that reads the route's options on every request.
  const corsOpen = options.cors.origin !== false
  installRequestHook(app, { headersOf, limitOf: corsOpen ? null : limitOf })
  if (!corsOpen) return
  await app.register(cors, { origin: options.cors.origin, credentials: options.cors.credentials })
  if (limitOf) installLimitHook(app, limitOf)
}
