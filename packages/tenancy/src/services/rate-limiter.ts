import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

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
  redis: Redis
  /** E.g. `${app.redisKeyPrefix}tenancy:rate:`; the limited subject is appended. */
  keyPrefix: string
  /** ms since epoch; default Date.now */
  now?: () => number
}

const DEFAULT_PERIOD_MS = 60_000
const MICROS_PER_MS = 1_000
const MICROS_PER_SECOND = 1_000_000

/**
 * GCRA over one key holding the theoretical arrival time (TAT), in integer microseconds so
 * every sum the script makes is exact in Lua's doubles (up to the year 2255).
 *
 * KEYS: the subject. ARGV: now, emission interval (period / limit), tolerance (burst × interval).
 * A request is allowed when max(TAT, now) + interval − tolerance <= now; only then is the TAT
 * advanced, so refused requests cost nothing and do not extend the wait. The key expires when
 * the TAT is reached, since an absent key and a TAT in the past mean the same: a full bucket.
 * Returns {1 when allowed else 0, TAT − now after the decision}.
 */
const GCRA_SCRIPT = `
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - tolerance > now then
  return {0, tat - now}
end
local ttl_ms = math.ceil((next_tat - now) / ${MICROS_PER_MS})
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', string.format('%d', ttl_ms))
return {1, next_tat - now}
`

const GCRA_SHA = createHash('sha1').update(GCRA_SCRIPT).digest('hex')

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
  readonly #redis: Redis
  readonly #keyPrefix: string
  readonly #now: () => number

  constructor(options: RateLimiterOptions) {
    this.#redis = options.redis
    this.#keyPrefix = options.keyPrefix
    this.#now = options.now ?? Date.now
  }

  async consume(key: string, limit: RateLimit): Promise<RateLimitDecision> {
    const { intervalMicros, toleranceMicros } = gcraParameters(limit)
    const nowMicros = Math.floor(this.#now() * MICROS_PER_MS)
    const reply = await this.#evaluate(this.#keyPrefix + key, [
      nowMicros,
      intervalMicros,
      toleranceMicros,
    ])
    const [allowedFlag, tatAheadMicros] = parseReply(reply)
    const allowed = allowedFlag === 1
    // The slack left below the tolerance is how many more intervals fit right now.
    const remaining = allowed ? Math.floor((toleranceMicros - tatAheadMicros) / intervalMicros) : 0
    const retryAfterMicros = allowed ? 0 : tatAheadMicros + intervalMicros - toleranceMicros
    return {
      allowed,
      limit: limit.limit,
      remaining: Math.max(0, remaining),
      resetSeconds: Math.ceil(tatAheadMicros / MICROS_PER_SECOND),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(retryAfterMicros / MICROS_PER_SECOND)),
    }
  }

  /** EVALSHA first, so the script travels once per Redis server rather than once per request. */
  async #evaluate(key: string, args: readonly number[]): Promise<unknown> {
    try {
      return await this.#redis.evalsha(GCRA_SHA, 1, key, ...args)
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
      return await this.#redis.eval(GCRA_SCRIPT, 1, key, ...args)
    }
  }
}

function gcraParameters(limit: RateLimit): { intervalMicros: number; toleranceMicros: number } {
  const periodMs = limit.periodMs ?? DEFAULT_PERIOD_MS
  const burst = limit.burst ?? limit.limit
  if (!Number.isInteger(limit.limit) || limit.limit < 1) {
    throw new RangeError(`rate limit must be a positive integer, got ${limit.limit}`)
  }
  if (!Number.isFinite(periodMs) || periodMs <= 0) {
    throw new RangeError(`rate limit period must be a positive number of ms, got ${periodMs}`)
  }
  if (!Number.isInteger(burst) || burst < 1) {
    throw new RangeError(`rate limit burst must be a positive integer, got ${burst}`)
  }
  // Rounded up: a sub-microsecond error may only make the limit stricter, never looser.
  const intervalMicros = Math.ceil((periodMs * MICROS_PER_MS) / limit.limit)
  return { intervalMicros, toleranceMicros: intervalMicros * burst }
}

function parseReply(reply: unknown): [number, number] {
  if (Array.isArray(reply) && reply.length === 2) {
    const [allowed, tatAhead] = reply as [unknown, unknown]
    if ((allowed === 0 || allowed === 1) && typeof tatAhead === 'number') {
      return [allowed, tatAhead]
    }
  }
  throw new Error('unexpected reply from the rate limit script')
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
