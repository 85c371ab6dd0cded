import { manualClock, sleep, waitFor } from '@acme/test-kit'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { CoreErrors } from '../src/errors.js'
import { createBullmqRunner } from '../src/jobs/bullmq-runner.js'
import { createInProcessRunner } from '../src/jobs/in-process-runner.js'
import type { JobContext, JobRunner, JobRunnerSettings } from '../src/jobs/types.js'
import { silentLogger } from '../src/logger.js'
import { buildTestApp, type TestApp } from './support/app.js'
import { createCapturingLogger } from './support/capture-logger.js'
import { TEST_REDIS_URL, uniquePrefix } from './support/env.js'

const settings: JobRunnerSettings = { concurrency: 2, attempts: 1, backoffMs: 10, keepFailed: 10 }
const prefixes: string[] = []
let redis: Redis

function freshPrefix(label: string): string {
  const prefix = uniquePrefix(label)
  prefixes.push(prefix)
  return prefix
}

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 2 })
})

afterAll(async () => {
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
  }
  await redis.quit()
})

interface Run {
  id: string
  at: number
  payload: unknown
  instance: string
}

/** BullMQ names a scheduled run `repeat:<key>:<tick in ms>`: the tick it was produced for. */
function tickOf(run: Run): number {
  const tick = Number(run.id.split(':').at(-1))
  if (!Number.isInteger(tick)) throw new Error(`not a scheduled run id: ${run.id}`)
  return tick
}

/**
 * No tick ran twice, and every run belongs to the schedule's grid. (A tick may be skipped, not
 * doubled: BullMQ moves a schedule to the next slot when its job is picked up late, as on a
 * loaded CI machine.)
 */
function expectOneRunPerTick(runs: Run[], every: number): void {
  const ticks = runs.map(tickOf).sort((a, b) => a - b)
  expect(new Set(ticks).size).toBe(ticks.length)
  const offGrid = ticks.filter((tick) => (tick - (ticks[0] ?? 0)) % every !== 0)
  expect(offGrid).toEqual([])
}

function recorder(instance: string, runs: Run[]) {
  return async (payload: unknown, context: JobContext) => {
    runs.push({ id: context.id, at: Date.now(), payload, instance })
  }
}

describe('BullMQ schedules', () => {
  it('runs a repeating job every interval, the first run one interval after scheduling', async () => {
    const runner = createBullmqRunner({
      redis,
      prefix: freshPrefix('schedule-every'),
      settings,
      logger: silentLogger,
    })
    const runs: Run[] = []
    const tick = runner.define({
      name: 'test.tick',
      schema: z.object({ n: z.number() }),
      handler: recorder('a', runs),
    })
    await runner.ready()

    const scheduledAt = Date.now()
    await tick.schedule({ every: 300 }, { n: 7 })
    await waitFor(() => runs.length >= 4, { timeoutMs: 5_000 })

    expect(runs[0]?.at ?? 0).toBeGreaterThanOrEqual(scheduledAt + 290)
    expect(runs.map((run) => run.payload)).toEqual(runs.map(() => ({ n: 7 })))
    expectOneRunPerTick(runs, 300)
    expect(await runner.schedules()).toEqual([
      {
        name: 'test.tick',
        key: 'test.tick',
        schedule: { every: 300 },
        payload: { n: 7 },
        next: expect.any(Date),
      },
    ])
    await runner.close()
  })

  it('runs a cron schedule at the times it names, in UTC by default', async () => {
    const runner = createBullmqRunner({
      redis,
      prefix: freshPrefix('schedule-cron'),
      settings,
      logger: silentLogger,
    })
    const runs: Run[] = []
    const handle = runner.define({
      name: 'test.every-second',
      schema: z.object({}),
      handler: recorder('a', runs),
    })
    // Six fields: the first is seconds.
    await handle.schedule({ cron: '* * * * * *' })
    await waitFor(() => runs.length >= 2, { timeoutMs: 5_000 })

    expect(runs.map((run) => tickOf(run) % 1_000)).toEqual(runs.map(() => 0))
    expectOneRunPerTick(runs, 1_000)
    const [stored] = await runner.schedules('test.every-second')
    expect(stored?.schedule).toEqual({ cron: '* * * * * *', tz: 'UTC' })
    expect((stored?.next?.getTime() ?? 0) % 1_000).toBe(0)
    await runner.close()
  })

  it('rejects runDue(): BullMQ schedules are due by the servers clocks', async () => {
    const runner = createBullmqRunner({
      redis,
      prefix: freshPrefix('schedule-rundue'),
      settings,
      logger: silentLogger,
    })
    await expect(runner.runDue()).rejects.toThrow(/in-process runner/)
    await runner.close()
  })
})

describe('BullMQ schedules across instances', () => {
  const prefix = freshPrefix('schedule-instances')
  const every = 300
  const runs: Run[] = []
  const apps: TestApp[] = []

  /** One app instance: core on the shared Redis and key prefix, the job defined at startup. */
  async function instance(label: string) {
    let handle: ReturnType<JobRunner['define']> | undefined
    const t = await buildTestApp({ redis: TEST_REDIS_URL, redisKeyPrefix: prefix }, (app) => {
      handle = app.jobs.define({
        name: 'test.cleanup',
        schema: z.object({ olderThanDays: z.number() }),
        handler: recorder(label, runs),
      })
    })
    apps.push(t)
    if (!handle) throw new Error('job not defined')
    return { t, handle }
  }

  afterAll(async () => {
    await Promise.all(apps.map(({ app }) => app.close()))
  })

  it('two instances scheduling the same job make one schedule and one run per tick; a restart keeps it', async () => {
    const a = await instance('a')
    const b = await instance('b')
    // Both call it at startup, at the same moment, as every instance of a deployment would.
    const scheduledAt = Date.now()
    await Promise.all([
      a.handle.schedule({ every }, { olderThanDays: 30 }),
      b.handle.schedule({ every }, { olderThanDays: 30 }),
    ])
    expect(await a.t.app.jobs.schedules()).toHaveLength(1)

    await waitFor(() => runs.length >= 6, { timeoutMs: 6_000 })
    const ranFor = runs.length
    expectOneRunPerTick(runs, every)

    // A restart of one instance schedules again: still one schedule, and no extra run.
    await a.t.app.close()
    const restarted = await instance('a2')
    await restarted.handle.schedule({ every }, { olderThanDays: 30 })
    expect(await b.t.app.jobs.schedules()).toEqual([
      {
        name: 'test.cleanup',
        key: 'test.cleanup',
        schedule: { every },
        payload: { olderThanDays: 30 },
        next: expect.any(Date),
      },
    ])
    await waitFor(() => runs.length >= ranFor + 4, { timeoutMs: 6_000 })
    expectOneRunPerTick(runs, every)
    // One run per tick, not one per instance per tick: counted from the scheduling (the first
    // tick comes one interval later), so a late first run cannot make the bound tighter.
    const elapsed = Date.now() - scheduledAt
    expect(runs.length).toBeLessThanOrEqual(Math.floor(elapsed / every) + 1)
  }, 30_000)

  it('unschedule() stops it on every instance', async () => {
    const [, b, restarted] = apps
    if (!b || !restarted) throw new Error('instances missing')
    expect(await restarted.app.jobs.unschedule('test.cleanup')).toBe(true)
    expect(await b.app.jobs.schedules('test.cleanup')).toEqual([])
    // A run already due when the schedule went may still start; nothing after it.
    await sleep(every * 2)
    const settled = runs.length
    await sleep(every * 5)
    expect(runs.length).toBe(settled)
    expect(await b.app.jobs.unschedule('test.cleanup')).toBe(false)
  }, 30_000)
})

const MINUTE = 60_000
const HOUR = 60 * MINUTE

describe('in-process schedules', () => {
  it('run on their timer, and closing the app stops the timer', async () => {
    const runs: Run[] = []
    let handle: ReturnType<JobRunner['define']> | undefined
    const t = await buildTestApp({}, (app) => {
      handle = app.jobs.define({
        name: 'test.timer',
        schema: z.object({}),
        handler: recorder('a', runs),
      })
    })
    expect(t.app.jobs.mode).toBe('in-process')
    const scheduledAt = Date.now()
    await handle?.schedule({ every: 200 })
    await waitFor(() => runs.length >= 3, { timeoutMs: 5_000 })
    expect(runs[0]?.at ?? 0).toBeGreaterThanOrEqual(scheduledAt + 199)

    await t.app.close()
    const atClose = runs.length
    await sleep(700)
    expect(runs.length).toBe(atClose)
  })

  it('never keep the process alive (unref timers)', async () => {
    const runner = createInProcessRunner({ settings, logger: silentLogger })
    const handle = runner.define({
      name: 'test.idle',
      schema: z.object({}),
      handler: async () => {},
    })
    const timers = () =>
      process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
    const before = timers()
    await handle.schedule({ every: HOUR })
    await handle.schedule({ cron: '0 3 * * *' }, {}, { key: 'nightly' })
    expect(timers()).toBe(before)
    await runner.close()
  })

  it('follow the injected clock: runDue() runs what is due, once, then the next tick', async () => {
    const clock = manualClock('2030-01-01T00:00:00Z')
    const runs: Run[] = []
    let handle: ReturnType<JobRunner['define']> | undefined
    const t = await buildTestApp({ jobs: { clock: clock.now } }, (app) => {
      handle = app.jobs.define({
        name: 'test.cleanup-expired',
        schema: z.object({}),
        handler: recorder('a', runs),
      })
    })
    const { jobs } = t.app
    await handle?.schedule({ every: HOUR })
    expect((await jobs.schedules())[0]?.next).toEqual(new Date('2030-01-01T01:00:00Z'))

    expect(await jobs.runDue()).toEqual([])
    clock.advance(HOUR - 1)
    expect(await jobs.runDue()).toEqual([])
    expect(runs).toEqual([])

    clock.advance(1)
    const [run] = await jobs.runDue()
    expect(run).toEqual({
      name: 'test.cleanup-expired',
      key: 'test.cleanup-expired',
      id: expect.any(String),
      status: 'completed',
    })
    expect(runs.map((entry) => entry.id)).toEqual([run?.id])
    expect(await jobs.runDue()).toEqual([])

    // Three ticks missed (a laptop asleep): one run, and the grid goes on from now.
    clock.advance(3 * HOUR)
    expect(await jobs.runDue()).toHaveLength(1)
    expect(runs).toHaveLength(2)
    expect((await jobs.schedules())[0]?.next).toEqual(new Date('2030-01-01T05:00:00Z'))

    // Scheduling again (the next start of the process) keeps the ticks; unschedule() stops them.
    await handle?.schedule({ every: HOUR })
    expect((await jobs.schedules())[0]?.next).toEqual(new Date('2030-01-01T05:00:00Z'))
    expect(await jobs.unschedule('test.cleanup-expired')).toBe(true)
    clock.advance(10 * HOUR)
    expect(await jobs.runDue()).toEqual([])
    expect(await jobs.unschedule('test.cleanup-expired')).toBe(false)
    await t.app.close()
  })

  it('run cron schedules in their time zone, several keys per job with their own payloads', async () => {
    const clock = manualClock('2030-01-01T01:59:00Z')
    const runner = createInProcessRunner({
      settings: { ...settings, clock: clock.now },
      logger: silentLogger,
    })
    const runs: Run[] = []
    const digest = runner.define({
      name: 'test.digest',
      schema: z.object({ tenant: z.string() }),
      handler: recorder('a', runs),
    })
    // 03:00 in Paris is 02:00 UTC in winter.
    await digest.schedule(
      { cron: '0 3 * * *', tz: 'Europe/Paris' },
      { tenant: 'acme' },
      { key: 'acme' },
    )
    await digest.schedule({ cron: '0 3 * * *' }, { tenant: 'initech' }, { key: 'initech' })
    expect(
      (await runner.schedules()).map(({ key, next, schedule }) => ({ key, next, schedule })),
    ).toEqual([
      {
        key: 'acme',
        next: new Date('2030-01-01T02:00:00Z'),
        schedule: { cron: '0 3 * * *', tz: 'Europe/Paris' },
      },
      {
        key: 'initech',
        next: new Date('2030-01-01T03:00:00Z'),
        schedule: { cron: '0 3 * * *', tz: 'UTC' },
      },
    ])

    clock.advance(MINUTE)
    expect((await runner.runDue()).map((run) => run.key)).toEqual(['acme'])
    clock.advance(HOUR)
    expect((await runner.runDue()).map((run) => run.key)).toEqual(['initech'])
    expect(runs.map((run) => run.payload)).toEqual([{ tenant: 'acme' }, { tenant: 'initech' }])
    expect((await runner.schedules('test.digest'))[0]?.next).toEqual(
      new Date('2030-01-02T02:00:00Z'),
    )
    await runner.close()
  })

  it('report a run that used up its attempts as failed, and keep it in failed()', async () => {
    const clock = manualClock('2030-01-01T00:00:00Z')
    const logger = createCapturingLogger()
    const runner = createInProcessRunner({ settings: { ...settings, clock: clock.now }, logger })
    let attempts = 0
    const handle = runner.define({
      name: 'test.flaky-cleanup',
      schema: z.object({}),
      attempts: 2,
      backoffMs: 5,
      handler: async () => {
        attempts += 1
        throw new Error('database said no')
      },
    })
    await handle.schedule({ every: MINUTE })
    clock.advance(MINUTE)
    const [run] = await runner.runDue()
    expect(run?.status).toBe('failed')
    expect(attempts).toBe(2)
    expect(await runner.failed('test.flaky-cleanup')).toMatchObject([
      { id: run?.id, failedReason: 'database said no' },
    ])
    await runner.close()
    await expect(runner.runDue()).rejects.toThrow('closed')
    await expect(handle.schedule({ every: MINUTE })).rejects.toThrow('closed')
  })
})

describe.each([
  {
    mode: 'bullmq',
    create: () =>
      createBullmqRunner({
        redis,
        prefix: freshPrefix('schedule-invalid'),
        settings,
        logger: silentLogger,
      }),
  },
  { mode: 'in-process', create: () => createInProcessRunner({ settings, logger: silentLogger }) },
])('$mode runner refuses a bad schedule when it is made', ({ create }) => {
  it('names the job and the problem', async () => {
    const runner = create()
    const handle = runner.define({
      name: 'test.strict',
      schema: z.object({ days: z.number() }),
      handler: async () => {},
    })
    const valid = { days: 1 }
    const refusals: Array<[unknown, unknown, unknown, RegExp]> = [
      [{ every: 0 }, valid, undefined, /"test\.strict".*"every" must be a positive integer/],
      [{ every: 1.5 }, valid, undefined, /positive integer/],
      [{ every: 10, cron: '* * * * *' }, valid, undefined, /"every" or "cron", not both/],
      [{}, valid, undefined, /needs "every" \(milliseconds\) or "cron"/],
      [{ cron: '61 * * * *' }, valid, undefined, /cron "61 \* \* \* \*" is not valid/],
      [{ cron: '0 3 * * *', tz: 'Mars/Olympus' }, valid, undefined, /IANA time zone/],
      [{ every: 1_000 }, valid, { key: 'tenant:42' }, /schedule key "tenant:42"/],
    ]
    for (const [when, payload, options, message] of refusals) {
      await expect(
        handle.schedule(when as never, payload as never, options as never),
      ).rejects.toThrow(message)
    }
    await expect(
      handle.schedule({ every: 1_000 }, { days: 'one' } as never),
    ).rejects.toBeInstanceOf(CoreErrors.InvalidJobPayload)
    await expect(runner.unschedule('test.unknown')).rejects.toThrow('is not defined')
    expect(await runner.schedules()).toEqual([])
    await runner.close()
  })
})
