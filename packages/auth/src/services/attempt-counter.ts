import { type CounterStore, createCounterStore, type RedisClient } from '@acme/core'
import type { Clock } from '../clock.js'
import { AuthErrors } from '../errors.js'

export interface AttemptCounterOptions {
  /** Shared by every instance when present; otherwise this process counts alone. */
  redis: RedisClient | null
  /** E.g. `${app.redisKeyPrefix}auth:mfa-attempts:`; the caller's key is appended. */
  keyPrefix: string
  /** Drives the in-memory expiry; Redis expiry runs on Redis's own time. */
  clock: Clock
  /** A Redis command slower than this fails closed (503) rather than hanging the request. */
  redisTimeoutMs?: number
}

/**
 * Counts attempts against one secret (e.g. the codes tried with one MFA login token), across
 * instances through Redis. An attempt is counted before it is checked, so concurrent guesses
 * cannot all slip under the cap. Without Redis reachable it fails closed (503).
 */
export class AttemptCounter {
  /** Core's attempt counter: one integer key per secret, expiring `ttlSeconds` after the first. */
  readonly #counters: CounterStore

  constructor(options: AttemptCounterOptions) {
    this.#counters = createCounterStore({
      redis: options.redis,
      clock: options.clock,
      prefix: options.keyPrefix,
      timeoutMs: options.redisTimeoutMs ?? 2_000,
    })
  }

  /** Counts one attempt on `key` (forgotten `ttlSeconds` after the first) and returns the total. */
  async take(key: string, ttlSeconds: number): Promise<number> {
    try {
      return await this.#counters.attempt(key, Math.round(ttlSeconds * 1_000))
    } catch (error) {
      throw new AuthErrors.ThrottleUnavailable({
        headers: { 'retry-after': '5' },
        cause: error,
      })
    }
  }
}
