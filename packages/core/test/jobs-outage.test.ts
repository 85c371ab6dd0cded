import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { CoreErrors } from '../src/errors.js'
import { createBullmqRunner } from '../src/jobs/bullmq-runner.js'
import { silentLogger } from '../src/logger.js'
import { TEST_REDIS_URL, uniquePrefix } from './support/env.js'
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js'

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
