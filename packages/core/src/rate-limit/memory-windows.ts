/** One client's fixed window: mutated in place on every hit, so counting allocates nothing. */
export interface Window {
  count: number
  /** Epoch ms at which the window closes and the count starts again. */
  endsAt: number
}

/** Below this many clients there is no sweep; past it, one each time the map doubles. */
const SWEEP_FROM = 10_000

/**
 * Fixed windows in this process (no Redis). A client's window object is created once and
 * reused when its window closes; only a client seen for the first time allocates. Memory is
 * bounded by sweeping closed windows, then, past `maxClients` open ones, dropping the oldest
 * clients first (a dropped client starts a fresh window: under an address-spraying flood the
 * limit errs towards letting a few more requests through rather than growing without bound).
 */
export class MemoryWindows {
  readonly #windows = new Map<string, Window>()
  readonly #maxClients: number
  #sweepAt = SWEEP_FROM

  constructor(maxClients = 1_000_000) {
    this.#maxClients = maxClients
  }

  /** Counts one hit for `key` and returns its live window (read it before the next hit). */
  hit(key: string, windowMs: number, now: number): Window {
    let window = this.#windows.get(key)
    if (window === undefined) {
      window = { count: 0, endsAt: now + windowMs }
      this.#windows.set(key, window)
      if (this.#windows.size >= this.#sweepAt) this.#sweep(now)
    } else if (window.endsAt <= now) {
      window.count = 0
      window.endsAt = now + windowMs
    }
    window.count += 1
    return window
  }

  get size(): number {
    return this.#windows.size
  }

  #sweep(now: number): void {
    for (const [key, window] of this.#windows) {
      if (window.endsAt <= now) this.#windows.delete(key)
    }
    // Insertion order is first-seen order: the oldest clients go first.
    for (const key of this.#windows.keys()) {
      if (this.#windows.size <= this.#maxClients) break
      this.#windows.delete(key)
    }
    this.#sweepAt = Math.max(SWEEP_FROM, this.#windows.size * 2)
  }
}
