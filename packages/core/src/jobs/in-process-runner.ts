import type { z } from 'zod'
import type { Logger } from '../logger.js'
import { assertCustomJobId, isInvalidPayload, type ResolvedJob, resolveJob } from './definition.js'
import type {
  EnqueueOptions,
  FailedJob,
  JobDefinition,
  JobHandle,
  JobRunner,
  JobRunnerSettings,
} from './types.js'

export interface InProcessRunnerOptions {
  settings: JobRunnerSettings
  logger: Logger
}

interface QueuedJob {
  id: string
  payload: unknown
  attemptsMade: number
  timer: NodeJS.Timeout | undefined
}

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
}

/**
 * The same semantics as the BullMQ runner, in memory: for development and embedded mode only,
 * since queued jobs are lost when the process stops.
 */
export function createInProcessRunner(options: InProcessRunnerOptions): JobRunner {
  const { settings, logger } = options
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
    schedule(queue, { id, payload: stored, attemptsMade: 0, timer: undefined }, delayMs)
    return { id }
  }

  function schedule(queue: JobQueue, queued: QueuedJob, delayMs: number): void {
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
      schedule(queue, queued, job.backoffMs * 2 ** (attempt - 1))
      return
    }
    if (retryable) {
      logger.warn({ ...fields, err: error }, 'job failed; runner closing, retry dropped')
      queue.existing.delete(queued.id)
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
    })
    return { name: job.name, enqueue: (payload, options) => enqueue(job.name, payload, options) }
  }

  return {
    mode: 'in-process',
    define,
    enqueue: (name, payload, enqueueOptions) => enqueue(name, payload, enqueueOptions),
    async failed(name, limit = 50) {
      return lookup(name).failed.slice(0, Math.max(limit, 0))
    },
    async check() {},
    close() {
      closing ??= (async () => {
        for (const queue of queues.values()) {
          for (const queued of queue.scheduled) clearTimeout(queued.timer)
          queue.scheduled.clear()
          queue.ready.length = 0
        }
        await Promise.allSettled([...runningHandlers])
      })()
      return closing
    },
  }
}
