import { startTcpProxy, type TcpProxy } from '@acme/test-kit'
import { PrismaPg } from '@prisma/adapter-pg'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PrismaClient } from './generated/prisma/client.js'
import { buildTestApp, type TestApp } from './support/app.js'
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniquePrefix } from './support/env.js'

const redisTarget = new URL(TEST_REDIS_URL)
const databaseTarget = new URL(TEST_DATABASE_URL)
const prefix = uniquePrefix('health')

let t: TestApp
let redisProxy: TcpProxy
let databaseProxy: TcpProxy

async function readiness() {
  const response = await t.app.inject({ method: 'GET', url: '/health/ready' })
  return { status: response.statusCode, body: response.json() }
}

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000
  let last = await probe()
  while (!accept(last) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    last = await probe()
  }
  return last
}

beforeAll(async () => {
  redisProxy = await startTcpProxy(redisTarget.hostname, Number(redisTarget.port || 6379))
  databaseProxy = await startTcpProxy(databaseTarget.hostname, Number(databaseTarget.port || 5432))
  const databaseUrl = new URL(TEST_DATABASE_URL)
  databaseUrl.port = String(databaseProxy.port)
  t = await buildTestApp(
    {
      database: { url: databaseUrl.toString(), PrismaClient, poolSize: 2 },
      redis: `redis://127.0.0.1:${redisProxy.port}`,
      redisKeyPrefix: prefix,
      // The database check opens a fresh connection: on a loaded CI machine that can take 500 ms.
      health: { timeoutMs: 2_000 },
    },
    (app) => {
      app.health.register('slow-partner', () => new Promise(() => {}), { timeoutMs: 50 })
    },
  )
})

afterAll(async () => {
  await t.app.close()
  await redisProxy.close()
  await databaseProxy.close()
  const redis = new Redis(TEST_REDIS_URL)
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
})

describe('health', () => {
  it('liveness answers 200 without checking anything', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/health/live' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ok' })
  })

  it('readiness lists every check with its latency, and a hanging check times out', async () => {
    const { status, body } = await eventually(
      readiness,
      (r) =>
        r.body.checks.database?.status === 'up' &&
        r.body.checks.redis?.status === 'up' &&
        r.body.checks.queue?.status === 'up',
    )
    expect(status).toBe(503)
    expect(Object.keys(body.checks).sort()).toEqual(['database', 'queue', 'redis', 'slow-partner'])
    expect(body.checks.database).toEqual({ status: 'up', latencyMs: expect.any(Number) })
    expect(body.checks.redis.status).toBe('up')
    expect(body.checks.queue.status).toBe('up')
    expect(body.checks['slow-partner']).toMatchObject({ status: 'down', error: 'timeout' })
  })
})

describe('readiness during outages (slow-partner removed)', () => {
  let healthy: TestApp
  beforeAll(async () => {
    const databaseUrl = new URL(TEST_DATABASE_URL)
    databaseUrl.port = String(databaseProxy.port)
    const prisma = new PrismaClient({
      adapter: new PrismaPg({ connectionString: databaseUrl.toString(), max: 2 }),
    })
    healthy = await buildTestApp({
      prisma,
      redis: `redis://127.0.0.1:${redisProxy.port}`,
      redisKeyPrefix: prefix,
      health: { timeoutMs: 1_000 },
    })
    t = healthy
  })
  afterAll(async () => {
    await healthy.app.close()
  })

  it('is 200 while the database and Redis answer', async () => {
    const { status, body } = await eventually(readiness, (r) => r.status === 200)
    expect(status).toBe(200)
    expect(body.status).toBe('ok')
  })

  it('turns 503 when Redis is unreachable and recovers without a restart', async () => {
    await redisProxy.cut()
    const down = await eventually(readiness, (r) => r.status === 503)
    expect(down.status).toBe(503)
    expect(down.body.checks.redis.status).toBe('down')
    expect(down.body.checks.database.status).toBe('up')
    expect(JSON.stringify(down.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|redis:\/\//)
    await redisProxy.restore()
    const up = await eventually(readiness, (r) => r.status === 200)
    expect(up.status).toBe(200)
  })

  it('turns 503 when the database is unreachable and recovers without a restart', async () => {
    await databaseProxy.cut()
    const down = await eventually(readiness, (r) => r.status === 503)
    expect(down.status).toBe(503)
    expect(down.body.checks.database.status).toBe('down')
    expect(JSON.stringify(down.body)).not.toMatch(/ECONNREFUSED|postgres/)
    await databaseProxy.restore()
    const up = await eventually(readiness, (r) => r.status === 200)
    expect(up.status).toBe(200)
  })
})
