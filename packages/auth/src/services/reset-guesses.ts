import type { Redis } from 'ioredis'
import type { Clock } from '../clock.js'
import { AuthErrors } from '../errors.js'
import { clientKey } from './client-ip.js'

export interface ResetGuessLimiterOptions {
  /** Shared by every instance when present; otherwise this process counts alone. */
  redis: Redis | null
  /** `${app.redisKeyPrefix}auth:reset-guess:`; the client IP is appended. */
  keyPrefix: string
  /** Failed attempts allowed per IP and window (option `throttle.resetTokenGuessMax`). */
  max: number
  windowSeconds: number
  /** Drives the in-memory window; Redis expiry runs on Redis's own time. */
  clock: Clock
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

/** Past this many tracked IPs the in-memory map drops its expired windows. */
const SWEEP_AT = 10_000

/**
 * RST-05: limits reset-token guessing per client IP. Every attempt takes a slot before the token
 * is looked at, so concurrent guesses cannot all slip under the limit; an attempt that turns out
 * not to be a wrong token (success, a weak new password, a server error) gives its slot back.
 */
export class ResetGuessLimiter {
  readonly #options: ResetGuessLimiterOptions
  readonly #memory = new Map<string, { count: number; resetAt: number }>()

  constructor(options: ResetGuessLimiterOptions) {
    this.#options = options
  }

  /** Runs `attempt` unless the IP is over the limit (429 with Retry-After). */
  async run<T>(address: string, attempt: () => Promise<T>): Promise<T> {
    // An IPv6 client counts by its /64, as the login throttle does.
    const ip = clientKey(address)
    const { count, retryAfterSeconds } = await this.#take(ip)
    if (count > this.#options.max) {
      throw new AuthErrors.TooManyAttempts({
        headers: { 'retry-after': String(Math.max(1, retryAfterSeconds)) },
      })
    }
    let guessedWrong = false
    try {
      return await attempt()
    } catch (error) {
      guessedWrong = error instanceof AuthErrors.InvalidResetToken
      throw error
    } finally {
      if (!guessedWrong) await this.#giveBack(ip)
    }
  }

  async #take(ip: string): Promise<{ count: number; retryAfterSeconds: number }> {
    const { redis, keyPrefix, windowSeconds } = this.#options
    if (redis) {
      const reply = await this.#redis(() => redis.eval(TAKE, 1, keyPrefix + ip, windowSeconds))
      const [count, ttl] = Array.isArray(reply) ? reply.map(Number) : []
      return { count: count ?? Number.POSITIVE_INFINITY, retryAfterSeconds: ttl ?? windowSeconds }
    }
    const now = this.#options.clock().getTime()
    if (this.#memory.size > SWEEP_AT) this.#sweep(now)
    let entry = this.#memory.get(ip)
    if (!entry || entry.resetAt <= now) {
      entry = { count: 0, resetAt: now + windowSeconds * 1000 }
      this.#memory.set(ip, entry)
    }
    entry.count += 1
    return { count: entry.count, retryAfterSeconds: Math.ceil((entry.resetAt - now) / 1000) }
  }

  /** Best effort: failing to give a slot back only over-counts, the safe direction. */
  async #giveBack(ip: string): Promise<void> {
    const { redis, keyPrefix } = this.#options
    if (redis) {
      await redis.eval(GIVE_BACK, 1, keyPrefix + ip).catch(() => undefined)
      return
    }
    const entry = this.#memory.get(ip)
    if (entry && entry.count > 0) entry.count -= 1
  }

  /** Fails closed: without the shared counter, guessing would be unlimited. */
  async #redis<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command()
    } catch (error) {
      throw new AuthErrors.ThrottleUnavailable({
        detail: 'Password reset is temporarily unavailable; retry shortly.',
        cause: error,
      })
    }
  }

  #sweep(now: number): void {
    for (const [ip, entry] of this.#memory) {
      if (entry.resetAt <= now) this.#memory.delete(ip)
    }
  }
}
