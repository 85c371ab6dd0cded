import { manualClock } from '@acme/test-kit'

/**
 * The kit's hand-moved clock in the shape auth's tests read: `now` is the current Date and
 * `advance` counts seconds (auth's TTLs are in seconds). One clock underneath, `@acme/test-kit`.
 */
export interface TestClock {
  readonly now: Date
  advance(seconds: number): void
}

export function testClock(start: Date = new Date()): TestClock {
  const time = manualClock(start)
  return {
    get now() {
      return time.now()
    },
    advance(seconds: number) {
      time.advance(seconds * 1_000)
    },
  }
}
