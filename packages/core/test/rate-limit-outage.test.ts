import { startTcpProxy, type TcpProxy, waitFor } from '@acme/test-kit'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from './support/app.js'
import { TEST_REDIS_URL, uniquePrefix } from './support/env.js'

const target = new URL(TEST_REDIS_URL)
const prefix = uniquePrefix('limit-outage')
let proxy: TcpProxy
let t: TestApp
const redis = new Redis(TEST_REDIS_URL)

const ping = (remoteAddress: string) => t.app.inject({ url: '/ping', remoteAddress })
const countedInRedis = async () => (await redis.keys(`${prefix}rate-limit:*`)).length

beforeAll(async () => {
  proxy = await startTcpProxy(target.hostname, Number(target.port || 6379))
  t = await buildTestApp(
    { redis: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix, rateLimit: { max: 3 } },
    (app) => {
      app.get('/ping', async () => ({ ok: true }))
    },
  )
  await waitFor(() => t.app.redis?.status === 'ready')
})

afterAll(async () => {
  await t.app.close()
  await proxy.close()
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
})

describe('the global rate limit through a Redis outage', () => {
  it('keeps answering, still limiting each client, while Redis is unreachable', async () => {
    expect((await ping('198.51.100.20')).statusCode).toBe(200)
    expect(await countedInRedis()).toBe(1)

    await proxy.cut()
    await waitFor(() => t.app.redis?.status !== 'ready')
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) {
      const response = await ping('198.51.100.21')
      statuses.push(response.statusCode)
      expect(response.headers['ratelimit-limit']).toBe('3')
    }
    expect(statuses).toEqual([200, 200, 200, 429])
    const other = await ping('198.51.100.22')
    expect(other.statusCode).toBe(200)
    expect(other.headers['ratelimit-remaining']).toBe('2')
    const warnings = t.logs.filter((line) => String(line.msg).includes('Redis is unreachable'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]?.level).toBe(40)
  })

  it('counts in Redis again once it is back, without a restart', async () => {
    await proxy.restore()
    await waitFor(() => t.app.redis?.status === 'ready')
    const before = await countedInRedis()
    const response = await ping('198.51.100.23')
    expect(response.statusCode).toBe(200)
    expect(response.headers['ratelimit-remaining']).toBe('2')
    expect(await countedInRedis()).toBe(before + 1)
  })
})
