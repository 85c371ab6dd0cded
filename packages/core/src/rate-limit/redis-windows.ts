import { WINDOW_HIT } from '../counters/scripts.js'
import type { CounterRedis } from '../counters/types.js'

/** A client whose connection state can be read: ioredis's `Redis` and `Cluster` both say it. */
export type WindowRedis = CounterRedis & { readonly status: string }

/**
 * Fixed windows in Redis, shared by every instance: one EVALSHA per request (the counters'
 * window script: INCR, and the window as the key's TTL on Redis's clock), EVAL only when the
 * server does not know the script. A Redis error rejects.
 */
export class RedisWindows {
  readonly #redis: WindowRedis
  readonly #prefix: string

  constructor(redis: WindowRedis, prefix: string) {
    this.#redis = redis
    this.#prefix = prefix
  }

  connected(): boolean {
    return this.#redis.status === 'ready'
  }

  /** Resolves with `[count, ms until the window closes]`. */
  hit(key: string, windowMs: number): Promise<[number, number]> {
    const fullKey = this.#prefix + key
    return this.#redis
      .evalsha(WINDOW_HIT.sha, 1, fullKey, windowMs)
      .catch((error: unknown) => {
        if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error
        return this.#redis.eval(WINDOW_HIT.source, 1, fullKey, windowMs)
      })
      .then(countAndReset)
  }
}

function countAndReset(reply: unknown): [number, number] {
  if (Array.isArray(reply) && typeof reply[0] === 'number' && typeof reply[1] === 'number') {
    return [reply[0], reply[1]]
  }
  throw new Error(`unexpected reply from the ${WINDOW_HIT.name} script`)
}
