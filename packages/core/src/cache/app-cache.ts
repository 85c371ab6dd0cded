import type { Broadcast } from '../broadcast.js'
import type { Clock } from '../clock.js'
import type { RedisClient } from '../data/redis.js'
import { BroadcastCache } from './broadcast-cache.js'
import { RedisCacheStore } from './redis-cache.js'

export interface CacheSetOptions {
  /** Overrides the cache's default TTL (core option `cache.ttlMs`). */
  ttlMs?: number
  /** Names to drop this entry by, with every other entry carrying one of them. */
  tags?: readonly string[]
}

/**
 * `app.cache`: values for the app's own routes, with a TTL and tags. Values are stored as JSON
 * (a caller mutating what it got back cannot change what the next caller gets) in memory, kept
 * consistent across instances by core's broadcast, or in Redis, shared by every instance.
 */
export interface AppCache {
  readonly store: 'memory' | 'redis'
  get<T>(key: string): Promise<T | undefined>
  set<T>(key: string, value: T, options?: CacheSetOptions): Promise<void>
  /** The cached value, or `load()`'s result stored; concurrent misses share one load. */
  memoize<T>(key: string, load: () => Promise<T>, options?: CacheSetOptions): Promise<T>
  delete(keys: string | readonly string[]): Promise<void>
  /** Drops every entry carrying one of the tags, on every instance. */
  invalidateTags(tags: readonly string[]): Promise<void>
}

export interface AppCacheSettings {
  store: 'memory' | 'redis'
  ttlMs: number
  maxEntries: number
}

export function createAppCache(options: {
  settings: AppCacheSettings
  redis: RedisClient | null
  prefix: string
  broadcast: Broadcast
  clock?: Clock
}): AppCache {
  const { settings, redis } = options
  if (settings.store === 'redis' && redis) {
    return new RedisAppCache(new RedisCacheStore(redis, `${options.prefix}{cache}:`), settings)
  }
  return new MemoryAppCache(
    new BroadcastCache<string>({
      broadcast: options.broadcast,
      channel: 'cache',
      ttlMs: settings.ttlMs,
      maxEntries: settings.maxEntries,
      ...(options.clock ? { clock: options.clock } : {}),
    }),
  )
}

const toJson = (value: unknown): string => {
  const json = JSON.stringify(value)
  if (json === undefined) throw new TypeError('app.cache stores JSON values; got undefined')
  return json
}

class MemoryAppCache implements AppCache {
  readonly store = 'memory'
  readonly #cache: BroadcastCache<string>

  constructor(cache: BroadcastCache<string>) {
    this.#cache = cache
  }

  async get<T>(key: string): Promise<T | undefined> {
    const json = this.#cache.get(key)
    return json === undefined ? undefined : (JSON.parse(json) as T)
  }

  async set<T>(key: string, value: T, options: CacheSetOptions = {}): Promise<void> {
    this.#cache.set(key, toJson(value), options)
  }

  async memoize<T>(key: string, load: () => Promise<T>, options: CacheSetOptions = {}) {
    const json = await this.#cache.memoize(key, async () => toJson(await load()), options)
    return JSON.parse(json) as T
  }

  async delete(keys: string | readonly string[]): Promise<void> {
    await this.#cache.invalidate({ keys: typeof keys === 'string' ? [keys] : keys })
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    await this.#cache.invalidate({ tags })
  }
}

class RedisAppCache implements AppCache {
  readonly store = 'redis'
  readonly #store: RedisCacheStore
  readonly #ttlMs: number
  readonly #pending = new Map<string, Promise<string>>()

  constructor(store: RedisCacheStore, settings: AppCacheSettings) {
    this.#store = store
    this.#ttlMs = settings.ttlMs
  }

  async get<T>(key: string): Promise<T | undefined> {
    const json = await this.#store.get(key)
    return json === null ? undefined : (JSON.parse(json) as T)
  }

  async set<T>(key: string, value: T, options: CacheSetOptions = {}): Promise<void> {
    await this.#store.set(key, toJson(value), options.ttlMs ?? this.#ttlMs, options.tags ?? [])
  }

  async memoize<T>(key: string, load: () => Promise<T>, options: CacheSetOptions = {}) {
    const cached = await this.#store.get(key)
    if (cached !== null) return JSON.parse(cached) as T
    let pending = this.#pending.get(key)
    if (!pending) {
      pending = load()
        .then(async (value) => {
          const json = toJson(value)
          await this.set(key, value, options)
          return json
        })
        .finally(() => this.#pending.delete(key))
      this.#pending.set(key, pending)
    }
    return JSON.parse(await pending) as T
  }

  async delete(keys: string | readonly string[]): Promise<void> {
    await this.#store.delete(typeof keys === 'string' ? [keys] : keys)
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    await this.#store.deleteTags(tags)
  }
}
