import cors from '@fastify/cors'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
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
    global: true,
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
}
