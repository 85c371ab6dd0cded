/**
 * Where a receiver records the `webhook-id`s it has handled. `claim` is atomic: of two
 * concurrent deliveries of one message, exactly one gets `true`.
 */
export interface IdempotencyStore {
  /** `true` when `id` was not claimed yet (and is now, for `ttlSeconds`). */
  claim(id: string, ttlSeconds: number): Promise<boolean>
  /** Forgets a claim, so a redelivery is handled again (the handler failed). */
  release(id: string): Promise<void>
}

/** One process's memory: for a single instance, or tests. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #expiries = new Map<string, number>()
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  async claim(id: string, ttlSeconds: number): Promise<boolean> {
    const now = this.#now()
    const expiry = this.#expiries.get(id)
    if (expiry !== undefined && expiry > now) return false
    this.#expiries.set(id, now + ttlSeconds * 1000)
    if (this.#expiries.size > 10_000) this.#sweep(now)
    return true
  }

  async release(id: string): Promise<void> {
    this.#expiries.delete(id)
  }

  #sweep(now: number): void {
    for (const [id, expiry] of this.#expiries) if (expiry <= now) this.#expiries.delete(id)
  }
}

/** What `redisIdempotencyStore` needs of an ioredis (or compatible) client. */
export interface IdempotencyRedis {
  set(key: string, value: string, ex: 'EX', seconds: number, nx: 'NX'): Promise<string | null>
  del(key: string): Promise<number>
}

/** Shared by every instance of the receiving app: `SET key 1 EX ttl NX`. */
export function redisIdempotencyStore(
  redis: IdempotencyRedis,
  prefix = 'webhook-id:',
): IdempotencyStore {
  return {
    async claim(id, ttlSeconds) {
      return (await redis.set(`${prefix}${id}`, '1', 'EX', ttlSeconds, 'NX')) === 'OK'
    },
    async release(id) {
      await redis.del(`${prefix}${id}`)
    },
  }
}

/**
 * Runs `handler` once per `webhook-id`: a retry of a message already handled resolves
 * `{ handled: false }` without running it. A handler that throws releases the id, so the
 * sender's next retry runs it again. Keep `ttlSeconds` past the sender's whole retry window
 * (default 3 days).
 */
export async function handleOnce<R>(
  store: IdempotencyStore,
  webhookId: string,
  handler: () => Promise<R>,
  options: { ttlSeconds?: number } = {},
): Promise<{ handled: true; result: R } | { handled: false }> {
  if (!(await store.claim(webhookId, options.ttlSeconds ?? 3 * 86_400))) return { handled: false }
  try {
    return { handled: true, result: await handler() }
  } catch (error) {
    await store.release(webhookId)
    throw error
  }
}
