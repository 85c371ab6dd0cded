/**
 * For errors a client library repeats on every reconnect attempt (ioredis, BullMQ): the first is
 * logged, the rest are counted and folded into the next line at most once per interval, so an
 * outage of a few seconds writes a few lines, not hundreds.
 */
export function throttledLog(log: (suppressed: number) => void, intervalMs = 10_000): () => void {
  let last = Number.NEGATIVE_INFINITY
  let suppressed = 0
  return () => {
    const now = Date.now()
    if (now - last < intervalMs) {
      suppressed++
      return
    }
    last = now
    log(suppressed)
    suppressed = 0
  }
}
