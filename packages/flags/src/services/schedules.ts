import type { Clock } from '@acme/core'
import { z } from 'zod'
import type { FlagsDb } from '../db.js'
import { flagPatchSchema } from '../engine/definition.js'
import { FlagsErrors } from '../errors.js'
import { asJson } from '../store/flag-store.js'
import type { ChangeActor, FlagsAdmin, FlagUpdate } from '../types.js'

/** What a schedule changes: fields of the flag, or the percentage of its rollout (a ramp step). */
export const scheduledChangeSchema = z.union([
  z.object({ update: flagPatchSchema }).strict(),
  z.object({ rolloutPercentage: z.number().min(0).max(100).multipleOf(0.01) }).strict(),
])
export type ScheduledChange = z.output<typeof scheduledChangeSchema>

export type ScheduleStatus = 'pending' | 'running' | 'applied' | 'failed' | 'cancelled'

export interface FlagScheduleRecord {
  id: string
  key: string
  runAt: Date
  change: ScheduledChange
  status: ScheduleStatus
  error: string | null
  createdBy: string | null
  createdAt: Date
  appliedAt: Date | null
}

/** What one run did. */
export interface ScheduleRunReport {
  applied: number
  failed: number
}

const columns = {
  id: true,
  key: true,
  runAt: true,
  change: true,
  status: true,
  error: true,
  createdBy: true,
  createdAt: true,
  appliedAt: true,
} as const

/** A run takes this many due schedules at most, oldest first; the next tick takes the rest. */
const BATCH = 100

/**
 * Changes planned for a time, applied by the `flags.schedules` job through the admin service, as
 * the user who planned them: the same checks (a change that no longer holds together fails, with
 * its problems stored), history, propagation and events as a change made then by hand. Each
 * schedule is claimed (`pending` → `running`) before it is applied, so two instances running the
 * job at once apply it once.
 */
export class FlagSchedules {
  readonly #db: FlagsDb
  readonly #environment: string
  readonly #admin: FlagsAdmin
  readonly #clock: Clock
  readonly #flagExists: (key: string) => boolean
  readonly #rollout: (key: string) => boolean

  constructor(options: {
    db: FlagsDb
    environment: string
    admin: FlagsAdmin
    clock: Clock
    /** Whether the flag exists (and has a rollout) as served: planning for a missing one is a 404. */
    flagExists: (key: string) => boolean
    hasRollout: (key: string) => boolean
  }) {
    this.#db = options.db
    this.#environment = options.environment
    this.#admin = options.admin
    this.#clock = options.clock
    this.#flagExists = options.flagExists
    this.#rollout = options.hasRollout
  }

  /** Plans one change; `runAt` must be in the future. */
  async plan(
    actor: ChangeActor,
    key: string,
    runAt: Date,
    change: ScheduledChange,
  ): Promise<FlagScheduleRecord> {
    this.#assertPlannable(key, [runAt], 'rolloutPercentage' in change)
    const row = await this.#db.flagSchedule.create({
      data: {
        environment: this.#environment,
        key,
        runAt,
        change: asJson(change),
        createdBy: actor.userId,
      },
      select: columns,
    })
    return toRecord(row)
  }

  /** Plans a ramp: one rollout percentage per step, each at its time (e.g. 10 → 50 → 100 %). */
  async ramp(
    actor: ChangeActor,
    key: string,
    steps: readonly { at: Date; percentage: number }[],
  ): Promise<FlagScheduleRecord[]> {
    this.#assertPlannable(
      key,
      steps.map((step) => step.at),
      true,
    )
    const ordered = [...steps].sort((a, b) => a.at.getTime() - b.at.getTime())
    for (let index = 1; index < ordered.length; index++) {
      const [previous, step] = [ordered[index - 1], ordered[index]]
      if (previous && step && step.percentage < previous.percentage) {
        throw new FlagsErrors.InvalidDefinition({
          extensions: {
            problems: ['steps: a ramp only goes up; plan a decrease as a change of its own'],
          },
        })
      }
    }
    return this.#db.$transaction(async (tx) => {
      const records: FlagScheduleRecord[] = []
      for (const step of ordered) {
        const row = await tx.flagSchedule.create({
          data: {
            environment: this.#environment,
            key,
            runAt: step.at,
            change: asJson({ rolloutPercentage: step.percentage }),
            createdBy: actor.userId,
          },
          select: columns,
        })
        records.push(toRecord(row))
      }
      return records
    })
  }

  async list(filter: {
    key?: string
    status?: ScheduleStatus
    limit: number
  }): Promise<FlagScheduleRecord[]> {
    const rows = await this.#db.flagSchedule.findMany({
      where: {
        environment: this.#environment,
        ...(filter.key ? { key: filter.key } : {}),
        ...(filter.status ? { status: filter.status } : {}),
      },
      orderBy: [{ runAt: 'asc' }, { createdAt: 'asc' }],
      take: filter.limit,
      select: columns,
    })
    return rows.map(toRecord)
  }

  /** Cancels a pending schedule (404 when there is none by that id, or it already ran). */
  async cancel(id: string): Promise<void> {
    const { count } = await this.#db.flagSchedule.updateMany({
      where: { id, environment: this.#environment, status: 'pending' },
      data: { status: 'cancelled' },
    })
    if (count === 0) throw new FlagsErrors.ScheduleNotFound()
  }

  /** Applies every schedule due by now, oldest first. */
  async runDue(): Promise<ScheduleRunReport> {
    const now = this.#clock()
    const due = await this.#db.flagSchedule.findMany({
      where: { environment: this.#environment, status: 'pending', runAt: { lte: now } },
      orderBy: [{ runAt: 'asc' }, { createdAt: 'asc' }],
      take: BATCH,
      select: columns,
    })
    const report: ScheduleRunReport = { applied: 0, failed: 0 }
    for (const row of due) {
      const claimed = await this.#db.flagSchedule.updateMany({
        where: { id: row.id, status: 'pending' },
        data: { status: 'running' },
      })
      if (claimed.count === 0) continue
      const schedule = toRecord(row)
      try {
        await this.#apply(schedule)
        await this.#db.flagSchedule.updateMany({
          where: { id: row.id },
          data: { status: 'applied', appliedAt: this.#clock() },
        })
        report.applied++
      } catch (error) {
        await this.#db.flagSchedule.updateMany({
          where: { id: row.id },
          data: { status: 'failed', error: describe(error).slice(0, 2_000) },
        })
        report.failed++
      }
    }
    return report
  }

  async #apply(schedule: FlagScheduleRecord): Promise<void> {
    const actor = { userId: schedule.createdBy }
    const { change } = schedule
    if ('update' in change) {
      await this.#admin.updateFlag(actor, schedule.key, change.update as FlagUpdate)
      return
    }
    await this.#admin.setRolloutPercentage(actor, schedule.key, change.rolloutPercentage)
  }

  #assertPlannable(key: string, times: readonly Date[], needsRollout: boolean): void {
    if (!this.#flagExists(key)) throw new FlagsErrors.FlagNotFound()
    const now = this.#clock().getTime()
    if (times.some((time) => time.getTime() <= now)) {
      throw new FlagsErrors.InvalidDefinition({
        extensions: { problems: ['runAt: must be in the future'] },
      })
    }
    if (needsRollout && !this.#rollout(key)) {
      throw new FlagsErrors.InvalidDefinition({
        extensions: { problems: ['rollout: the flag has no rollout to ramp; set one first'] },
      })
    }
  }
}

function toRecord(row: {
  id: string
  key: string
  runAt: Date
  change: unknown
  status: string
  error: string | null
  createdBy: string | null
  createdAt: Date
  appliedAt: Date | null
}): FlagScheduleRecord {
  return { ...row, change: row.change as ScheduledChange, status: row.status as ScheduleStatus }
}

function describe(error: unknown): string {
  const problems = (error as { extensions?: { problems?: unknown } }).extensions?.problems
  if (Array.isArray(problems)) return problems.join('; ')
  return error instanceof Error ? error.message : 'failed'
}
