import type { Clock } from '../clock.js'

export interface VerifiedTokenCacheOptions {
  /** Most entries kept; the least recently used goes first. 0 disables the cache. */
  maxEntries: number
  /** Seconds past `exp` an entry is still honoured: the same tolerance verification allows. */
  toleranceSeconds: number
  clock: Clock
}

export const DEFAULT_TOKEN_CACHE_SIZE = 10_000

/** A cached token, its claims and when it was (re)inserted, in insertions made so far. */
interface Entry<Claims> {
  token: string
  claims: Claims
  insertedAt: number
}

/**
 * Entries are found by the token's last characters, the tail of its signature (effectively
 * random), and then compared whole. V8 hashes a string character by character, so keying by
 * the whole token (hundreds of characters, a new string on every request) cost about 2 µs per
 * lookup on the development machine; 32 characters cost a tenth of it, the comparison less.
 */
const KEY_LENGTH = 32

function keyOf(token: string): string {
  return token.length <= KEY_LENGTH ? token : token.slice(-KEY_LENGTH)
}

/**
 * Remembers tokens whose signature and claims were already checked, so a token used on every
 * request is verified once. A hit needs the whole token string: any altered byte is a miss.
 * Revocation is not its concern; callers check it per request.
 *
 * Eviction is least-recently-used, to within half the cache: a hit moves its entry to the young
 * end only when the entry has aged past half the cache. Moving on every hit (delete, then set)
 * churned the Map's backing store on every request of a warm token, which cost more than the
 * rest of the token check (docs/benchmarks.md).
 */
export class VerifiedTokenCache<Claims extends { exp: number }> {
  readonly #entries = new Map<string, Entry<Claims>>()
  readonly #maxEntries: number
  readonly #toleranceSeconds: number
  readonly #clock: Clock
  #insertions = 0

  constructor(options: VerifiedTokenCacheOptions) {
    this.#maxEntries = Math.max(0, Math.floor(options.maxEntries))
    this.#toleranceSeconds = options.toleranceSeconds
    this.#clock = options.clock
  }

  get size(): number {
    return this.#entries.size
  }

  get(token: string): Claims | undefined {
    const key = keyOf(token)
    const entry = this.#entries.get(key)
    if (entry === undefined || entry.token !== token) return undefined
    if (!this.#isCurrent(entry.claims)) {
      this.#entries.delete(key)
      return undefined
    }
    if (this.#insertions - entry.insertedAt >= this.#maxEntries / 2) {
      // Re-inserting moves it to the most recently used end of the Map's insertion order.
      this.#entries.delete(key)
      this.#insert(key, entry)
    }
    return entry.claims
  }

  set(token: string, claims: Claims): void {
    if (this.#maxEntries === 0 || !this.#isCurrent(claims)) return
    const key = keyOf(token)
    this.#entries.delete(key)
    this.#insert(key, { token, claims, insertedAt: 0 })
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done) break
      this.#entries.delete(oldest.value)
    }
  }

  clear(): void {
    this.#entries.clear()
  }

  #insert(key: string, entry: Entry<Claims>): void {
    entry.insertedAt = ++this.#insertions
    this.#entries.set(key, entry)
  }

  #isCurrent(claims: Claims): boolean {
    const nowSeconds = Math.floor(this.#clock().getTime() / 1000)
    // Mirrors jose: a token is expired once exp <= now - tolerance.
    return claims.exp + this.#toleranceSeconds > nowSeconds
  }
}
