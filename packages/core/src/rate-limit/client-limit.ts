import type { FastifyReply, FastifyRequest } from 'fastify'
import { type AcmeError, CoreErrors } from '../errors.js'
import { clientKey } from './client-key.js'
import { MemoryWindows } from './memory-windows.js'
import type { RedisWindows } from './redis-windows.js'

export interface LimitSettings {
  max: number
  windowMs: number
  /** Client addresses (or their counting keys, see clientKey) that are never limited. */
  allowList: ReadonlySet<string>
}

/** The refusal (429), or null to let the request through. */
export type LimitVerdict = AcmeError | null

/**
 * One per-client limit (the global one, or a route's own): counts the request, sets the
 * RateLimit headers (draft-ietf-httpapi-ratelimit-headers, as separate fields) and refuses past
 * `max` with 429, `Retry-After` and ACME_CORE_RATE_LIMITED.
 */
export abstract class ClientLimit {
  readonly #settings: LimitSettings
  /** Written on every response: made a string once. */
  readonly #maxText: string

  constructor(settings: LimitSettings) {
    this.#settings = settings
    this.#maxText = String(settings.max)
  }

  get windowMs(): number {
    return this.#settings.windowMs
  }

  /**
   * Counts `request` and sets its headers: the verdict at once when the count is in memory, a
   * promise of it when it is in Redis.
   */
  check(request: FastifyRequest, reply: FastifyReply): LimitVerdict | Promise<LimitVerdict> {
    const ip = request.ip ?? ''
    const key = clientKey(ip)
    const { allowList } = this.#settings
    if (allowList.size > 0 && (allowList.has(ip) || allowList.has(key))) return null
    return this.count(key, reply)
  }

  protected abstract count(key: string, reply: FastifyReply): LimitVerdict | Promise<LimitVerdict>

  protected countIn(windows: MemoryWindows, key: string, reply: FastifyReply): LimitVerdict {
    const now = Date.now()
    const window = windows.hit(key, this.windowMs, now)
    return this.decide(reply, window.count, window.endsAt - now)
  }

  /** Sets the headers and answers the refusal, or null. Allocates only when refusing. */
  protected decide(reply: FastifyReply, count: number, resetMs: number): LimitVerdict {
    const { max } = this.#settings
    const resetSeconds = Math.max(0, Math.ceil(resetMs / 1000))
    reply.header('ratelimit-limit', this.#maxText)
    reply.header('ratelimit-reset', resetSeconds)
    if (count <= max) {
      reply.header('ratelimit-remaining', max - count)
      return null
    }
    reply.header('ratelimit-remaining', 0)
    reply.header('retry-after', resetSeconds)
    return new CoreErrors.RateLimited({
      detail: `Rate limit of ${max} requests exceeded; retry in ${duration(resetSeconds)}.`,
    })
  }
}

/** Counts in this process: decides synchronously, and allocates nothing unless it refuses. */
export class MemoryLimit extends ClientLimit {
  readonly #windows = new MemoryWindows()

  protected count(key: string, reply: FastifyReply): LimitVerdict {
    return this.countIn(this.#windows, key, reply)
  }
}

/**
 * Counts in Redis, shared by every instance. While Redis is unreachable (not connected, or a
 * command fails) it counts in this process instead: every client stays limited, each instance
 * counting on its own, so the API keeps answering through a Redis outage rather than refusing
 * every request. `onDegraded` hears of each request counted so.
 */
export class RedisLimit extends ClientLimit {
  readonly #windows: RedisWindows
  readonly #local = new MemoryWindows()
  readonly #onDegraded: (error: unknown) => void

  constructor(
    settings: LimitSettings,
    windows: RedisWindows,
    onDegraded: (error: unknown) => void = () => {},
  ) {
    super(settings)
    this.#windows = windows
    this.#onDegraded = onDegraded
  }

  protected count(key: string, reply: FastifyReply): LimitVerdict | Promise<LimitVerdict> {
    // A command sent while disconnected would wait in ioredis's queue for the reconnect.
    if (!this.#windows.connected()) return this.#countLocally(key, reply, null)
    return this.#windows.hit(key, this.windowMs).then(
      ([count, resetMs]) => this.decide(reply, count, resetMs),
      (error: unknown) => this.#countLocally(key, reply, error),
    )
  }

  #countLocally(key: string, reply: FastifyReply, error: unknown): LimitVerdict {
    this.#onDegraded(error)
    return this.countIn(this.#local, key, reply)
  }
}

/** "45 seconds", "1 minute", "2 hours": the wait, for the problem's detail. */
function duration(seconds: number): string {
  const [amount, unit] =
    seconds < 60
      ? [seconds, 'second']
      : seconds < 3_600
        ? [Math.round(seconds / 60), 'minute']
        : [Math.round(seconds / 3_600), 'hour']
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`
}
