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

export interface JobHandle<Payload> {
  readonly name: string
  enqueue(payload: Payload, options?: EnqueueOptions): Promise<{ id: string }>
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
  /** Jobs that used up their attempts, newest first, kept for inspection. */
  failed(name: string, limit?: number): Promise<FailedJob[]>
  /** Throws when the queue backend cannot be reached (used by readiness). */
  check(): Promise<void>
  /** Stops taking new jobs and waits for the running ones. */
  close(): Promise<void>
}

export interface JobRunnerSettings {
  concurrency: number
  attempts: number
  backoffMs: number
  keepFailed: number
}
