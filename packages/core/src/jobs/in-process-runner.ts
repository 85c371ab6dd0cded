import type { z } from 'zod'
import type { Logger } from '../logger.js'
import { assertCustomJobId, isInvalidPayload, type ResolvedJob, resolveJob } from './definition.js'
import {
  type NormalizedSchedule,
  nextCronTick,
  nextEveryTick,
  normalizeSchedule,
  sameSchedule,
  scheduleKey,
} from './schedule.js'
import type {
  EnqueueOptions,
  FailedJob,
  JobDefinition,
  JobHandle,
  JobRunner,
  JobRunnerSettings,
  JobSchedule,
  ScheduledJob,
  ScheduledRun,
  ScheduleOptions,
} from './types.js'

export interface InProcessRunnerOptions {
  settings: JobRunnerSettings
  logger: Logger
}

type RunOutcome = ScheduledRun['status']

interface QueuedJob {
  id: string
  payload: unknown
  attemptsMade: number
  timer: NodeJS.Timeout | undefined
  /** Set for runs started by a schedule: tells runDue() how the run ended. */
  settle?: (outcome: RunOutcome) => void
}

interface Schedule {
  key: string
  spec: NormalizedSchedule
  payload: unknown
  /** When the next tick is due, by the runner's clock (milliseconds since the epoch). */
  next: number
  timer: NodeJS.Timeout | undefined
}

/** setTimeout fires at once past 2^31 - 1 ms; a longer wait is taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** The jobs of one name: waiting to start, running, and the ids that still exist (dedup). */
interface JobQueue {
  job: ResolvedJob
  ready: QueuedJob[]
  scheduled: Set<QueuedJob>
  running: number
  /** Ids of jobs that exist: queued, running, or kept after finishing. */
  existing: Set<string>
  failed: FailedJob[]
  /** Kept only with `keepCompleted`, for dedup; bounded like failed jobs since memory is. */
  completedIds: string[]
  schedules: Map<string, Schedule>
}

/**
 * The same semantics as the BullMQ runner, in memory: for development and embedded mode only,
 * since queued jobs are lost when the process stops. Schedules run on unref'd timers (they never
 * keep the process alive) and read time from `settings.clock`, which tests move by hand before
 * calling runDue().
 */
export function createInProcessRunner(options: InProcessRunnerOptions): JobRunner {
  const { settings, logger } = options
  const now = () => (settings.clock ?? systemNow)().getTime()
  const queues = new Map<string, JobQueue>()
  const runningHandlers = new Set<Promise<void>>()
  let nextId = 1
  let closing: Promise<void> | undefined

  logger.warn(
    { jobs: 'in-process' },
    'jobs run in this process without Redis: for development and embedded mode only; ' +
      'queued jobs are lost on restart',
  )

  function lookup(name: string): JobQueue {
    const queue = queues.get(name)
    if (!queue) throw new Error(`Job "${name}" is not defined; call jobs.define() first`)
    return queue
  }

  async function enqueue(
    name: string,
    payload: unknown,
    enqueueOptions: EnqueueOptions = {},
  ): Promise<{ id: string }> {
    if (closing) throw new Error(`Cannot enqueue job "${name}": the job runner is closed`)
    const queue = lookup(name)
    queue.job.validate(payload)
    const { jobId, delayMs = 0 } = enqueueOptions
    assertCustomJobId(name, jobId)
    if (jobId !== undefined && queue.existing.has(jobId)) return { id: jobId }
    const id = jobId ?? String(nextId++)
    queue.existing.add(id)
    // A JSON copy behaves like the BullMQ runner: the caller's later mutations do not leak in.
    const stored: unknown = payload === undefined ? undefined : JSON.parse(JSON.stringify(payload))
    place(queue, { id, payload: stored, attemptsMade: 0, timer: undefined }, delayMs)
    return { id }
  }

  function place(queue: JobQueue, queued: QueuedJob, delayMs: number): void {
    if (delayMs <= 0) {
      queue.ready.push(queued)
      // Later, as with a real queue: the caller's enqueue returns before the handler starts.
      setImmediate(() => pump(queue))
      return
    }
    queued.timer = setTimeout(() => {
      queue.scheduled.delete(queued)
      queued.timer = undefined
      queue.ready.push(queued)
      pump(queue)
    }, delayMs)
    queue.scheduled.add(queued)
  }

  function pump(queue: JobQueue): void {
    while (!closing && queue.running < queue.job.concurrency) {
      const queued = queue.ready.shift()
      if (!queued) return
      queue.running += 1
      const running = execute(queue, queued).finally(() => {
        queue.running -= 1
        runningHandlers.delete(running)
        pump(queue)
      })
      runningHandlers.add(running)
    }
  }

  async function execute(queue: JobQueue, queued: QueuedJob): Promise<void> {
    const { job } = queue
    const attempt = queued.attemptsMade + 1
    const context = { id: queued.id, attempt, maxAttempts: job.attempts }
    try {
      await job.run(queued.payload, context)
    } catch (error) {
      queued.attemptsMade = attempt
      handleFailure(queue, queued, error)
      return
    }
    logger.debug({ job: job.name, jobId: queued.id, attempt }, 'job completed')
    queued.settle?.('completed')
    if (job.keepCompleted) {
      keepBounded(queue, queue.completedIds, queued.id, (id) => id)
    } else {
      queue.existing.delete(queued.id)
    }
  }

  function handleFailure(queue: JobQueue, queued: QueuedJob, error: unknown): void {
    const { job } = queue
    const attempt = queued.attemptsMade
    // The payload stays out of the log: it can carry secrets such as reset links.
    const fields = { job: job.name, jobId: queued.id, attempt, maxAttempts: job.attempts }
    const retryable = attempt < job.attempts && !isInvalidPayload(error)
    if (retryable && !closing) {
      logger.warn({ ...fields, err: error }, 'job failed; will retry')
      place(queue, queued, job.backoffMs * 2 ** (attempt - 1))
      return
    }
    if (retryable) {
      logger.warn({ ...fields, err: error }, 'job failed; runner closing, retry dropped')
      queue.existing.delete(queued.id)
      queued.settle?.('cancelled')
      return
    }
    logger.error({ ...fields, err: error }, 'job failed for good; kept for inspection')
    const failed: FailedJob = {
      id: queued.id,
      name: job.name,
      payload: queued.payload,
      attemptsMade: attempt,
      failedReason: error instanceof Error ? error.message : String(error),
      failedAt: new Date(),
    }
    keepBounded(queue, queue.failed, failed, (entry) => entry.id)
    queued.settle?.('failed')
  }

  /** Newest first; what falls off the end stops existing, as BullMQ's removeOnFail count does. */
  function keepBounded<T>(queue: JobQueue, list: T[], entry: T, idOf: (entry: T) => string) {
    list.unshift(entry)
    for (const dropped of list.splice(settings.keepFailed)) queue.existing.delete(idOf(dropped))
  }

  function define<S extends z.ZodType>(definition: JobDefinition<S>): JobHandle<z.input<S>> {
    if (closing) throw new Error(`Cannot define job "${definition.name}": the job runner is closed`)
    if (queues.has(definition.name)) {
      throw new Error(`Job "${definition.name}" is already defined`)
    }
    const job = resolveJob(definition, settings)
    queues.set(job.name, {
      job,
      ready: [],
      scheduled: new Set(),
      running: 0,
      existing: new Set(),
      failed: [],
      completedIds: [],
      schedules: new Map(),
    })
    return {
      name: job.name,
      enqueue: (payload, options) => enqueue(job.name, payload, options),
      schedule: (when, payload, options) => schedule(job.name, when, payload, options),
      unschedule: (key) => unschedule(job.name, key),
    }
  }

  /** Upserts, as BullMQ's job schedulers do: the same interval keeps its next tick. */
  async function schedule(
    name: string,
    when: JobSchedule,
    payload: unknown = {},
    scheduleOptions: ScheduleOptions = {},
  ): Promise<void> {
    if (closing) throw new Error(`Cannot schedule job "${name}": the job runner is closed`)
    const queue = lookup(name)
    const spec = normalizeSchedule(name, when)
    const key = scheduleKey(name, scheduleOptions.key)
    queue.job.validate(payload)
    const stored: unknown = JSON.parse(JSON.stringify(payload))
    const existing = queue.schedules.get(key)
    if (existing && sameSchedule(existing.spec, spec)) {
      existing.payload = stored
      return
    }
    if (existing) clearTimeout(existing.timer)
    const at = now()
    const next = 'every' in spec ? at + spec.every : nextCronTick(spec.cron, spec.tz, at)
    const entry: Schedule = { key, spec, payload: stored, next, timer: undefined }
    queue.schedules.set(key, entry)
    arm(queue, entry)
  }

  async function unschedule(name: string, key?: string): Promise<boolean> {
    const queue = lookup(name)
    const entry = queue.schedules.get(scheduleKey(name, key))
    if (!entry) return false
    clearTimeout(entry.timer)
    queue.schedules.delete(entry.key)
    return true
  }

  /** Wakes when the next tick is due by the clock; a hand-moved clock is served by runDue(). */
  function arm(queue: JobQueue, entry: Schedule): void {
    clearTimeout(entry.timer)
    const wait = Math.min(Math.max(entry.next - now(), 0), MAX_TIMER_MS)
    entry.timer = setTimeout(() => {
      entry.timer = undefined
      if (closing || queue.schedules.get(entry.key) !== entry) return
      if (entry.next <= now()) {
        void tick(queue, entry)
      } else {
        arm(queue, entry)
      }
    }, wait)
    // A schedule alone never keeps the process running.
    entry.timer.unref()
  }

  /** Starts one run for the due tick, moves the schedule on, and resolves when the run ends. */
  function tick(queue: JobQueue, entry: Schedule): Promise<ScheduledRun> {
    const at = now()
    const { spec } = entry
    entry.next =
      'every' in spec
        ? nextEveryTick(entry.next, spec.every, at)
        : nextCronTick(spec.cron, spec.tz, at)
    arm(queue, entry)
    const id = String(nextId++)
    const run = { name: queue.job.name, key: entry.key, id }
    const outcome = new Promise<ScheduledRun>((resolve) => {
      const queued: QueuedJob = {
        id,
        payload: entry.payload,
        attemptsMade: 0,
        timer: undefined,
        settle: (status) => resolve({ ...run, status }),
      }
      queue.existing.add(id)
      place(queue, queued, 0)
    })
    logger.debug({ job: queue.job.name, jobId: id, schedule: entry.key }, 'scheduled job due')
    return outcome
  }

  return {
    mode: 'in-process',
    define,
    enqueue: (name, payload, enqueueOptions) => enqueue(name, payload, enqueueOptions),
    schedule: (name, when, payload, scheduleOptions) =>
      schedule(name, when, payload, scheduleOptions),
    unschedule,
    async schedules(name) {
      const selected = name === undefined ? [...queues.values()] : [lookup(name)]
      return selected
        .flatMap((queue) =>
          [...queue.schedules.values()].map(
            (entry): ScheduledJob => ({
              name: queue.job.name,
              key: entry.key,
              schedule: { ...entry.spec },
              payload: entry.payload,
              next: new Date(entry.next),
            }),
          ),
        )
        .sort((a, b) => (a.next?.getTime() ?? 0) - (b.next?.getTime() ?? 0))
    },
    async runDue() {
      if (closing) throw new Error('Cannot run due schedules: the job runner is closed')
      const at = now()
      const runs: Promise<ScheduledRun>[] = []
      for (const queue of queues.values()) {
        for (const entry of queue.schedules.values()) {
          if (entry.next <= at) runs.push(tick(queue, entry))
        }
      }
      return Promise.all(runs)
    },
    async failed(name, limit = 50) {
      return lookup(name).failed.slice(0, Math.max(limit, 0))
    },
    async check() {},
    async ready() {},
    close() {
      closing ??= (async () => {
        for (const queue of queues.values()) {
          for (const entry of queue.schedules.values()) clearTimeout(entry.timer)
          queue.schedules.clear()
          for (const queued of queue.scheduled) {
            clearTimeout(queued.timer)
            queued.settle?.('cancelled')
          }
          queue.scheduled.clear()
          for (const queued of queue.ready) queued.settle?.('cancelled')
          queue.ready.length = 0
        }
        await Promise.allSettled([...runningHandlers])
      })()
      return closing
    },
  }
}

const systemNow = () => new Date()
