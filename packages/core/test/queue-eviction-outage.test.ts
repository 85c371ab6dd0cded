import { startTcpProxy, type TcpProxy, waitFor } from '@acme/test-kit'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { z } from 'zod'
import { createBullmqRunner } from '../src/jobs/bullmq-runner.js'
import { createCapturingLogger } from './support/capture-logger.js'
import { TEST_REDIS_URL, uniquePrefix } from './support/env.js'

const target = new URL(TEST_REDIS_URL)
const prefix = uniquePrefix('eviction-outage')
let proxy: TcpProxy

beforeAll(async () => {
  proxy = await startTcpProxy(target.hostname, Number(target.port || 6379))
})

afterAll(async () => {
  await proxy.close()
  const cleanup = new Redis(TEST_REDIS_URL)
  const keys = await cleanup.keys(`${prefix}*`)
  if (keys.length > 0) await cleanup.del(...keys)
  await cleanup.quit()
})

it('does not hold startup while Redis is down; checks the policy and starts the workers when it answers', async () => {
  await proxy.cut()
  const logger = createCapturingLogger()
  const redis = new Redis(proxy.url(TEST_REDIS_URL), {
    maxRetriesPerRequest: 2,
    retryStrategy: (attempt) => Math.min(attempt * 200, 1_000),
  })
  redis.on('error', () => {})
  const runner = createBullmqRunner({
    redis,
    prefix,
    settings: { concurrency: 1, attempts: 1, backoffMs: 10, keepFailed: 10 },
    logger,
  })
  const runs: number[] = []
  const handle = runner.define({
    name: 'test.after-outage',
    schema: z.object({ n: z.number() }),
    handler: async ({ n }) => {
      runs.push(n)
    },
  })

  const started = Date.now()
  await runner.ready()
  // Bounded (3 s): a Redis outage does not keep the app from starting.
  expect(Date.now() - started).toBeLessThan(5_000)
  expect(logger.lines).toContainEqual(
    expect.objectContaining({ level: 'warn', message: expect.stringContaining('did not answer') }),
  )

  await proxy.restore()
  await handle.enqueue({ n: 1 })
  await waitFor(() => expect(runs).toEqual([1]), { timeoutMs: 10_000 })
  await runner.check()
  await runner.close()
  await redis.quit()
}, 30_000)
