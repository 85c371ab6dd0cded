import { setTimeout as sleep } from 'node:timers/promises'
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq'
import type { z } from 'zod'
import {
  closeRedis,
  duplicateRedis,
  isCluster,
  pingRedis,
  type RedisClient,
} from '../data/redis.js'
import { CoreErrors } from '../errors.js'
import { throttledLog } from '../log-throttle.js'
import type { Logger } from '../logger.js'
import { assertCustomJobId, isInvalidPayload, type ResolvedJob, resolveJob } from './definition.js'
import { evictionPolicyError, REQUIRED_POLICY, readEvictionPolicy } from './redis-policy.js'
import { type NormalizedSchedule, normalizeSchedule, scheduleKey } from './schedule.js'
import type {
  EnqueueOptions,
  FailedJob,
  JobDefinition,
  JobHandle,
  JobRunner,
  JobRunnerSettings,
  JobSchedule,
  ScheduledJob,
  ScheduleOptions,
} from './types.js'

export interface BullmqRunnerOptions {
  redis: RedisClient
  /** Key prefix for every queue, e.g. `acme:jobs:`. */
  prefix: string
  settings: JobRunnerSettings
  logger: Logger
}

/**
 * BullMQ waits for a connection indefinitely; a request that enqueues during a Redis outage
 * must get a 503 instead of hanging. (A job whose add was only slow may then exist twice when
 * the caller retries: handlers should be idempotent, or pass a `jobId`.)
 */
const ENQUEUE_DEADLINE_MS = 5_000

async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new CoreErrors.DependencyUnavailable({
            detail: 'The job queue is unreachable; retry shortly.',
            headers: { 'retry-after': '5' },
            cause: new Error(`${what} timed out after ${ms} ms`),
          }),
        ),
      ms,
    )
  })
  try {
    return await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
  }
}

const CLOSE_SETUP_WAIT_MS = 2_000

/**
 * How long ready() waits for Redis to say its eviction policy. A Redis down at startup does not
 * hold the app back: the workers start once it answers (and only if the policy is right).
 */
const POLICY_WAIT_MS = 3_000
const POLICY_RETRY_MS = 1_000

/**
 * How long close() gives connections that are reconnecting to come back before it stops waiting
 * for running jobs. Core's clients, and ioredis's default, retry at least every 2 s.
 */
const CLOSE_RECONNECT_WAIT_MS = 3_000

async function settleWithin(work: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms)
  })
  await Promise.race([Promise.allSettled(work), deadline])
  clearTimeout(timer)
}

/** Polls `check` until it holds or `ms` pass; returns whether it held. */
async function holdsWithin(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() >= deadline) return false
    await sleep(50)
  }
  return true
}

interface DefinedJob {
  job: ResolvedJob
  queue: Queue<unknown, void, string>
  worker: Worker<unknown, void, string>
  workerConnection: RedisClient
  started: boolean
}

/** What Redis said about evicting keys; workers start on `fit` and `unknown` only. */
type PolicyVerdict = 'fit' | 'unknown' | 'evicting' | 'closed'

/**
 * One queue and one worker per job name, so each job gets its own concurrency. Workers start only
 * once Redis has confirmed it never evicts keys (maxmemory-policy noeviction), see ready().
 */
export function createBullmqRunner(options: BullmqRunnerOptions): JobRunner {
  const { redis, settings, logger } = options
  // BullMQ joins its prefix and key parts with ':' itself.
  const trimmed = options.prefix.replace(/:+$/, '')
  // BullMQ's scripts touch several keys of a queue at once, which Redis Cluster allows only
  // within one slot: a hash tag over the whole prefix puts every queue's keys in one.
  const prefix = isCluster(redis) && !trimmed.includes('{') ? `{${trimmed}}` : trimmed
  const queueConnection = duplicateForBullmq(redis, logger)
  const defined = new Map<string, DefinedJob>()
  let closing: Promise<void> | undefined
  // Handlers still running during close() may enqueue follow-ups until the queues close.
  let queuesClosed = false
  let workersMayRun = false
  let policyError: Error | undefined
  let readying: Promise<void> | undefined

  const verdict = inspectEvictionPolicy()
  void verdict.then((outcome) => {
    if (outcome !== 'fit' && outcome !== 'unknown') return
    workersMayRun = true
    for (const entry of defined.values()) startWorker(entry)
  })

  /** Asks until Redis answers (it may be down at startup), or the runner closes. */
  async function inspectEvictionPolicy(): Promise<PolicyVerdict> {
    for (;;) {
      if (closing) return 'closed'
      try {
        const reading = await readEvictionPolicy(queueConnection)
        if (reading.policy === null) {
          logger.warn(
            { refusals: reading.refusals },
            `could not read Redis maxmemory-policy (CONFIG GET and INFO memory refused): job workers start anyway; make sure it is "${REQUIRED_POLICY}", or Redis may evict queued jobs`,
          )
          return 'unknown'
        }
        if (reading.policy !== REQUIRED_POLICY) {
          policyError = evictionPolicyError(reading.policy, reading.source)
          logger.error({ err: policyError }, 'job workers not started: Redis may evict jobs')
          return 'evicting'
        }
        return 'fit'
      } catch (error) {
        if (closing) return 'closed'
        logger.debug({ err: error }, 'Redis eviction policy unknown yet; asking again')
        await sleep(POLICY_RETRY_MS)
      }
    }
  }

  function startWorker(entry: DefinedJob): void {
    if (entry.started || closing) return
    entry.started = true
    entry.worker.run().catch((err: unknown) => {
      logger.error({ err, job: entry.job.name }, 'job worker stopped')
    })
  }

  function lookup(name: string): DefinedJob {
    const entry = defined.get(name)
    if (!entry) throw new Error(`Job "${name}" is not defined; call jobs.define() first`)
    return entry
  }

  async function enqueue(
    name: string,
    payload: unknown,
    enqueueOptions: EnqueueOptions = {},
  ): Promise<{ id: string }> {
    if (queuesClosed) throw new Error(`Cannot enqueue job "${name}": the job runner is closed`)
    const { job, queue } = lookup(name)
    job.validate(payload)
    assertCustomJobId(name, enqueueOptions.jobId)
    const added = await withDeadline(
      queue.add(name, payload, { delay: enqueueOptions.delayMs, jobId: enqueueOptions.jobId }),
      ENQUEUE_DEADLINE_MS,
      `enqueue of "${name}"`,
    )
    if (added.id === undefined) throw new Error(`BullMQ returned no id for job "${name}"`)
    return { id: added.id }
  }

  function define<S extends z.ZodType>(definition: JobDefinition<S>): JobHandle<z.input<S>> {
    if (closing) throw new Error(`Cannot define job "${definition.name}": the job runner is closed`)
    if (defined.has(definition.name)) {
      throw new Error(`Job "${definition.name}" is already defined`)
    }
    const job = resolveJob(definition, settings)
    const queue = new Queue<unknown, void, string>(job.name, {
      connection: queueConnection,
      prefix,
      defaultJobOptions: {
        attempts: job.attempts,
        backoff: { type: 'exponential', delay: job.backoffMs },
        removeOnComplete: !job.keepCompleted,
        removeOnFail: settings.keepFailed === 0 ? true : { count: settings.keepFailed },
      },
    })
    let queueError: unknown
    const reportQueueError = throttledLog((suppressed) =>
      logger.error({ err: queueError, job: job.name, suppressed }, 'job queue error'),
    )
    queue.on('error', (err) => {
      queueError = err
      reportQueueError()
    })
    const workerConnection = duplicateForBullmq(redis, logger)
    const worker = new Worker<unknown, void, string>(
      job.name,
      (bullJob) => runBullJob(job, bullJob),
      {
        connection: workerConnection,
        prefix,
        concurrency: job.concurrency,
        // A dead worker's job is taken over after this; one stalled twice fails for good.
        lockDuration: job.stallAfterMs,
        stalledInterval: job.stallAfterMs,
        // Started by startWorker() once Redis is known not to evict keys.
        autorun: false,
      },
    )
    watchWorker(worker, job, logger)
    const entry: DefinedJob = { job, queue, worker, workerConnection, started: false }
    defined.set(job.name, entry)
    if (workersMayRun) startWorker(entry)
    return {
      name: job.name,
      enqueue: (payload, options) => enqueue(job.name, payload, options),
      schedule: (when, payload, options) => schedule(job.name, when, payload, options),
      unschedule: (key) => unschedule(job.name, key),
    }
  }

  /**
   * A BullMQ job scheduler per (job, key): upserting it is atomic in Redis and keyed by a stable
   * id, so every instance may call this at every start and there is still one schedule. BullMQ
   * adds a schedule's next job only when a worker takes the current one, so each tick runs once
   * among all the instances.
   */
  async function schedule(
    name: string,
    when: JobSchedule,
    payload: unknown = {},
    scheduleOptions: ScheduleOptions = {},
  ): Promise<void> {
    if (queuesClosed) throw new Error(`Cannot schedule job "${name}": the job runner is closed`)
    const { job, queue } = lookup(name)
    const spec = normalizeSchedule(name, when)
    const key = scheduleKey(name, scheduleOptions.key)
    job.validate(payload)
    const repeat =
      'every' in spec
        ? // BullMQ runs a new interval schedule at once; the first run is one interval away
          // instead. Upserting again keeps the ticks: BullMQ only reads startDate when it
          // (re)starts the grid, which a changed interval does.
          { every: spec.every, startDate: Date.now() + spec.every }
        : { pattern: spec.cron, tz: spec.tz }
    await withDeadline(
      queue.upsertJobScheduler(key, repeat, { name, data: payload }),
      ENQUEUE_DEADLINE_MS,
      `schedule of "${name}"`,
    )
  }

  async function unschedule(name: string, key?: string): Promise<boolean> {
    if (queuesClosed) throw new Error(`Cannot unschedule job "${name}": the job runner is closed`)
    const { queue } = lookup(name)
    return withDeadline(
      queue.removeJobScheduler(scheduleKey(name, key)),
      ENQUEUE_DEADLINE_MS,
      `unschedule of "${name}"`,
    )
  }

  async function schedules(name?: string): Promise<ScheduledJob[]> {
    const entries = name === undefined ? [...defined.values()] : [lookup(name)]
    const lists = await Promise.all(
      entries.map(async ({ job, queue }) => {
        const stored = await withDeadline(
          queue.getJobSchedulers(0, -1, true),
          ENQUEUE_DEADLINE_MS,
          `schedules of "${job.name}"`,
        )
        return stored.flatMap((scheduler) => {
          const spec = storedSchedule(scheduler)
          if (!spec) return []
          return [
            {
              name: job.name,
              key: scheduler.key,
              schedule: spec,
              payload: scheduler.template?.data ?? {},
              next: typeof scheduler.next === 'number' ? new Date(scheduler.next) : null,
            },
          ]
        })
      }),
    )
    return lists.flat().sort((a, b) => (a.next?.getTime() ?? 0) - (b.next?.getTime() ?? 0))
  }

  return {
    mode: 'bullmq',
    define,
    enqueue: (name, payload, enqueueOptions) => enqueue(name, payload, enqueueOptions),
    schedule: (name, when, payload, scheduleOptions) =>
      schedule(name, when, payload, scheduleOptions),
    unschedule,
    schedules,
    async failed(name, limit = 50) {
      const { queue } = lookup(name)
      if (limit < 1) return []
      const jobs = await queue.getFailed(0, limit - 1)
      return jobs.filter((job) => job !== undefined).map(toFailedJob)
    },
    async check() {
      if (policyError) throw policyError
      await pingRedis(queueConnection)
    },
    ready() {
      readying ??= (async () => {
        let timer: NodeJS.Timeout | undefined
        const late = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), POLICY_WAIT_MS)
        })
        const outcome = await Promise.race([verdict, late])
        clearTimeout(timer)
        if (outcome === 'late') {
          logger.warn(
            { waitedMs: POLICY_WAIT_MS },
            `Redis did not answer at startup: job workers start once it does and its maxmemory-policy is "${REQUIRED_POLICY}"`,
          )
        }
        if (outcome === 'evicting' && policyError) throw policyError
      })()
      return readying
    },
    runDue() {
      return Promise.reject(
        new Error(
          "runDue() drives the in-process runner's clock; BullMQ schedules are due by the servers' clocks, in Redis",
        ),
      )
    },
    close() {
      closing ??= (async () => {
        const jobs = [...defined.values()]
        // Closing a queue or worker that is still connecting leaves its setup commands to
        // reject unhandled; let setup finish first (bounded, in case Redis is down).
        await settleWithin(
          jobs.flatMap(({ queue, worker }) => [queue.waitUntilReady(), worker.waitUntilReady()]),
          CLOSE_SETUP_WAIT_MS,
        )
        // Workers first: closing one waits for its active jobs.
        await Promise.all(jobs.map((entry) => closeWorker(entry, logger)))
        queuesClosed = true
        await Promise.all(jobs.map(({ queue }) => queue.close()))
        await Promise.all(
          [queueConnection, ...jobs.map(({ workerConnection }) => workerConnection)].map(
            closeConnection,
          ),
        )
      })()
      return closing
    },
  }
}

/**
 * A graceful worker.close() interrupts the worker's blocking read by disconnecting its client and
 * waits for 'end', which ioredis never emits for a client that is reconnecting (ioredis#1830,
 * bullmq#4656): close() would hang for good. So it closes gracefully, waiting for running jobs,
 * only once both of its connections are up; otherwise it forces. Jobs still waiting stay in
 * Redis, and the locks of jobs it was running expire, so another worker retries them.
 */
async function closeWorker({ worker, workerConnection, job }: DefinedJob, logger: Logger) {
  let blocking: { status: string } | undefined
  const setUp = worker.waitUntilReady().then((client) => {
    blocking = client
  })
  // Already set up (close() waited for that) unless Redis has been down since the start.
  await settleWithin([setUp], 100)
  const live = await holdsWithin(
    () => workerConnection.status === 'ready' && blocking?.status === 'ready',
    CLOSE_RECONNECT_WAIT_MS,
  )
  if (!live) logger.warn({ job: job.name }, 'Redis unreachable: closing job worker without waiting')
  await worker.close(!live)
}

/**
 * quit() lets a live connection finish; a reconnecting one has no socket to quit, and ioredis
 * never emits 'end' for it, so closeRedis would wait forever: disconnect() stops its retries.
 */
async function closeConnection(redis: RedisClient): Promise<void> {
  if (redis.status === 'ready') await closeRedis(redis)
  else redis.disconnect()
}

async function runBullJob(job: ResolvedJob, bullJob: Job<unknown, void, string>): Promise<void> {
  const context = {
    id: bullJob.id ?? '',
    attempt: bullJob.attemptsMade + 1,
    maxAttempts: bullJob.opts.attempts ?? job.attempts,
  }
  try {
    await job.run(bullJob.data, context)
  } catch (error) {
    // Retrying cannot fix a payload that no longer matches its schema.
    if (isInvalidPayload(error) && error instanceof Error) {
      throw new UnrecoverableError(error.message)
    }
    throw error
  }
}

function watchWorker(worker: Worker<unknown, void, string>, job: ResolvedJob, logger: Logger) {
  let workerError: unknown
  const reportWorkerError = throttledLog((suppressed) =>
    logger.error({ err: workerError, job: job.name, suppressed }, 'job worker error'),
  )
  worker.on('error', (err) => {
    workerError = err
    reportWorkerError()
  })
  worker.on('completed', (bullJob) => {
    logger.debug(
      { job: job.name, jobId: bullJob.id, attempt: bullJob.attemptsMade },
      'job completed',
    )
  })
  worker.on('failed', (bullJob, err) => {
    // The payload stays out of the log: it can carry secrets such as reset links.
    const attempt = bullJob?.attemptsMade ?? 0
    const maxAttempts = bullJob?.opts.attempts ?? job.attempts
    const fields = { job: job.name, jobId: bullJob?.id, attempt, maxAttempts, err }
    if (attempt >= maxAttempts || err.name === 'UnrecoverableError') {
      logger.error(fields, 'job failed for good; kept for inspection')
    } else {
      logger.warn(fields, 'job failed; will retry')
    }
  })
}

/** A scheduler as BullMQ stores it, in this API's terms; null for legacy repeatable jobs. */
function storedSchedule(scheduler: {
  every?: number | null
  pattern?: string | null
  tz?: string | null
}): NormalizedSchedule | null {
  if (scheduler.every) return { every: Number(scheduler.every) }
  if (scheduler.pattern) return { cron: scheduler.pattern, tz: scheduler.tz ?? 'UTC' }
  return null
}

function toFailedJob(job: Job<unknown, void, string>): FailedJob {
  return {
    id: job.id ?? '',
    name: job.name,
    payload: job.data,
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason,
    failedAt: job.finishedOn === undefined ? null : new Date(job.finishedOn),
  }
}

function duplicateForBullmq(redis: RedisClient, logger: Logger): RedisClient {
  // Workers block on Redis, so a command must never give up; BullMQ rejects ioredis keyPrefix.
  const connection = duplicateRedis(redis, { maxRetriesPerRequest: null, keyPrefix: '' })
  // BullMQ reports these through its own 'error' events; this only keeps ioredis from printing.
  connection.on('error', (err) => logger.debug({ err }, 'job connection error'))
  return connection
}
