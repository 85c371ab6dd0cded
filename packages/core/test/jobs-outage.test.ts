import { sleep, startTcpProxy, type TcpProxy, waitFor } from '@acme/test-kit'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { CoreErrors } from '../src/errors.js'
import { createBullmqRunner } from '../src/jobs/bullmq-runner.js'
import { silentLogger } from '../src/logger.js'
import { TEST_REDIS_URL, uniquePrefix } from './support/env.js'

const target = new URL(TEST_REDIS_URL)
const prefix = uniquePrefix('jobs-outage')
let proxy: TcpProxy
let redis: Redis

beforeAll(async () => {
  proxy = await startTcpProxy(target.hostname, Number(target.port || 6379))
  redis = new Redis(`redis://127.0.0.1:${proxy.port}`, { maxRetriesPerRequest: 2 })
  redis.on('error', () => {})
})

afterAll(async () => {
  redis.disconnect()
  await proxy.close()
  const cleanup = new Redis(TEST_REDIS_URL)
  const keys = await cleanup.keys(`${prefix}*`)
  if (keys.length > 0) await cleanup.del(...keys)
  await cleanup.quit()
})

describe('BullMQ runner during a Redis outage', () => {
  it('refuses an enqueue with a 503 error within the deadline instead of hanging', async () => {
    const runner = createBullmqRunner({
      redis,
      prefix,
      settings: { concurrency: 1, attempts: 1, backoffMs: 10, keepFailed: 10 },
      logger: silentLogger,
    })
    const handle = runner.define({
      name: 'test.outage',
      schema: z.object({ n: z.number() }),
      handler: async () => {},
    })
    await expect(handle.enqueue({ n: 1 })).resolves.toMatchObject({ id: expect.any(String) })

    await proxy.cut()
    const started = Date.now()
    await expect(handle.enqueue({ n: 2 })).rejects.toBeInstanceOf(CoreErrors.DependencyUnavailable)
    expect(Date.now() - started).toBeLessThan(7_000)

    await proxy.restore()
    await expect(handle.enqueue({ n: 3 })).resolves.toMatchObject({ id: expect.any(String) })
    await runner.close()
  })
})

describe.each([
  { redisAtClose: 'back', restoreBeforeClose: true },
  { redisAtClose: 'still down', restoreBeforeClose: false },
])(
  'BullMQ runner close() while its connections reconnect (Redis $redisAtClose)',
  ({ restoreBeforeClose }) => {
    const settings = { concurrency: 1, attempts: 1, backoffMs: 10, keepFailed: 10 }
    const name = `test.close-outage-${restoreBeforeClose ? 'back' : 'down'}`
    const runs: number[] = []
    const definition = {
      name,
      schema: z.object({ n: z.number() }),
      handler: async ({ n }: { n: number }) => {
        runs.push(n)
      },
    }

    it('finishes within 10 s and keeps the jobs waiting in Redis for the next runner', async () => {
      const runner = createBullmqRunner({ redis, prefix, settings, logger: silentLogger })
      const handle = runner.define(definition)
      await waitFor(() => runner.check())
      // Not due before the runner closes: only the next runner may start it (the test promotes it).
      const { id } = await handle.enqueue({ n: 1 }, { delayMs: 60_000 })

      await proxy.cut()
      // Long enough for every connection to notice and start reconnecting.
      await sleep(1_500)
      if (restoreBeforeClose) await proxy.restore()
      const started = Date.now()
      const outcome = await Promise.race([
        runner.close().then(() => 'closed'),
        sleep(15_000).then(() => 'still closing after 15 s'),
      ])
      expect(outcome).toBe('closed')
      expect(Date.now() - started).toBeLessThan(10_000)
      if (!restoreBeforeClose) await proxy.restore()
      expect(runs).toEqual([])

      const direct = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 2 })
      const queue = new Queue(name, { connection: direct, prefix: prefix.replace(/:+$/, '') })
      const job = await queue.getJob(id)
      expect(await job?.getState()).toBe('delayed')
      await job?.promote()
      const next = createBullmqRunner({ redis: direct, prefix, settings, logger: silentLogger })
      next.define(definition)
      await waitFor(() => expect(runs).toEqual([1]), { timeoutMs: 10_000 })
      await next.close()
      await queue.close()
      await direct.quit()
    }, 60_000)
  },
)
