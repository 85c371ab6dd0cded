import type { GcraDecision, GcraLimit, LeaseLimit } from './types.js'

export const MICROS_PER_MS = 1_000

/** GCRA in integer microseconds: every sum is exact in doubles (JS and Lua) up to year 2255. */
export interface GcraParameters {
  /** Emission interval: period / limit, rounded up. */
  intervalMicros: number
  /** How far the TAT may run ahead of now: burst × interval. */
  toleranceMicros: number
}

export function gcraParameters(limit: GcraLimit): GcraParameters {
  const { periodMs } = limit
  const burst = limit.burst ?? limit.limit
  if (!Number.isInteger(limit.limit) || limit.limit < 1) {
    throw new RangeError(`rate limit must be a positive integer, got ${limit.limit}`)
  }
  if (!Number.isFinite(periodMs) || periodMs <= 0) {
    throw new RangeError(`rate limit period must be a positive number of ms, got ${periodMs}`)
  }
  if (!Number.isInteger(burst) || burst < 1) {
    throw new RangeError(`rate limit burst must be a positive integer, got ${burst}`)
  }
  // Rounded up: a sub-microsecond error may only make the limit stricter, never looser.
  const intervalMicros = Math.ceil((periodMs * MICROS_PER_MS) / limit.limit)
  return { intervalMicros, toleranceMicros: intervalMicros * burst }
}

/** The clock's time in integer microseconds. */
export function nowMicros(date: Date): number {
  return Math.floor(date.getTime() * MICROS_PER_MS)
}

/** The decision from the step's outcome: allowed or not, and TAT − now after it. */
export function gcraDecision(
  allowed: boolean,
  tatAheadMicros: number,
  { intervalMicros, toleranceMicros }: GcraParameters,
): GcraDecision {
  // The slack left below the tolerance is how many more intervals fit right now.
  const remaining = allowed ? Math.floor((toleranceMicros - tatAheadMicros) / intervalMicros) : 0
  const retryAfterMicros = allowed ? 0 : tatAheadMicros + intervalMicros - toleranceMicros
  return {
    allowed,
    remaining: Math.max(0, remaining),
    resetMs: tatAheadMicros / MICROS_PER_MS,
    retryAfterMs: Math.max(0, retryAfterMicros) / MICROS_PER_MS,
  }
}

export function assertWindow(windowMs: number, name = 'window'): void {
  if (!Number.isInteger(windowMs) || windowMs < 1) {
    throw new RangeError(`${name} must be a positive integer of ms, got ${windowMs}`)
  }
}

/** Refuses a lease limit either store would misread. */
export function assertLease(holder: string, limit: LeaseLimit): void {
  if (typeof holder !== 'string' || holder.length === 0) {
    throw new RangeError('lease holder must be a non-empty string')
  }
  if (!Number.isInteger(limit.limit) || limit.limit < 1) {
    throw new RangeError(`lease limit must be a positive integer, got ${limit.limit}`)
  }
  if (!Number.isInteger(limit.ttlMs) || limit.ttlMs < 1) {
    throw new RangeError(`lease ttl must be a positive integer of ms, got ${limit.ttlMs}`)
  }
}
