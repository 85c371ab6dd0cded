import type { Redis } from 'ioredis'
import type { Clock } from '../clock.js'
import { AuthErrors } from '../errors.js'

export interface AttemptCounterOptions {
  /** Shared by every instance when present; otherwise this process counts alone. */
  redis: Redis | null
  /** E.g. `${app.redisKeyPrefix}auth:mfa-attempts:`; the caller's key is appended. */
  keyPrefix: string
  /** Drives the in-memory expiry; Redis expiry runs on Redis's own time. */
  clock: Clock
  /** A Redis command slower than this fails closed (503) rather than hanging the request. */
  redisTimeoutMs?: number
}

// INCR and PEXPIRE in one step, so a crash between them cannot leave a counter that never ends.
const TAKE = `
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
`

/** Past this many tracked keys the in-memory map drops its expired ones. */
const SWEEP_AT = 10_000

/**
 * Counts attempts against one secret (e.g. the codes tried with one MFA login token), across
 * instances through Redis. An attempt is counted before it is checked, so concurrent guesses
 * cannot all slip under the cap. Without Redis reachable it fails closed (503).
 */
export class AttemptCounter {
  readonly #options: AttemptCounterOptions
  readonly #memory = new Map<string, { count: number; expiresAt: number }>()

  constructor(options: AttemptCounterOptions) {
    this.#options = options
  }

  /** Counts one attempt on `key` (forgotten `ttlSeconds` after the first) and returns the total. */
  async take(key: string, ttlSeconds: number): Promise<number> {
    const { redis, keyPrefix, clock } = this.#options
    if (redis) {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error('redis did not answer in time')),
          this.#options.redisTimeoutMs ?? 2_000,
        )
      })
      try {
        const reply = await Promise.race([
          redis.eval(TAKE, 1, keyPrefix + key, ttlSeconds * 1_000),
          timeout,
        ])
        return Number(reply)
      } catch (error) {
        throw new AuthErrors.ThrottleUnavailable({
          headers: { 'retry-after': '5' },
          cause: error,
        })
      } finally {
        clearTimeout(timer)
      }
    }
    const now = clock().getTime()
    if (this.#memory.size > SWEEP_AT) {
      for (const [stored, entry] of this.#memory) {
        if (entry.expiresAt <= now) this.#memory.delete(stored)
      }
    }
    let entry = this.#memory.get(key)
    if (!entry || entry.expiresAt <= now) {
      entry = { count: 0, expiresAt: now + ttlSeconds * 1_000 }
      this.#memory.set(key, entry)
    }
    entry.count += 1
    return entry.count
  }
}
