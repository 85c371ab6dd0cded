import type { FastifyReply, FastifyRequest } from 'fastify'
import { TenancyErrors } from './errors.js'
import type { Plan } from './options.js'
import { type RateLimiter, rateLimitHeaders } from './services/rate-limiter.js'

export interface TenantRateLimitOptions {
  limiter: RateLimiter
  plan: (name: string) => Plan
  anonymousPerMinute: number
  logger: { warn(o: object, m?: string): void }
}

const PERIOD_MS = 60_000

/**
 * The per-tenant limit by plan, keyed by tenant when the request names one and by client IP
 * otherwise. It fails open: a Redis outage must not take the whole API down (login has its own
 * limiter, which fails closed).
 *
 * `onRequest` decides (on the routes that do not opt out: the route check decides that once);
 * `onSend` writes the headers again because core's global per-client limiter
 * (which runs first, before authentication) sets the same `ratelimit-*` names: the client reads
 * the tenant's budget, unless a limiter refused the request (its 429 keeps the headers that
 * explain it).
 */
export function createRateLimitHooks(options: TenantRateLimitOptions) {
  let lastWarning = 0
  const granted = new WeakMap<FastifyRequest, Record<string, string>>()
  const onSend = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const headers = granted.get(request)
    if (headers && reply.statusCode !== 429) reply.headers(headers)
    return payload
  }
  const onRequest = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const tenant = request.tenant
    const limit = tenant ? options.plan(tenant.plan).requestsPerMinute : options.anonymousPerMinute
    if (limit === null) return
    const key = tenant ? `tenant:${tenant.id}` : `ip:${request.ip}`
    let decision: Awaited<ReturnType<RateLimiter['consume']>>
    try {
      // The limiter rejects past its timeout: a slow Redis lets the request through undecided.
      decision = await options.limiter.consume(key, { limit, periodMs: PERIOD_MS })
    } catch (error) {
      const now = Date.now()
      if (now - lastWarning > 10_000) {
        lastWarning = now
        options.logger.warn(
          { err: error },
          'tenant rate limit unavailable; requests pass unlimited',
        )
      }
      return
    }
    const headers = rateLimitHeaders(decision, { limit, periodMs: PERIOD_MS })
    if (!decision.allowed) {
      throw new TenancyErrors.RateLimited({
        headers,
        // Anonymous traffic has no tenant: say which budget ran out.
        ...(tenant
          ? { extensions: { limited: 'tenant' } }
          : {
              detail: 'Too many requests without a tenant from this address; retry later.',
              extensions: { limited: 'client' },
            }),
      })
    }
    reply.headers(headers)
    granted.set(request, headers)
  }
  return { onRequest, onSend }
}
