import type { Clock } from '../clock.js'

/**
 * What the Redis store needs of a client: an ioredis `Redis` or `Cluster` fits. On Redis Cluster
 * each of core's scripts touches one key, so any key works; keys that one script or MULTI
 * touches together must share a hash tag (`{…}`), which the caller puts in its prefix.
 */
export interface CounterRedis {
  evalsha(sha: string, numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>
  eval(script: string, numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>
  del(key: string): Promise<number>
}

export interface CounterStoreOptions {
  /** Shared by every instance when present; `null` counts in this process only. */
  redis: CounterRedis | null
  /** Time of GCRA decisions (both stores) and of memory windows; tests move it. */
  clock?: Clock
  /**
   * Prepended to every key, e.g. `${app.redisKeyPrefix}billing:{exports}:`. A `{tag}` in it puts
   * every key of the store in one Redis Cluster slot (needed only for multi-key commands).
   */
  prefix?: string
  /**
   * A Redis call slower than this rejects with `CounterTimeoutError` (the command may still run
   * and count). None by default: ioredis then waits as its own options say.
   */
  timeoutMs?: number
}

/** One fixed-window count after a hit. */
export interface WindowHit {
  /** Hits in the window, this one included. */
  count: number
  /** Ms until the window closes and the count is forgotten (> 0). */
  resetMs: number
}

/** A GCRA limit: `limit` per `periodMs` on average, `burst` of them at once. */
export interface GcraLimit {
  /** Sustained requests per period: a positive integer. */
  limit: number
  /** The period in ms: positive. */
  periodMs: number
  /** Requests allowed at once above the smooth rate; default `limit` (a full period's worth). */
  burst?: number
}

/** Slots of a lease: at most `limit` holders at once, each for `ttlMs` unless it renews. */
export interface LeaseLimit {
  /** Holders allowed at once: a positive integer. */
  limit: number
  /** How long a holder keeps its slot without renewing it (ms, positive). */
  ttlMs: number
}

export interface LeaseDecision {
  /** The holder has a slot (taken now, or renewed). */
  acquired: boolean
  /** Holders with an unexpired slot after the decision, this one included when acquired. */
  held: number
}

export interface GcraDecision {
  allowed: boolean
  /** Requests still allowed right now. */
  remaining: number
  /** Ms until the bucket is full again (exact to the microsecond, may be fractional). */
  resetMs: number
  /** Ms until the next request would be allowed; 0 when allowed (exact to the microsecond). */
  retryAfterMs: number
}

/**
 * Counters and limiters shared by every instance through Redis, or counted in one process.
 * Every operation is one atomic step; a Redis error (or a timeout) rejects, and whether to fail
 * open or closed is the caller's decision.
 */
export interface CounterStore {
  readonly kind: 'memory' | 'redis'
  /**
   * Fixed window: counts one hit on `key`. The first hit opens a window of `windowMs`; when it
   * closes the count is forgotten. Take the hit before the work it limits, so concurrent callers
   * cannot all pass a check made before any of them counted.
   */
  hit(key: string, windowMs: number): Promise<WindowHit>
  /**
   * Gives one hit back to `key`'s open window (an attempt that should not count): never below
   * zero, and never creates a key or changes its expiry. Resolves with the count after.
   */
  giveBack(key: string): Promise<number>
  /**
   * Attempt counter: counts one attempt on `key`, forgotten `ttlMs` after the first, and resolves
   * with the total. The same counter as `hit`, for callers that only cap a total.
   */
  attempt(key: string, ttlMs: number): Promise<number>
  /**
   * Generic cell rate algorithm: allows the request when the bucket has room, and only then
   * advances it, so refusals cost nothing and do not extend the wait.
   */
  gcra(key: string, limit: GcraLimit): Promise<GcraDecision>
  /**
   * Expiring lease on one of `limit` slots of `key` (a semaphore whose slots come back on their
   * own): takes a slot for `holder` when fewer than `limit` unexpired holders have one, and
   * renews it (a new `ttlMs` from now) when `holder` already has one. A holder that dies without
   * `release` frees its slot `ttlMs` after its last lease. Expiry follows the store's clock.
   */
  lease(key: string, holder: string, limit: LeaseLimit): Promise<LeaseDecision>
  /** Gives `holder`'s slot of `key` back; `true` if it had one (unexpired or not yet swept). */
  release(key: string, holder: string): Promise<boolean>
  /** Forgets `key` (its count, its bucket or its lease). */
  reset(key: string): Promise<void>
}
