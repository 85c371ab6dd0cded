import type { z } from 'zod'

/** Registry of job names to payloads; plugins and hosts add theirs by module augmentation. */
export interface AcmeJobs {}

export interface JobContext {
  /** The queue's job id. */
  id: string
  /** 1 on the first run, 2 on the first retry, and so on. */
  attempt: number
  /** How many runs the job gets in all. */
  maxAttempts: number
}

export interface JobDefinition<S extends z.ZodType> {
  /** Unique, dotted, owned by one package: `auth.cleanup-expired`, `mail.send`. */
  name: string
  /** Validated on enqueue (the caller's bug fails loudly) and again before the handler runs. */
  schema: S
  handler: (payload: z.output<S>, context: JobContext) => Promise<void>
  /** Total runs including the first; defaults to core's `jobs.attempts`. */
  attempts?: number
  /** First retry delay; doubles each retry. Defaults to core's `jobs.backoffMs`. */
  backoffMs?: number
  /** Parallel runs of this job per process. Defaults to core's `jobs.concurrency`. */
  concurrency?: number
  /** Keep completed jobs? Mail and other payloads carrying secrets should not. Default false. */
  keepCompleted?: boolean
  /**
   * How long a run holds its job without renewing its hold (BullMQ's lock, renewed while the
   * handler runs): a worker that dies mid-run (a crash, SIGKILL) keeps the job this long, then
   * another worker takes it over. A job that stalls so a second time fails for good, with
   * `job stalled more than allowable limit`, and is logged and kept like any failed job.
   * Default 30,000 ms. The in-process runner has no other worker to hand over to and ignores it.
   */
  stallAfterMs?: number
}

export interface EnqueueOptions {
  /** Run no earlier than this many milliseconds from now. */
  delayMs?: number
  /** A job with the same id is enqueued at most once while it exists (deduplication). */
  jobId?: string
}

export interface FailedJob {
  id: string
  name: string
  payload: unknown
  attemptsMade: number
  failedReason: string
  failedAt: Date | null
}

/**
 * When a repeatable job runs: every `every` milliseconds (first run one interval after the
 * schedule is created), or at the times a cron expression names, in `tz` (an IANA zone, default
 * `UTC` so every instance computes the same ticks whatever its own zone).
 */
export type JobSchedule = { every: number } | { cron: string; tz?: string }

export interface ScheduleOptions {
  /**
   * Tells several schedules of one job apart (one per tenant, say). Defaults to the job's name:
   * one schedule per job. Letters, digits, `.`, `_` and `-`.
   */
  key?: string
}

/** A schedule as stored (`jobs.schedules()`). */
export interface ScheduledJob {
  /** The job's name. */
  name: string
  /** The schedule's key: the job's name unless `schedule()` was given one. */
  key: string
  schedule: { every: number } | { cron: string; tz: string }
  /** The payload every run gets. */
  payload: unknown
  /** When the next run is due; `null` when the backend does not know. */
  next: Date | null
}

/** One run started by `runDue()`, once it has finished. */
export interface ScheduledRun {
  name: string
  key: string
  /** The run's job id. */
  id: string
  /** `failed` once it used up its attempts; `cancelled` when the runner closed first. */
  status: 'completed' | 'failed' | 'cancelled'
}

export interface JobHandle<Payload> {
  readonly name: string
  enqueue(payload: Payload, options?: EnqueueOptions): Promise<{ id: string }>
  /** `jobs.schedule(name, when, payload, options)` for this job. */
  schedule(when: JobSchedule, payload?: Payload, options?: ScheduleOptions): Promise<void>
  /** `jobs.unschedule(name, key)` for this job. */
  unschedule(key?: string): Promise<boolean>
}

type KnownJobName = keyof AcmeJobs & string

/** `app.jobs`: the same interface whether BullMQ or the in-process runner sits behind it. */
export interface JobRunner {
  /** `bullmq` with Redis; `in-process` without (development and embedded mode only). */
  readonly mode: 'bullmq' | 'in-process'

  define<S extends z.ZodType>(definition: JobDefinition<S>): JobHandle<z.input<S>>
  enqueue<K extends KnownJobName>(
    name: K,
    payload: AcmeJobs[K],
    options?: EnqueueOptions,
  ): Promise<{ id: string }>
  /**
   * Runs a defined job repeatedly, with `payload` (default `{}`, validated now). Idempotent: the
   * schedule is stored under the job's name (or `options.key`), so every instance may call this
   * at every start and there is still one schedule, and one run per tick across all instances.
   * Calling it again with another interval, cron, time zone or payload replaces the schedule
   * (the last call wins); with the same interval the ticks stay where they were. With BullMQ
   * the schedule lives in Redis until `unschedule()`: deleting the call from your code does not
   * stop it.
   */
  schedule<K extends KnownJobName>(
    name: K,
    when: JobSchedule,
    payload?: AcmeJobs[K],
    options?: ScheduleOptions,
  ): Promise<void>
  /** Removes a schedule (a run already started finishes); `false` when there was none. */
  unschedule(name: string, key?: string): Promise<boolean>
  /** The schedules of one job, or of every defined job, soonest first. */
  schedules(name?: string): Promise<ScheduledJob[]>
  /** Jobs that used up their attempts, newest first, kept for inspection. */
  failed(name: string, limit?: number): Promise<FailedJob[]>
  /** Throws when the queue backend cannot be reached or cannot keep jobs (used by readiness). */
  check(): Promise<void>
  /**
   * Resolves once the backend is fit to run jobs, and rejects when it is not: with BullMQ, a
   * Redis whose `maxmemory-policy` is not `noeviction` (its workers are then never started).
   * Core awaits it in `onReady`, so such an app fails to start.
   */
  ready(): Promise<void>
  /**
   * Test hook of the in-process runner: starts, now, every schedule whose tick is due by the
   * runner's clock (option `jobs.clock`), each once however many ticks were missed, and resolves
   * when those runs have finished. Move a hand-driven clock, then call this. The BullMQ runner
   * rejects: its schedules are due by the servers' clocks, in Redis.
   */
  runDue(): Promise<ScheduledRun[]>
  /** Stops taking new jobs and waits for the running ones; stops the schedules' timers. */
  close(): Promise<void>
}

export interface JobRunnerSettings {
  concurrency: number
  attempts: number
  backoffMs: number
  keepFailed: number
  /**
   * The in-process runner's time source for schedules (tests move it, then call `runDue()`).
   * BullMQ's schedules follow the servers' clocks.
   */
  clock?: () => Date
}
