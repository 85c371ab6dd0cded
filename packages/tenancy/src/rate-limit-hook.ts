import type { FastifyReply, FastifyRequest } from 'fastify'
import { TenancyErrors } from './errors.js'
import type { Plan } from './options.js'
import { type RateLimiter, rateLimitHeaders } from './services/rate-limiter.js'

export interface TenantRateLimitOptions {
  limiter: RateLimiter
  plan: (name: string) => Plan
  anonymousPerMinute: number
  /** How long a Redis decision may take before the request goes through undecided. */
  deadlineMs: number
  logger: { warn(o: object, m?: string): void }
}

const PERIOD_MS = 60_000

/**
 * The per-tenant limit by plan, keyed by tenant when the request names one and by client IP
 * otherwise. It fails open: a Redis outage must not take the whole API down (login has its own
 * limiter, which fails closed).
 */
export function createRateLimitHook(options: TenantRateLimitOptions) {
  let lastWarning = 0
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const tenant = request.tenant
    const limit = tenant ? options.plan(tenant.plan).requestsPerMinute : options.anonymousPerMinute
    if (limit === null) return
    const key = tenant ? `tenant:${tenant.id}` : `ip:${request.ip}`
    let decision: Awaited<ReturnType<RateLimiter['consume']>>
    try {
      decision = await withDeadline(
        options.limiter.consume(key, { limit, periodMs: PERIOD_MS }),
        options.deadlineMs,
      )
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
    if (!decision.allowed) throw new TenancyErrors.RateLimited({ headers })
    reply.headers(headers)
  }
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no decision within ${ms} ms`)), ms)
  })
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer))
}
