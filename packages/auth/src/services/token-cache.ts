import type { Clock } from '../clock.js'

export interface VerifiedTokenCacheOptions {
  /** Most entries kept; the least recently used goes first. 0 disables the cache. */
  maxEntries: number
  /** Seconds past `exp` an entry is still honoured: the same tolerance verification allows. */
  toleranceSeconds: number
  clock: Clock
}

export const DEFAULT_TOKEN_CACHE_SIZE = 10_000

/**
 * Remembers tokens whose signature and claims were already checked, so a token used on every
 * request is verified once. Keyed by the whole token string: any altered byte is a miss.
 * Revocation is not its concern; callers check it per request.
 */
export class VerifiedTokenCache<Claims extends { exp: number }> {
  readonly #entries = new Map<string, Claims>()
  readonly #maxEntries: number
  readonly #toleranceSeconds: number
  readonly #clock: Clock

  constructor(options: VerifiedTokenCacheOptions) {
    this.#maxEntries = Math.max(0, Math.floor(options.maxEntries))
    this.#toleranceSeconds = options.toleranceSeconds
    this.#clock = options.clock
  }

  get size(): number {
    return this.#entries.size
  }

  get(token: string): Claims | undefined {
    const claims = this.#entries.get(token)
    if (claims === undefined) return undefined
    this.#entries.delete(token)
    if (!this.#isCurrent(claims)) return undefined
    // Re-inserting moves it to the most recently used end of the Map's insertion order.
    this.#entries.set(token, claims)
    return claims
  }

  set(token: string, claims: Claims): void {
    if (this.#maxEntries === 0 || !this.#isCurrent(claims)) return
    this.#entries.delete(token)
    this.#entries.set(token, claims)
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done) break
      this.#entries.delete(oldest.value)
    }
  }

  clear(): void {
    this.#entries.clear()
  }

  #isCurrent(claims: Claims): boolean {
    const nowSeconds = Math.floor(this.#clock().getTime() / 1000)
    // Mirrors jose: a token is expired once exp <= now - tolerance.
    return claims.exp + this.#toleranceSeconds > nowSeconds
  }
}
