import { availableParallelism } from 'node:os'

/**
 * Runs at most `max` tasks at once and queues the rest. Password hashing uses it so a burst of
 * logins keeps one core free for the event loop: argon2 runs on libuv's pool, which would
 * otherwise take every core.
 */
export function createLimiter(max: number = Math.max(1, availableParallelism() - 1)) {
  let running = 0
  const waiting: Array<() => void> = []
  return async function limit<T>(task: () => Promise<T>): Promise<T> {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve))
    running++
    try {
      return await task()
    } finally {
      running--
      waiting.shift()?.()
    }
  }
}
