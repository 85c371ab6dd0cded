import { z } from 'zod'
import type { Broadcast, BroadcastChannel } from '../broadcast.js'
import {
  type EntryOptions,
  LocalCache,
  type LocalCacheOptions,
  type MemoizeOptions,
} from './local-cache.js'

/** What to drop: keys, tags, keys starting with a prefix, or everything. */
export interface Invalidation {
  keys?: readonly string[]
  tags?: readonly string[]
  prefixes?: readonly string[]
  all?: boolean
}

const invalidationSchema = z
  .object({
    keys: z.array(z.string()).optional(),
    tags: z.array(z.string()).optional(),
    prefixes: z.array(z.string()).optional(),
    all: z.boolean().optional(),
  })
  .strict()

export interface BroadcastCacheOptions extends LocalCacheOptions {
  broadcast: Broadcast
  /** The channel, unique per use: `tenancy:memberships`. */
  channel: string
}

/**
 * An in-memory cache kept consistent across instances: a drop applies here at once and on the
 * others through `app.broadcast`. While the broadcast is not listening, this instance would not
 * hear of changes made elsewhere, so it empties itself and stores nothing until it is back: a
 * read is then a load, never a stale answer. The TTL bounds staleness if a message is lost.
 */
export class BroadcastCache<V> {
  readonly #local: LocalCache<V>
  readonly #channel: BroadcastChannel<Invalidation>

  constructor(options: BroadcastCacheOptions) {
    this.#local = new LocalCache<V>(options)
    this.#channel = options.broadcast.channel(options.channel, {
      schema: invalidationSchema,
      onMessage: (message) => this.#apply(message),
      onMissed: () => this.#local.clear(),
    })
  }

  get size(): number {
    return this.#local.size
  }

  get(key: string): V | undefined {
    return this.#channel.listening ? this.#local.get(key) : undefined
  }

  set(key: string, value: V, options?: EntryOptions): void {
    if (this.#channel.listening) this.#local.set(key, value, options)
  }

  memoize(key: string, load: () => Promise<V>, options: MemoizeOptions<V> = {}): Promise<V> {
    if (!this.#channel.listening) return load()
    return this.#local.memoize(key, load, {
      ...options,
      shouldStore: (value) => this.#channel.listening && (options.shouldStore?.(value) ?? true),
    })
  }

  /** Drops here at once, then tells the other instances; rejects if Redis refused the message. */
  async invalidate(invalidation: Invalidation): Promise<void> {
    this.#apply(invalidation)
    await this.#channel.publish(invalidation)
  }

  /** Drops on this instance only (e.g. a change every instance sees by itself). */
  forget(invalidation: Invalidation): void {
    this.#apply(invalidation)
  }

  #apply(invalidation: Invalidation): void {
    if (invalidation.all) {
      this.#local.clear()
      return
    }
    for (const key of invalidation.keys ?? []) this.#local.delete(key)
    if (invalidation.tags?.length) this.#local.deleteTags(invalidation.tags)
    const prefixes = invalidation.prefixes ?? []
    if (prefixes.length > 0) {
      this.#local.deleteWhere((key) => prefixes.some((prefix) => key.startsWith(prefix)))
    }
  }
}
