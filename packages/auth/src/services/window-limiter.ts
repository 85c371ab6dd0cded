import type { Redis } from 'ioredis'
import type { Clock } from '../clock.js'
import { AuthErrors } from '../errors.js'

export interface WindowLimiterOptions {
  /** Shared by every instance when present; otherwise this process counts alone. */
  redis: Redis | null
  /** e.g. `${app.redisKeyPrefix}auth:reset-guess:`; the subject (an IP, a user id) is appended. */
  keyPrefix: string
  /** Slots per subject and window. */
  max: number
  windowSeconds: number
  /** Drives the in-memory window; Redis expiry runs on Redis's own time. */
  clock: Clock
  /** The 503's detail when Redis cannot count: the limiter fails closed. */
  unavailableDetail: string
}

/** A taken slot; `release()` gives it back when the attempt should not count. */
export interface WindowSlot {
  release(): Promise<void>
}

// INCR and EXPIRE in one step, so a crash between them cannot leave a counter that never ends;
// a counter found without expiry (e.g. restored from a dump) gets one.
const TAKE = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`
// Only an existing counter goes down: DECR on an expired key would create one without expiry.
const GIVE_BACK = `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0
`

/** Past this many tracked subjects the in-memory map drops its expired windows. */
const SWEEP_AT = 10_000

/**
 * A fixed-window counter per subject, shared across instances through Redis: every attempt takes
 * a slot before it runs, so concurrent attempts cannot all slip under the limit, and an attempt
 * that should not count gives its slot back. Used for reset-token guesses per IP (RST-05) and
 * email-change requests per user.
 */
export class WindowLimiter {
  readonly #options: WindowLimiterOptions
  readonly #memory = new Map<string, { count: number; resetAt: number }>()

  constructor(options: WindowLimiterOptions) {
    this.#options = options
  }

  /** Takes a slot for `subject`, or answers 429 with Retry-After when the window is full. */
  async take(subject: string): Promise<WindowSlot> {
    const { count, retryAfterSeconds } = await this.#take(subject)
    if (count > this.#options.max) {
      throw new AuthErrors.TooManyAttempts({
        headers: { 'retry-after': String(Math.max(1, retryAfterSeconds)) },
      })
    }
    return { release: () => this.#giveBack(subject) }
  }

  async #take(subject: string): Promise<{ count: number; retryAfterSeconds: number }> {
    const { redis, keyPrefix, windowSeconds } = this.#options
    if (redis) {
      const reply = await this.#redis(() => redis.eval(TAKE, 1, keyPrefix + subject, windowSeconds))
      const [count, ttl] = Array.isArray(reply) ? reply.map(Number) : []
      return { count: count ?? Number.POSITIVE_INFINITY, retryAfterSeconds: ttl ?? windowSeconds }
    }
    const now = this.#options.clock().getTime()
    if (this.#memory.size > SWEEP_AT) this.#sweep(now)
    let entry = this.#memory.get(subject)
    if (!entry || entry.resetAt <= now) {
      entry = { count: 0, resetAt: now + windowSeconds * 1000 }
      this.#memory.set(subject, entry)
    }
    entry.count += 1
    return { count: entry.count, retryAfterSeconds: Math.ceil((entry.resetAt - now) / 1000) }
  }

  /** Best effort: failing to give a slot back only over-counts, the safe direction. */
  async #giveBack(subject: string): Promise<void> {
    const { redis, keyPrefix } = this.#options
    if (redis) {
      await redis.eval(GIVE_BACK, 1, keyPrefix + subject).catch(() => undefined)
      return
    }
    const entry = this.#memory.get(subject)
    if (entry && entry.count > 0) entry.count -= 1
  }

  /** Fails closed: without the shared counter, attempts would be unlimited. */
  async #redis<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command()
    } catch (error) {
      throw new AuthErrors.ThrottleUnavailable({
        detail: this.#options.unavailableDetail,
        cause: error,
      })
    }
  }

  #sweep(now: number): void {
    for (const [subject, entry] of this.#memory) {
      if (entry.resetAt <= now) this.#memory.delete(subject)
    }
  }
}
