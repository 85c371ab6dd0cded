/** A clock tests move by hand: expiry, throttling and lifetimes without sleeping. */
export interface TestClock {
  now: Date
  advance(seconds: number): void
}

export function testClock(start: Date = new Date()): TestClock {
  return {
    now: start,
    advance(seconds: number) {
      this.now = new Date(this.now.getTime() + seconds * 1_000)
    },
  }
}
