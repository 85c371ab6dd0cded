import { manualClock, startTcpProxy, type TcpProxy, timeUntil, waitFor } from '@acme/test-kit'
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '@acme/test-support'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PrismaClient } from '../src/generated/prisma/client.js'
import type { FlagsOptions } from '../src/index.js'
import { as, createFlagsApp, type FlagsTestApp, tenantOf } from './support/app.js'

const options: FlagsOptions = {
  flags: [{ key: 'checkout', type: 'string', defaultValue: 'v1' }],
  pollSeconds: 0,
}
const probeRoute = (app: FlagsTestApp['app']) => {
  app.get(
    '/probe',
    { config: { auth: 'required', tenant: 'required', permission: false } },
    async (request) => request.flags.evaluate('checkout'),
  )
}

let first: FlagsTestApp
let tenant: { tenantId: string; owner: { userId: string; token: string } }
const opened: Array<{ close(): Promise<void> }> = []

beforeAll(async () => {
  first = await createFlagsApp(options, { label: 'flagsmulti', routes: probeRoute })
  tenant = await tenantOf(first, 'multi')
})
afterAll(async () => {
  for (const item of opened.reverse()) await item.close()
  await first?.close()
})

/** Another instance of the same deployment: same database, same Redis prefix. */
async function another(extra: FlagsOptions = {}, core: Parameters<typeof createFlagsApp>[1] = {}) {
  const instance = await createFlagsApp(
    { ...options, ...extra },
    {
      label: 'flagsmulti',
      database: first.db,
      redisPrefix: first.redisPrefix ?? '',
      routes: probeRoute,
      ...core,
    },
  )
  opened.push(instance)
  return instance
}

async function proxy(url: string): Promise<TcpProxy> {
  const target = new URL(url)
  const started = await startTcpProxy(target.hostname, Number(target.port))
  opened.push(started)
  return started
}

const served = async (instance: FlagsTestApp) => {
  const response = await instance.app.inject({
    method: 'GET',
    url: '/probe',
    headers: as(tenant.owner, tenant.tenantId),
  })
  expect(response.statusCode, response.body).toBe(200)
  return response.json<{ value: string; reason: string; version: number }>()
}

/** In memory, no request: what an instance serves while its Redis is cut (auth needs Redis). */
const evaluated = (instance: FlagsTestApp) =>
  instance.app.flags.evaluate('checkout', { tenantId: tenant.tenantId })

let step = 0
/** A new value of checkout for the tenant, set on the first instance. */
async function change(): Promise<string> {
  const value = `v${++step + 1}`
  await first.app.flags.admin.setOverride({ userId: null }, 'checkout', tenant.tenantId, value)
  expect((await served(first)).value).toBe(value)
  return value
}

describe('two instances on one Redis', () => {
  it('a change on one is served by the other within 1 s', async () => {
    const second = await another()
    for (let round = 0; round < 3; round++) {
      const value = await change()
      const elapsed = await timeUntil(() => evaluated(second).value === value, { timeoutMs: 5_000 })
      expect((await served(second)).value).toBe(value)
      expect(elapsed).toBeLessThan(1_000)
    }
    expect(second.app.flags.status()).toMatchObject({
      state: 'ready',
      version: first.app.flags.status().version,
    })
  })

  it('ignores an announcement older than what it serves, and is not held back by one the database never had', async () => {
    const second = await another()
    const redis = new Redis(TEST_REDIS_URL)
    opened.push({ close: async () => void (await redis.quit()) })
    const channel = `${first.redisPrefix}flags:versions`
    const current = second.app.flags.status().version
    await redis.publish(
      channel,
      JSON.stringify({ origin: 'elsewhere', message: { environment: 'production', version: 1 } }),
    )
    await redis.publish(
      channel,
      JSON.stringify({
        origin: 'elsewhere',
        message: { environment: 'production', version: current + 1000 },
      }),
    )
    await waitFor(() =>
      second.logs.some((line) =>
        String(line.msg).includes('an announced version is not in the database'),
      ),
    )
    expect(second.app.flags.status()).toMatchObject({
      state: 'ready',
      version: current,
      knownVersion: current,
    })
    // And it still follows real changes.
    const value = await change()
    await waitFor(async () => (await served(second)).value === value, { timeoutMs: 5_000 })
  })
})

describe('an instance cut from Redis', () => {
  it('turns STALE after the max age (reason, status, readiness), then recovers with what it missed', async () => {
    const redisProxy = await proxy(TEST_REDIS_URL)
    const clock = manualClock()
    const second = await another(
      { maxStaleSeconds: 2, clock: clock.now },
      { core: { redis: redisProxy.url(TEST_REDIS_URL), redisKeyPrefix: first.redisPrefix ?? '' } },
    )
    await change()
    const before = await waitFor(async () => {
      const now = await served(second)
      return now.value === evaluated(first).value && now
    })

    await redisProxy.cut()
    await waitFor(() => second.app.flags.status().listening === false, { timeoutMs: 10_000 })
    const missed = await change()
    // Within the max age: the last known values, not yet reported stale.
    expect(evaluated(second)).toMatchObject({ value: before.value, reason: 'OVERRIDE' })
    expect(second.app.flags.status().state).toBe('ready')

    clock.advance(2_001)
    await waitFor(() => second.app.flags.status().state === 'stale', { timeoutMs: 10_000 })
    expect(evaluated(second)).toMatchObject({
      value: before.value,
      reason: 'STALE',
      matched: 'OVERRIDE',
    })
    const ready = await second.app.inject({ method: 'GET', url: '/health/ready' })
    expect(ready.statusCode).toBe(503)
    expect(ready.json().checks.flags).toMatchObject({ status: 'down' })
    expect(second.rawLogs()).toContain('flags: STALE')

    await redisProxy.restore()
    await waitFor(() => evaluated(second).value === missed, { timeoutMs: 20_000 })
    await waitFor(() => second.app.flags.status().state === 'ready', { timeoutMs: 10_000 })
    expect(await served(second)).toMatchObject({ value: missed, reason: 'OVERRIDE' })
  })

  it('with polling, keeps current from the database; cut from both, turns STALE; back, recovers', async () => {
    const redisProxy = await proxy(TEST_REDIS_URL)
    const owner = new URL(first.db.app.url)
    const databaseProxy = await proxy(TEST_DATABASE_URL)
    owner.port = String(databaseProxy.port)
    owner.hostname = '127.0.0.1'
    const clock = manualClock()
    const second = await another(
      { maxStaleSeconds: 2, pollSeconds: 0.2, clock: clock.now },
      {
        core: {
          redis: redisProxy.url(TEST_REDIS_URL),
          redisKeyPrefix: first.redisPrefix ?? '',
          database: { url: owner.toString(), PrismaClient, poolSize: 2 },
        },
      },
    )
    await redisProxy.cut()
    await waitFor(() => second.app.flags.status().listening === false, { timeoutMs: 10_000 })
    const polled = await change()
    await waitFor(() => evaluated(second).value === polled, {
      timeoutMs: 10_000,
    })
    clock.advance(5_000)
    // Polls keep confirming: past the max age, still current.
    await waitFor(
      () => second.app.flags.status().confirmedAt?.getTime() === clock.now().getTime(),
      {
        timeoutMs: 10_000,
      },
    )
    expect(second.app.flags.status().state).toBe('ready')

    await databaseProxy.cut()
    clock.advance(2_001)
    await waitFor(() => second.app.flags.status().state === 'stale', { timeoutMs: 10_000 })
    expect(evaluated(second).reason).toBe('STALE')

    const missed = await change()
    await databaseProxy.restore()
    await redisProxy.restore()
    await waitFor(() => evaluated(second).value === missed, {
      timeoutMs: 20_000,
    })
    await waitFor(() => second.app.flags.status().state === 'ready', { timeoutMs: 10_000 })
  })
})
