import { createDeferred, sleep, waitFor } from '@acme/test-kit'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { CoreErrors } from '../src/errors.js'
import { createBullmqRunner } from '../src/jobs/bullmq-runner.js'
import { createInProcessRunner } from '../src/jobs/in-process-runner.js'
import { createJobRunner } from '../src/jobs/index.js'
import type { JobContext, JobRunner, JobRunnerSettings } from '../src/jobs/types.js'
import type { Logger } from '../src/logger.js'
import { type CapturingLogger, createCapturingLogger } from './support/capture-logger.js'
import { TEST_REDIS_URL, uniquePrefix } from './support/env.js'

declare module '../src/jobs/types.js' {
  interface AcmeJobs {
    'test.never-defined': { value: number }
  }
}

const prefix = uniquePrefix('jobs')
const settings: JobRunnerSettings = { concurrency: 5, attempts: 3, backoffMs: 20, keepFailed: 100 }
let redis: Redis

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 2 })
})

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
})

const runnerKinds = [
  {
    mode: 'bullmq',
    create: (logger: Logger) => createBullmqRunner({ redis, prefix, settings, logger }),
  },
  {
    mode: 'in-process',
    create: (logger: Logger) => createInProcessRunner({ settings, logger }),
  },
] as const

const completionOf = (logger: CapturingLogger, jobId: string) =>
  logger.lines.find((line) => line.message === 'job completed' && line.object.jobId === jobId)

describe.each(runnerKinds)('$mode job runner', ({ mode, create }) => {
  let logger: CapturingLogger
  let runner: JobRunner

  beforeEach(() => {
    logger = createCapturingLogger()
    runner = create(logger)
  })

  afterEach(() => runner.close())

  it('reports its mode and passes check() while its backend is reachable', async () => {
    expect(runner.mode).toBe(mode)
    await waitFor(async () => {
      await runner.check()
    })
  })

  it('retries a failing job with exponential backoff until it succeeds', async () => {
    const runs: { context: JobContext; at: number }[] = []
    const job = runner.define({
      name: 'test.flaky',
      schema: z.object({ n: z.number() }),
      attempts: 3,
      backoffMs: 20,
      handler: async (_payload, context) => {
        runs.push({ context, at: Date.now() })
        if (context.attempt < 3) throw new Error(`flaky on attempt ${context.attempt}`)
      },
    })

    const { id } = await job.enqueue({ n: 1 })
    const completion = await waitFor(() => completionOf(logger, id) ?? false)

    expect(runs.map((run) => run.context)).toEqual([
      { id, attempt: 1, maxAttempts: 3 },
      { id, attempt: 2, maxAttempts: 3 },
      { id, attempt: 3, maxAttempts: 3 },
    ])
    const [first, second, third] = runs.map((run) => run.at)
    // 20 ms, then 40 ms; a millisecond of slack for clock rounding.
    expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(19)
    expect((third ?? 0) - (second ?? 0)).toBeGreaterThanOrEqual(39)
    expect(completion.object).toMatchObject({ job: 'test.flaky', attempt: 3 })
    expect(await runner.failed('test.flaky')).toEqual([])
    const warnings = logger.lines.filter(
      (line) => line.level === 'warn' && line.object.jobId === id,
    )
    expect(warnings.map((line) => line.object)).toEqual([
      expect.objectContaining({ job: 'test.flaky', attempt: 1, err: expect.any(Error) }),
      expect.objectContaining({ job: 'test.flaky', attempt: 2, err: expect.any(Error) }),
    ])
    expect(logger.lines.filter((line) => line.level === 'error')).toEqual([])
  })

  it('keeps a job that used up its attempts in failed(), newest first', async () => {
    const job = runner.define({
      name: 'test.doomed',
      schema: z.object({ user: z.string(), resetToken: z.string() }),
      attempts: 2,
      backoffMs: 10,
      handler: async () => {
        throw new Error('smtp said no')
      },
    })

    const first = await job.enqueue({ user: 'ada', resetToken: 'first-secret-token' })
    await waitFor(async () => (await runner.failed('test.doomed')).length === 1)
    const second = await job.enqueue({ user: 'bob', resetToken: 'second-secret-token' })
    const failed = await waitFor(async () => {
      const jobs = await runner.failed('test.doomed')
      expect(jobs).toHaveLength(2)
      return jobs
    })

    expect(failed.map((entry) => entry.id)).toEqual([second.id, first.id])
    expect(failed[0]).toMatchObject({
      name: 'test.doomed',
      payload: { user: 'bob', resetToken: 'second-secret-token' },
      attemptsMade: 2,
      failedReason: 'smtp said no',
    })
    expect(failed[0]?.failedAt).toBeInstanceOf(Date)
    expect(await runner.failed('test.doomed', 1)).toHaveLength(1)

    const levels = logger.lines
      .filter((line) => line.object.job === 'test.doomed')
      .map((line) => [line.level, line.object.jobId, line.object.attempt])
    expect(levels).toEqual([
      ['warn', first.id, 1],
      ['error', first.id, 2],
      ['warn', second.id, 1],
      ['error', second.id, 2],
    ])
    expect(logger.text()).not.toContain('secret-token')
  })

  it('rejects an invalid payload at enqueue, and hands the handler the parsed payload', async () => {
    const seen: unknown[] = []
    const job = runner.define({
      name: 'test.typed',
      schema: z.object({
        email: z.email().transform((email) => email.toLowerCase()),
        count: z.number().int().default(1),
      }),
      handler: async (payload) => {
        seen.push(payload)
      },
    })

    const invalid = { email: 'leaked-value', count: 'three' } as unknown as { email: string }
    const enqueueing = job.enqueue(invalid)
    await expect(enqueueing).rejects.toBeInstanceOf(CoreErrors.InvalidJobPayload)
    await expect(enqueueing).rejects.toThrow(/"test\.typed".*email.*count/)
    await expect(enqueueing).rejects.not.toThrow(/leaked-value|three/)
    await expect(runner.enqueue('test.never-defined', { value: 1 })).rejects.toThrow(
      'Job "test.never-defined" is not defined',
    )

    await job.enqueue({ email: 'Ada@Example.com' })
    await waitFor(() => seen.length === 1)
    expect(seen).toEqual([{ email: 'ada@example.com', count: 1 }])
  })

  it('refuses to define a job name twice', () => {
    const definition = { name: 'test.once', schema: z.object({}), handler: async () => {} }
    runner.define(definition)
    expect(() => runner.define(definition)).toThrow('Job "test.once" is already defined')
  })

  it('close() waits for a running job and drops jobs that have not started', async () => {
    const release = createDeferred()
    const events: string[] = []
    const slow = runner.define({
      name: 'test.slow',
      schema: z.object({ n: z.number() }),
      concurrency: 1,
      handler: async ({ n }) => {
        events.push(`started ${n}`)
        await release.promise
        events.push(`finished ${n}`)
      },
    })
    const later = runner.define({
      name: 'test.later',
      schema: z.object({}),
      handler: async () => {
        events.push('later ran')
      },
    })

    await slow.enqueue({ n: 1 })
    await slow.enqueue({ n: 2 })
    await waitFor(() => events.includes('started 1'))
    // Due well after close() begins, with a margin a loaded machine cannot eat: it must never run.
    await later.enqueue({}, { delayMs: 1_000 })
    const closed = runner.close().then(() => events.push('closed'))
    await sleep(50)
    expect(events).toEqual(['started 1'])

    release.resolve()
    await closed
    await sleep(1_100)
    expect(events).toEqual(['started 1', 'finished 1', 'closed'])
    await runner.close()
    const lateDefinition = { name: 'test.late', schema: z.object({}), handler: async () => {} }
    expect(() => runner.define(lateDefinition)).toThrow('the job runner is closed')
  })

  it('runs at most `concurrency` handlers of a job at once', async () => {
    const release = createDeferred()
    let active = 0
    let peak = 0
    let done = 0
    const job = runner.define({
      name: 'test.parallel',
      schema: z.object({ n: z.number() }),
      concurrency: 2,
      handler: async () => {
        active += 1
        peak = Math.max(peak, active)
        await release.promise
        active -= 1
        done += 1
      },
    })

    await Promise.all([1, 2, 3, 4, 5].map((n) => job.enqueue({ n })))
    await waitFor(() => active === 2)
    await sleep(50)
    expect(peak).toBe(2)
    release.resolve()
    await waitFor(() => done === 5)
    expect(peak).toBe(2)
  })

  it('holds a job back for delayMs', async () => {
    let ranAt = 0
    const job = runner.define({
      name: 'test.delayed',
      schema: z.object({}),
      handler: async () => {
        ranAt = Date.now()
      },
    })

    const enqueuedAt = Date.now()
    await job.enqueue({}, { delayMs: 150 })
    await waitFor(() => ranAt > 0)
    // Measured from the enqueue, not by sleeping (a loaded machine's sleep overshoots); a 150 ms
    // delay may end at 149 by Date.now(), since timers and Redis round to the millisecond.
    expect(ranAt - enqueuedAt).toBeGreaterThanOrEqual(145)
  })

  it('enqueues a job id once while the job exists', async () => {
    const release = createDeferred()
    const runs: number[] = []
    const job = runner.define({
      name: 'test.dedup',
      schema: z.object({ n: z.number() }),
      handler: async ({ n }) => {
        runs.push(n)
        await release.promise
      },
    })

    const first = await job.enqueue({ n: 1 }, { jobId: 'welcome-42' })
    const duplicate = await job.enqueue({ n: 2 }, { jobId: 'welcome-42' })
    await waitFor(() => runs.length === 1)
    const whileRunning = await job.enqueue({ n: 3 }, { jobId: 'welcome-42' })
    expect([first.id, duplicate.id, whileRunning.id]).toEqual(Array(3).fill('welcome-42'))
    release.resolve()
    await waitFor(() => completionOf(logger, 'welcome-42') !== undefined)

    // Completed jobs are removed (keepCompleted defaults to false), which frees the id.
    await job.enqueue({ n: 4 }, { jobId: 'welcome-42' })
    await waitFor(() => runs.length === 2)
    expect(runs).toEqual([1, 4])
    // Integer ids would collide with generated ones; ':' separates BullMQ's key parts.
    for (const jobId of ['42', 'a:b']) {
      await expect(job.enqueue({ n: 5 }, { jobId })).rejects.toThrow(`jobId "${jobId}" must not`)
    }
  })
})

describe('createJobRunner', () => {
  it('uses BullMQ with Redis and the in-process runner without', async () => {
    const logger = createCapturingLogger()
    const withRedis = createJobRunner({ redis, prefix, settings, logger })
    const withoutRedis = createJobRunner({ redis: null, prefix, settings, logger })
    expect(withRedis.mode).toBe('bullmq')
    expect(withoutRedis.mode).toBe('in-process')
    await Promise.all([withRedis.close(), withoutRedis.close()])
  })

  it('warns once that the in-process runner loses jobs on restart', async () => {
    const logger = createCapturingLogger()
    const runner = createInProcessRunner({ settings, logger })
    expect(logger.lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: expect.stringContaining('development and embedded mode only'),
      }),
    ])
    await runner.close()
  })
})
