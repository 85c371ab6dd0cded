/**
 * Polls until `probe` neither throws nor returns `false`, and returns its value (a predicate or a
 * block of `expect`s). On timeout it throws the last failure, which says what was still wrong.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 10 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<Exclude<T, false>> {
  const deadline = Date.now() + timeoutMs
  const stillFalse = new Error(`condition still false after ${timeoutMs} ms`)
  let lastError: unknown = stillFalse
  for (;;) {
    try {
      const value = await probe()
      if (value !== false) return value as Exclude<T, false>
      lastError = stillFalse
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) throw lastError
    await sleep(intervalMs)
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
