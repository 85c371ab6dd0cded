import { type Clock, systemClock } from '../clock.js'

export interface LocalCacheOptions {
  /** How long an entry is trusted; 0 stores nothing (every read loads). */
  ttlMs: number
  /** Bound on entries: the oldest insertion goes first. Default 100,000. */
  maxEntries?: number
  clock?: Clock
}

export interface EntryOptions {
  /** Overrides the cache's TTL for this entry. */
  ttlMs?: number
  /** Names to drop this entry by, together with others (`deleteTags`). */
  tags?: readonly string[]
}

export interface MemoizeOptions<V> extends EntryOptions {
  /** Whether to keep a loaded value (e.g. not a miss that may soon exist). Default: always. */
  shouldStore?: (value: V) => boolean
  /** Tags that depend on the loaded value; replaces `tags` when given. */
  tagsOf?: (value: V) => readonly string[]
}

interface Entry<V> {
  value: V
  expiresAt: number
  tags: readonly string[]
}

const DEFAULT_MAX_ENTRIES = 100_000

/**
 * An in-process map with TTL, a size bound, tags and one load in flight per key. Every drop bumps
 * a generation, so a load that started before a change does not store its (possibly stale) result.
 */
export class LocalCache<V> {
  readonly #entries = new Map<string, Entry<V>>()
  readonly #tags = new Map<string, Set<string>>()
  readonly #pending = new Map<string, Promise<V>>()
  readonly #ttlMs: number
  readonly #maxEntries: number
  readonly #clock: Clock
  #generation = 0

  constructor(options: LocalCacheOptions) {
    this.#ttlMs = options.ttlMs
    this.#maxEntries = Math.max(0, Math.floor(options.maxEntries ?? DEFAULT_MAX_ENTRIES))
    this.#clock = options.clock ?? systemClock
  }

  get size(): number {
    return this.#entries.size
  }

  /** `undefined` means not cached (or expired); cache `null`, not `undefined`, for "none". */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= this.#now()) {
      this.delete(key)
      return undefined
    }
    return entry.value
  }

  set(key: string, value: V, options: EntryOptions = {}): void {
    const ttlMs = options.ttlMs ?? this.#ttlMs
    if (ttlMs <= 0 || this.#maxEntries === 0) return
    this.delete(key)
    const tags = options.tags ?? []
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlMs, tags })
    for (const tag of tags) {
      let keys = this.#tags.get(tag)
      if (!keys) {
        keys = new Set()
        this.#tags.set(tag, keys)
      }
      keys.add(key)
    }
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done) break
      this.delete(oldest.value)
    }
  }

  /**
   * The cached value, or the result of `load` (stored unless a drop happened meanwhile or
   * `shouldStore` says no). Concurrent misses for one key share one load.
   */
  memoize(key: string, load: () => Promise<V>, options: MemoizeOptions<V> = {}): Promise<V> {
    const entry = this.#entries.get(key)
    if (entry !== undefined && entry.expiresAt > this.#now()) return Promise.resolve(entry.value)
    const pending = this.#pending.get(key)
    if (pending) return pending
    const generation = this.#generation
    const loading = load()
      .then((value) => {
        const fresh = generation === this.#generation
        if (fresh && (options.shouldStore?.(value) ?? true)) {
          const tags = options.tagsOf?.(value) ?? options.tags
          this.set(key, value, { ...options, ...(tags ? { tags } : {}) })
        }
        return value
      })
      .finally(() => this.#pending.delete(key))
    this.#pending.set(key, loading)
    return loading
  }

  delete(key: string): void {
    this.#generation += 1
    const entry = this.#entries.get(key)
    if (!entry) return
    this.#entries.delete(key)
    for (const tag of entry.tags) {
      const keys = this.#tags.get(tag)
      keys?.delete(key)
      if (keys?.size === 0) this.#tags.delete(tag)
    }
  }

  deleteTags(tags: readonly string[]): void {
    this.#generation += 1
    for (const tag of tags) {
      for (const key of [...(this.#tags.get(tag) ?? [])]) this.delete(key)
      this.#tags.delete(tag)
    }
  }

  /** Drops every entry whose key matches: for scopes a key prefix expresses (`tenant:`…). */
  deleteWhere(matches: (key: string) => boolean): void {
    this.#generation += 1
    for (const key of [...this.#entries.keys()]) if (matches(key)) this.delete(key)
  }

  clear(): void {
    this.#generation += 1
    this.#entries.clear()
    this.#tags.clear()
  }

  #now(): number {
    return this.#clock().getTime()
  }
}
