/** Longest `Retry-After` honoured; a receiver asking for more is retried after this. */
export const MAX_RETRY_AFTER_SECONDS = 24 * 3600

/**
 * When the next attempt is due after attempt number `attempt` (1-based) failed, or null when the
 * schedule is used up. `retryAfterSeconds` (429/503) replaces the schedule's delay; otherwise the
 * delay gets up to ±10 % of jitter, so endpoints that failed together do not retry together.
 */
export function nextAttemptAt(
  now: Date,
  attempt: number,
  schedule: readonly number[],
  retryAfterSeconds: number | null,
  random: () => number = Math.random,
): Date | null {
  const base = schedule[attempt - 1]
  if (base === undefined) return null
  if (retryAfterSeconds !== null) {
    return new Date(now.getTime() + Math.min(retryAfterSeconds, MAX_RETRY_AFTER_SECONDS) * 1000)
  }
  const jitter = 1 + (random() * 2 - 1) * 0.1
  return new Date(now.getTime() + Math.round(base * 1000 * jitter))
}

/** `Retry-After` in seconds (delta or HTTP date), or null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: Date): number | null {
  if (!value) return null
  if (/^\d{1,10}$/.test(value.trim())) return Number(value.trim())
  const date = Date.parse(value)
  if (Number.isNaN(date)) return null
  return Math.max(0, Math.ceil((date - now.getTime()) / 1000))
}
