/** A clock tests move by hand (the tenancy `clock` option): expiry and rate limits, no sleeping. */
export interface TestClock {
  /** The option to pass: `clock: clock.now`. */
  now: () => Date
  advance(ms: number): void
}

export function testClock(start: Date = new Date()): TestClock {
  let current = start.getTime()
  return {
    now: () => new Date(current),
    advance(ms: number) {
      current += ms
    },
  }
}
