// BullMQ's own cron parser (a dependency of bullmq, pinned to the same version in core), so both
// runners compute the same ticks from one expression. A CommonJS module: default import only.
import cronParser from 'cron-parser'
import { isTimeZone } from './maintenance-options.js'
import type { JobSchedule } from './types.js'

/** A validated schedule: the time zone is explicit, so every instance computes the same ticks. */
export type NormalizedSchedule = { every: number } | { cron: string; tz: string }

// A schedule key ends up inside BullMQ job ids (`repeat:<key>:<millis>`): no ':'.
const SCHEDULE_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

/** The stored id of a schedule: its key, or the job's name (one schedule per job). */
export function scheduleKey(name: string, key: string | undefined): string {
  if (key === undefined) return name
  if (!SCHEDULE_KEY.test(key)) {
    throw new TypeError(
      `Job "${name}": schedule key "${key}" must be 1 to 128 letters, digits, ".", "_" or "-"`,
    )
  }
  return key
}

export function normalizeSchedule(name: string, when: JobSchedule): NormalizedSchedule {
  const given = (when ?? {}) as { every?: unknown; cron?: unknown; tz?: unknown }
  if (given.every !== undefined && given.cron !== undefined) {
    throw new TypeError(`Job "${name}": a schedule takes "every" or "cron", not both`)
  }
  if (given.every !== undefined) {
    if (typeof given.every !== 'number' || !Number.isSafeInteger(given.every) || given.every < 1) {
      throw new TypeError(
        `Job "${name}": schedule "every" must be a positive integer (milliseconds)`,
      )
    }
    return { every: given.every }
  }
  if (typeof given.cron === 'string') {
    const tz = given.tz ?? 'UTC'
    if (typeof tz !== 'string' || !isTimeZone(tz)) {
      throw new TypeError(`Job "${name}": schedule "tz" must be an IANA time zone, like "UTC"`)
    }
    const cron = given.cron.trim()
    try {
      nextCronTick(cron, tz, Date.now())
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      throw new TypeError(`Job "${name}": schedule cron "${cron}" is not valid: ${reason}`, {
        cause: error,
      })
    }
    return { cron, tz }
  }
  throw new TypeError(`Job "${name}": a schedule needs "every" (milliseconds) or "cron"`)
}

export function sameSchedule(a: NormalizedSchedule, b: NormalizedSchedule): boolean {
  if ('every' in a) return 'every' in b && a.every === b.every
  return 'cron' in b && a.cron === b.cron && a.tz === b.tz
}

/** The first tick strictly after `after` (milliseconds since the epoch). */
export function nextCronTick(cron: string, tz: string, after: number): number {
  return cronParser
    .parseExpression(cron, { currentDate: new Date(after), tz })
    .next()
    .getTime()
}

/**
 * The first tick of an interval schedule strictly after `now`, on the grid the previous tick
 * set: a late run (or a process asleep for hours) yields one run, not one per missed tick, as
 * BullMQ's schedulers do.
 */
export function nextEveryTick(previous: number, every: number, now: number): number {
  const next = previous + every
  if (next > now) return next
  return previous + every * (Math.floor((now - previous) / every) + 1)
}
