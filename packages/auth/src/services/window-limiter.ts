import { type CounterStore, createCounterStore, type RedisClient } from '@acme/core'
import type { Clock } from '../clock.js'
import { AuthErrors } from '../errors.js'

export interface WindowLimiterOptions {
  /** Shared by every instance when present; otherwise this process counts alone. */
  redis: RedisClient | null
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

/**
 * A fixed-window counter per subject, shared across instances through Redis: every attempt takes
 * a slot before it runs, so concurrent attempts cannot all slip under the limit, and an attempt
 * that should not count gives its slot back. Used for reset-token guesses per IP (RST-05) and
 * email-change requests per user.
 */
export class WindowLimiter {
  readonly #options: WindowLimiterOptions
  /** Core's fixed window: one integer key per subject whose TTL is the window (Redis's clock). */
  readonly #counters: CounterStore

  constructor(options: WindowLimiterOptions) {
    this.#options = options
    this.#counters = createCounterStore({
      redis: options.redis,
      clock: options.clock,
      prefix: options.keyPrefix,
    })
  }

  /** Takes a slot for `subject`, or answers 429 with Retry-After when the window is full. */
  async take(subject: string): Promise<WindowSlot> {
    const { count, resetMs } = await this.#take(subject)
    if (count > this.#options.max) {
      throw new AuthErrors.TooManyAttempts({
        headers: { 'retry-after': String(Math.max(1, Math.ceil(resetMs / 1_000))) },
      })
    }
    return { release: () => this.#giveBack(subject) }
  }

  /** Fails closed: without the shared counter, attempts would be unlimited. */
  async #take(subject: string): Promise<{ count: number; resetMs: number }> {
    try {
      return await this.#counters.hit(subject, Math.round(this.#options.windowSeconds * 1_000))
    } catch (error) {
      throw new AuthErrors.ThrottleUnavailable({
        detail: this.#options.unavailableDetail,
        cause: error,
      })
    }
  }

  /** Best effort: failing to give a slot back only over-counts, the safe direction. */
  async #giveBack(subject: string): Promise<void> {
    await this.#counters.giveBack(subject).catch(() => undefined)
  }
}
