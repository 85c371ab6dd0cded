export interface WaitOptions {
  timeoutMs?: number
  intervalMs?: number
}

/**
 * Polls until `probe` neither throws nor returns `false`, and returns its value, so it takes a
 * predicate or a block of `expect`s. On timeout it throws the last failure, which says what
 * was still wrong.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 10 }: WaitOptions = {},
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

/**
 * Polls `check` until it holds or `timeoutMs` has passed, and returns how long that took in ms;
 * it never throws, so it also serves to give something a bounded chance to (not) happen.
 */
export async function timeUntil(
  check: () => boolean,
  { timeoutMs = 10_000, intervalMs = 10 }: WaitOptions = {},
): Promise<number> {
  const started = performance.now()
  while (!check() && performance.now() - started < timeoutMs) await sleep(intervalMs)
  return performance.now() - started
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export interface Deferred {
  promise: Promise<void>
  resolve(): void
}

/** A promise the test settles, to hold a handler in flight. */
export function createDeferred(): Deferred {
  let resolve: () => void = () => {}
  const promise = new Promise<void>((settle) => {
    resolve = settle
  })
  return { promise, resolve }
}
