import { type CounterStore, createCounterStore, type RedisClient } from '@acme/core'

export interface RateLimit {
  /** sustained requests per period */
  limit: number
  /** period in ms, default 60_000 */
  periodMs?: number
  /** extra requests allowed at once above the smooth rate; default = limit (a full period's worth may arrive at once, then the rate is smooth) */
  burst?: number
}

export interface RateLimitDecision {
  allowed: boolean
  limit: number
  /** requests still allowed right now */
  remaining: number
  /** seconds until the bucket is full again (for RateLimit headers) */
  resetSeconds: number
  /** seconds until the next request would be allowed; 0 when allowed */
  retryAfterSeconds: number
}

export interface RateLimiterOptions {
  redis: RedisClient
  /** E.g. `${app.redisKeyPrefix}tenancy:rate:`; the limited subject is appended. */
  keyPrefix: string
  /** ms since epoch; default Date.now */
  now?: () => number
  /** A decision slower than this rejects (the caller decides whether to fail open). */
  timeoutMs?: number
}

const DEFAULT_PERIOD_MS = 60_000

/**
 * Per-tenant request limit shared by every instance through Redis, by the generic cell rate
 * algorithm: requests drain a bucket of `burst` at `limit` per period, so a full period's worth
 * may arrive at once and then the rate is smooth, and a tenant cannot double its limit by
 * bursting on both sides of a window edge as fixed windows allow.
 *
 * Time comes from `now()`, not Redis, so tests move time without sleeping. All the instances of
 * one deployment must therefore run synced clocks (NTP): an instance whose clock runs ahead
 * drains the bucket early for everyone.
 *
 * Redis errors reject `consume`: whether to fail open or closed is the caller's decision.
 */
export class RateLimiter {
  /**
   * Core's GCRA: one key per subject holding the theoretical arrival time in integer
   * microseconds, expiring when that time is reached; refused requests write nothing. Its script
   * is core's, sent by EVALSHA (EVAL after NOSCRIPT).
   */
  readonly #counters: CounterStore

  constructor(options: RateLimiterOptions) {
    const now = options.now ?? Date.now
    this.#counters = createCounterStore({
      redis: options.redis,
      clock: () => new Date(now()),
      prefix: options.keyPrefix,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    })
  }

  async consume(key: string, limit: RateLimit): Promise<RateLimitDecision> {
    const decision = await this.#counters.gcra(key, {
      limit: limit.limit,
      periodMs: limit.periodMs ?? DEFAULT_PERIOD_MS,
      ...(limit.burst !== undefined ? { burst: limit.burst } : {}),
    })
    return {
      allowed: decision.allowed,
      limit: limit.limit,
      remaining: decision.remaining,
      resetSeconds: Math.ceil(decision.resetMs / 1_000),
      retryAfterSeconds: decision.allowed
        ? 0
        : Math.max(1, Math.ceil(decision.retryAfterMs / 1_000)),
    }
  }
}

/**
 * The RateLimit fields of draft-ietf-httpapi-ratelimit-headers (-06: separate Limit, Remaining,
 * Reset and Policy fields, in delta seconds), lower-cased as @fastify/rate-limit names them with
 * `enableDraftSpec`, plus Retry-After on a refusal.
 */
export function rateLimitHeaders(
  decision: RateLimitDecision,
  policy: { limit: number; periodMs: number },
): Record<string, string> {
  // The draft's window is an integer of seconds; a period of a fraction rounds up.
  const windowSeconds = Math.max(1, Math.ceil(policy.periodMs / 1_000))
  const headers: Record<string, string> = {
    'ratelimit-limit': String(decision.limit),
    'ratelimit-remaining': String(decision.remaining),
    'ratelimit-reset': String(decision.resetSeconds),
    'ratelimit-policy': `${policy.limit};w=${windowSeconds}`,
  }
  if (!decision.allowed) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(decision.retryAfterSeconds)))
  }
  return headers
}
