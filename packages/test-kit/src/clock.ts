/**
 * A clock tests move by hand: expiry, throttling, schedules and lifetimes without sleeping.
 * `now` is the `Clock` (`() => Date`) to inject: `clock: time.now`.
 */
export interface ManualClock {
  readonly now: () => Date
  /** Moves time by `ms` milliseconds (negative goes back). */
  advance(ms: number): void
  /** Moves time to `date`. */
  set(date: Date): void
}

export function manualClock(start: Date | string = new Date()): ManualClock {
  let current = new Date(start).getTime()
  return {
    now: () => new Date(current),
    advance(ms) {
      current += ms
    },
    set(date) {
      current = date.getTime()
    },
  }
}
