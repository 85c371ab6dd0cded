import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, manualClock, sleep, startTcpProxy, waitFor } from '@acme/test-kit'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type CounterStore,
  CounterTimeoutError,
  createCounterStore,
  type GcraDecision,
  type GcraLimit,
} from '../src/index.js'
import { buildTestApp } from './support/app.js'
import { TEST_REDIS_URL, uniquePrefix } from './support/env.js'

/** A realistic epoch, so the GCRA's microsecond arithmetic runs on production magnitudes. */
const START = Date.UTC(2030, 0, 1)
const MINUTE = 60_000
/** Every key of this file carries one hash tag, as a caller on Redis Cluster would choose. */
const prefix = `${uniquePrefix('counters')}{limits}:`

const redis = new Redis(TEST_REDIS_URL)

/** Real redis-servers of this file (a cluster node, a server to pause), stopped after it. */
const servers: Array<{ stop(): Promise<void> }> = []

async function startRedisServer(...settings: string[]): Promise<{ port: number; url: string }> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'acme-counters-'))
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'].concat(
      '--dir',
      dir,
      ...settings,
    ),
    { stdio: 'ignore' },
  )
  const exited = once(child, 'exit')
  servers.push({
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL')
      await exited
      await rm(dir, { recursive: true, force: true })
    },
  })
  const url = `redis://127.0.0.1:${port}`
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: null })
  probe.on('error', () => {})
  try {
    await waitFor(
      async () => {
        if (probe.status !== 'ready') await probe.connect().catch(() => undefined)
        return (await probe.ping()) === 'PONG'
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    )
  } finally {
    probe.disconnect()
  }
  return { port, url }
}

/** A one-node Redis Cluster holding every slot: CROSSSLOT is enforced as on a real cluster. */
async function startCluster(): Promise<Cluster> {
  const { port, url } = await startRedisServer(
    '--cluster-enabled',
    'yes',
    // A lone node otherwise announces an empty address, which a cluster client cannot reach.
    '--cluster-announce-ip',
    '127.0.0.1',
    '--cluster-config-file',
    'nodes.conf',
  )
  const admin = new Redis(url)
  try {
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383')
    await waitFor(async () => String(await admin.call('CLUSTER', 'INFO')).includes('state:ok'), {
      timeoutMs: 15_000,
      intervalMs: 100,
    })
  } finally {
    await admin.quit()
  }
  const cluster = new Cluster([{ host: '127.0.0.1', port }])
  servers.push({ stop: async () => cluster.disconnect() })
  return cluster
}

let cluster: Cluster

beforeAll(async () => {
  cluster = await startCluster()
})

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
  for (const server of servers.reverse()) await server.stop()
})

interface Implementation {
  name: string
  make(clock: () => Date): CounterStore
  /** Reads a key as Redis holds it; undefined for the memory store. */
  raw?: () => Redis | Cluster
  /**
   * Fixed windows in Redis are the key's TTL, on Redis's clock: to close one, real time passes.
   * GCRA follows the injected clock everywhere.
   */
  windowsOnServerTime: boolean
}

const implementations: Implementation[] = [
  {
    name: 'memory',
    make: (clock) => createCounterStore({ redis: null, clock, prefix }),
    windowsOnServerTime: false,
  },
  {
    name: 'redis',
    make: (clock) => createCounterStore({ redis, clock, prefix }),
    raw: () => redis,
    windowsOnServerTime: true,
  },
  {
    name: 'redis cluster',
    make: (clock) => createCounterStore({ redis: cluster, clock, prefix }),
    raw: () => cluster,
    windowsOnServerTime: true,
  },
]

let subjects = 0
const freshKey = (label: string) => `${label}-${++subjects}`

const allowedCount = (decisions: readonly GcraDecision[]) =>
  decisions.filter((decision) => decision.allowed).length

describe.each(implementations)('CounterStore ($name)', (implementation) => {
  function setup() {
    const time = manualClock(new Date(START))
    const store = implementation.make(time.now)
    return {
      store,
      time,
      /** Lets `ms` pass for windows: the clock moves, and Redis's too when windows live there. */
      async elapse(ms: number) {
        time.advance(ms)
        if (implementation.windowsOnServerTime) await sleep(ms)
      },
    }
  }

  async function many(store: CounterStore, key: string, count: number, limit: GcraLimit) {
    const decisions: GcraDecision[] = []
    for (let request = 0; request < count; request++) {
      decisions.push(await store.gcra(key, limit))
    }
    return decisions
  }

  describe('fixed window', () => {
    it('counts hits and says when the window closes', async () => {
      const { store } = setup()
      const key = freshKey('window')
      const hits = [await store.hit(key, MINUTE), await store.hit(key, MINUTE)]
      expect(hits.map((hit) => hit.count)).toEqual([1, 2])
      for (const hit of hits) {
        expect(hit.resetMs).toBeGreaterThan(MINUTE - 1_000)
        expect(hit.resetMs).toBeLessThanOrEqual(MINUTE)
      }
      expect((await store.hit(freshKey('window'), MINUTE)).count).toBe(1)
    })

    it('forgets the count when the window closes, not before', async () => {
      const { store, elapse } = setup()
      const key = freshKey('window')
      await store.hit(key, 300)
      await store.hit(key, 300)
      await elapse(100)
      const third = await store.hit(key, 300)
      expect(third.count).toBe(3)
      expect(third.resetMs).toBeLessThanOrEqual(200)
      await elapse(250)
      expect(await store.hit(key, 300)).toMatchObject({ count: 1 })
    })

    it('counts concurrent hits one by one', async () => {
      const { store } = setup()
      const key = freshKey('window')
      const hits = await Promise.all(Array.from({ length: 40 }, () => store.hit(key, MINUTE)))
      expect(hits.map((hit) => hit.count).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 40 }, (_, index) => index + 1),
      )
    })

    it('gives back, never below zero', async () => {
      const { store } = setup()
      const key = freshKey('give-back')
      await store.hit(key, MINUTE)
      await store.hit(key, MINUTE)
      expect(await store.giveBack(key)).toBe(1)
      expect(await store.giveBack(key)).toBe(0)
      expect(await store.giveBack(key)).toBe(0)
      expect((await store.hit(key, MINUTE)).count).toBe(1)
    })

    it('never creates a key by giving back, nor changes its expiry', async () => {
      const { store, elapse } = setup()
      const absent = freshKey('give-back')
      expect(await store.giveBack(absent)).toBe(0)
      const raw = implementation.raw?.()
      if (raw) expect(await raw.exists(prefix + absent)).toBe(0)
      // The next hit opens a whole window, as if nothing had been given back.
      expect(await store.hit(absent, MINUTE)).toMatchObject({ count: 1 })

      const key = freshKey('give-back')
      await store.hit(key, 300)
      await store.hit(key, 300)
      const before = raw ? await raw.pttl(prefix + key) : 0
      await store.giveBack(key)
      if (raw) {
        const after = await raw.pttl(prefix + key)
        expect(after).toBeGreaterThan(0)
        expect(after).toBeLessThanOrEqual(before)
      }
      // After the window: nothing to give back, and nothing left behind without expiry.
      await elapse(350)
      expect(await store.giveBack(key)).toBe(0)
      if (raw) expect(await raw.exists(prefix + key)).toBe(0)
      expect(await store.hit(key, 300)).toMatchObject({ count: 1 })
    })

    // Only the Redis stores have a key to inspect; the memory store has no such state.
    if (implementation.raw) {
      it('gives a counter found without expiry one', async () => {
        const { store } = setup()
        const raw = implementation.raw?.()
        if (!raw) return
        const key = freshKey('restored')
        // As a dump restored without TTLs would leave it.
        await raw.set(prefix + key, '7')
        expect((await store.hit(key, MINUTE)).count).toBe(8)
        const ttl = await raw.pttl(prefix + key)
        expect(ttl).toBeGreaterThan(0)
        expect(ttl).toBeLessThanOrEqual(MINUTE)
        // Still a plain integer: readable by GET.
        expect(await raw.get(prefix + key)).toBe('8')
      })
    }
  })

  describe('attempt counter', () => {
    it('counts attempts and forgets them the TTL after the first', async () => {
      const { store, elapse } = setup()
      const key = freshKey('attempts')
      expect(await store.attempt(key, 300)).toBe(1)
      await elapse(150)
      expect(await store.attempt(key, 300)).toBe(2)
      // Measured from the first attempt, not extended by the second.
      await elapse(200)
      expect(await store.attempt(key, 300)).toBe(1)
    })
  })

  describe('lease', () => {
    const slots = { limit: 2, ttlMs: MINUTE }

    it('gives at most `limit` holders a slot, and a released slot to the next', async () => {
      const { store } = setup()
      const key = freshKey('lease')
      expect(await store.lease(key, 'a', slots)).toEqual({ acquired: true, held: 1 })
      expect(await store.lease(key, 'b', slots)).toEqual({ acquired: true, held: 2 })
      expect(await store.lease(key, 'c', slots)).toEqual({ acquired: false, held: 2 })
      expect(await store.release(key, 'a')).toBe(true)
      expect(await store.release(key, 'a')).toBe(false)
      expect(await store.lease(key, 'c', slots)).toEqual({ acquired: true, held: 2 })
    })

    it('holds the limit under concurrent takers', async () => {
      const { store } = setup()
      const key = freshKey('lease')
      const decisions = await Promise.all(
        Array.from({ length: 30 }, (_, n) =>
          store.lease(key, `h${n}`, { limit: 7, ttlMs: MINUTE }),
        ),
      )
      expect(decisions.filter((decision) => decision.acquired)).toHaveLength(7)
    })

    it("frees a dead holder's slot when its lease expires, by the clock; a renewal keeps it", async () => {
      const { store, time } = setup()
      const key = freshKey('lease')
      await store.lease(key, 'dies', slots)
      await store.lease(key, 'lives', slots)
      time.advance(MINUTE - 1)
      // Renewed: a new ttl from now, even with every slot taken.
      expect(await store.lease(key, 'lives', slots)).toEqual({ acquired: true, held: 2 })
      expect(await store.lease(key, 'new', slots)).toMatchObject({ acquired: false })
      time.advance(1)
      expect(await store.lease(key, 'new', slots)).toEqual({ acquired: true, held: 2 })
      // `lives` renewed at MINUTE - 1: its slot lasts to 2 × MINUTE - 1.
      time.advance(MINUTE - 2)
      expect(await store.lease(key, 'other', slots)).toMatchObject({ acquired: false })
    })

    it('refuses a limit or holder it would misread', async () => {
      const { store } = setup()
      await expect(store.lease('x', '', slots)).rejects.toThrow(RangeError)
      await expect(store.lease('x', 'a', { limit: 0, ttlMs: 1 })).rejects.toThrow(RangeError)
      await expect(store.lease('x', 'a', { limit: 1, ttlMs: 0.5 })).rejects.toThrow(RangeError)
    })

    if (implementation.raw) {
      it('leaves a key that expires after its latest lease', async () => {
        const { store } = setup()
        const raw = implementation.raw?.()
        if (!raw) return
        const key = freshKey('lease')
        await store.lease(key, 'a', { limit: 3, ttlMs: 500 })
        const ttl = await raw.pttl(prefix + key)
        expect(ttl).toBeGreaterThan(0)
        expect(ttl).toBeLessThanOrEqual(500)
        await store.lease(key, 'b', slots)
        expect(await raw.pttl(prefix + key)).toBeGreaterThan(500)
        await store.reset(key)
        expect(await raw.exists(prefix + key)).toBe(0)
      })
    }
  })

  describe('GCRA', () => {
    const perMinute: GcraLimit = { limit: 100, periodMs: MINUTE }

    it('lets a full burst through at once, then one more per interval', async () => {
      const { store, time } = setup()
      const key = freshKey('gcra')
      expect(allowedCount(await many(store, key, 100, perMinute))).toBe(100)
      // 100 per minute is one request per 600 ms: the 101st waits exactly that.
      expect(await store.gcra(key, perMinute)).toEqual({
        allowed: false,
        remaining: 0,
        resetMs: MINUTE,
        retryAfterMs: 600,
      })
      time.set(new Date(START + 599))
      expect(await store.gcra(key, perMinute)).toMatchObject({ allowed: false, retryAfterMs: 1 })
      time.set(new Date(START + 600))
      expect(await store.gcra(key, perMinute)).toEqual({
        allowed: true,
        remaining: 0,
        resetMs: MINUTE,
        retryAfterMs: 0,
      })
      expect((await store.gcra(key, perMinute)).allowed).toBe(false)
    })

    it('gives a sustained overload exactly the burst plus the smooth rate', async () => {
      const { store, time } = setup()
      const key = freshKey('gcra')
      const decisions: GcraDecision[] = []
      for (let request = 0; request < 300; request++) {
        time.set(new Date(START + request * 200))
        decisions.push(await store.gcra(key, perMinute))
      }
      // Request n (at 200n ms) passes while 600n <= 200n + 59 400: n <= 148, then one in three.
      expect(decisions.findIndex((decision) => !decision.allowed)).toBe(149)
      expect(allowedCount(decisions)).toBe(199)
      const afterBurst = decisions
        .map((decision, request) => (decision.allowed ? request : -1))
        .filter((request) => request >= 149)
      expect(afterBurst).toEqual(Array.from({ length: 50 }, (_, step) => 150 + step * 3))
    })

    it('says exactly when to retry, in integer microseconds', async () => {
      const { store, time } = setup()
      const key = freshKey('gcra')
      // 3 per second: an interval of ⌈333 333.3⌉ = 333 334 µs, no burst beyond one.
      const limit: GcraLimit = { limit: 3, periodMs: 1_000, burst: 1 }
      expect(await store.gcra(key, limit)).toEqual({
        allowed: true,
        remaining: 0,
        resetMs: 333.334,
        retryAfterMs: 0,
      })
      time.set(new Date(START + 333))
      expect(await store.gcra(key, limit)).toEqual({
        allowed: false,
        remaining: 0,
        resetMs: 0.334,
        retryAfterMs: 0.334,
      })
      time.set(new Date(START + 334))
      expect(await store.gcra(key, limit)).toMatchObject({ allowed: true, resetMs: 333.334 })

      const slow = freshKey('gcra')
      const oneEverySixSeconds: GcraLimit = { limit: 10, periodMs: MINUTE, burst: 1 }
      time.set(new Date(START))
      await store.gcra(slow, oneEverySixSeconds)
      time.set(new Date(START + 1_500))
      expect(await store.gcra(slow, oneEverySixSeconds)).toEqual({
        allowed: false,
        remaining: 0,
        resetMs: 4_500,
        retryAfterMs: 4_500,
      })
    })

    it('does not let refused requests extend the wait', async () => {
      const { store, time } = setup()
      const key = freshKey('gcra')
      const limit: GcraLimit = { limit: 10, periodMs: 10_000, burst: 2 }
      expect(allowedCount(await many(store, key, 2, limit))).toBe(2)
      const pttl = async () => (await implementation.raw?.().pttl(prefix + key)) ?? 0
      const ttlBefore = await pttl()
      for (let step = 0; step < 50; step++) {
        time.set(new Date(START + step * 10))
        const refused = await store.gcra(key, limit)
        expect(refused).toMatchObject({ allowed: false, retryAfterMs: 1_000 - step * 10 })
      }
      // Refusals write nothing: not even the key's expiry moves.
      expect(await pttl()).toBeLessThanOrEqual(ttlBefore)
      time.set(new Date(START + 1_000))
      expect((await store.gcra(key, limit)).allowed).toBe(true)
    })

    it('refills only up to the burst, however long the key was idle', async () => {
      const { store, time } = setup()
      const key = freshKey('gcra')
      await store.gcra(key, perMinute)
      time.set(new Date(START + 10 * MINUTE))
      expect(allowedCount(await many(store, key, 150, perMinute))).toBe(100)
    })

    it('lets no more than the burst through concurrently', async () => {
      const { store } = setup()
      const key = freshKey('gcra')
      const limit: GcraLimit = { limit: 100, periodMs: MINUTE, burst: 5 }
      const decisions = await Promise.all(Array.from({ length: 40 }, () => store.gcra(key, limit)))
      expect(allowedCount(decisions)).toBe(5)
    })

    // Only the Redis stores have a key to inspect; the memory store has no such state.
    if (implementation.raw) {
      it('lets its key expire when the TAT is reached', async () => {
        const { store } = setup()
        const raw = implementation.raw?.()
        if (!raw) return
        const key = freshKey('gcra')
        await store.gcra(key, perMinute)
        const afterOne = await raw.pttl(prefix + key)
        expect(afterOne).toBeGreaterThan(0)
        expect(afterOne).toBeLessThanOrEqual(600)
      })
    }
  })

  it('forgets a key on reset', async () => {
    const { store } = setup()
    const window = freshKey('reset')
    await store.hit(window, MINUTE)
    await store.hit(window, MINUTE)
    await store.reset(window)
    expect((await store.hit(window, MINUTE)).count).toBe(1)
    const bucket = freshKey('reset')
    const limit: GcraLimit = { limit: 1, periodMs: MINUTE }
    await store.gcra(bucket, limit)
    expect((await store.gcra(bucket, limit)).allowed).toBe(false)
    await store.reset(bucket)
    expect((await store.gcra(bucket, limit)).allowed).toBe(true)
  })

  it('refuses limits and windows that cannot be enforced', async () => {
    const { store } = setup()
    const key = freshKey('invalid')
    for (const limit of [
      { limit: 0, periodMs: MINUTE },
      { limit: 1.5, periodMs: MINUTE },
      { limit: 10, periodMs: MINUTE, burst: 0 },
      { limit: 10, periodMs: 0 },
      { limit: 10, periodMs: Number.NaN },
    ]) {
      await expect(store.gcra(key, limit)).rejects.toThrow(RangeError)
    }
    await expect(store.hit(key, 0)).rejects.toThrow(RangeError)
    await expect(store.hit(key, 1.5)).rejects.toThrow(RangeError)
    await expect(store.attempt(key, -1)).rejects.toThrow(RangeError)
  })
})

describe('the Redis store', () => {
  it('runs its scripts again after Redis has forgotten them (NOSCRIPT)', async () => {
    const store = createCounterStore({ redis, prefix })
    const key = freshKey('noscript')
    await store.hit(key, MINUTE)
    await redis.script('FLUSH')
    expect((await store.hit(key, MINUTE)).count).toBe(2)
    await redis.script('FLUSH')
    expect((await store.gcra(key, { limit: 5, periodMs: MINUTE })).allowed).toBe(true)
  })

  it('rejects when Redis cannot be reached, rather than deciding', async () => {
    const unreachable = new Redis(TEST_REDIS_URL, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    })
    const store = createCounterStore({ redis: unreachable, prefix })
    try {
      await expect(store.hit('offline', MINUTE)).rejects.toThrow()
      await expect(store.giveBack('offline')).rejects.toThrow()
      await expect(store.gcra('offline', { limit: 1, periodMs: MINUTE })).rejects.toThrow()
    } finally {
      unreachable.disconnect()
    }
  })

  it('runs on Redis Cluster, where keys one command touches must share a hash tag', async () => {
    const store = createCounterStore({ redis: cluster, prefix })
    const key = freshKey('tagged')
    await store.hit(key, MINUTE)
    expect(await cluster.get(prefix + key)).toBe('1')
    // What the tag buys a caller that combines counter keys in one command.
    const other = freshKey('tagged')
    await store.hit(other, MINUTE)
    expect(await cluster.eval('return #KEYS', 2, prefix + key, prefix + other)).toBe(2)
    await expect(
      cluster.eval('return #KEYS', 2, `${uniquePrefix('a')}x`, `${uniquePrefix('b')}y`),
    ).rejects.toThrow(/CROSSSLOT/)
  })
})

describe('timeout', () => {
  const PAUSE_MS = 1_500

  it('rejects a call Redis does not answer in time, with a 503-class error', async () => {
    const server = await startRedisServer()
    const paused = new Redis(server.url, { maxRetriesPerRequest: 1 })
    const admin = new Redis(server.url)
    try {
      const store = createCounterStore({ redis: paused, prefix, timeoutMs: 200 })
      expect((await store.hit('slow', MINUTE)).count).toBe(1)
      await admin.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL')
      const started = Date.now()
      const error = await store.hit('slow', MINUTE).catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(CounterTimeoutError)
      expect(error).toMatchObject({ code: 'ETIMEDOUT' })
      expect(Date.now() - started).toBeLessThan(PAUSE_MS - 500)
      await expect(store.gcra('slow-gcra', { limit: 1, periodMs: MINUTE })).rejects.toThrow(
        CounterTimeoutError,
      )
      await expect(store.reset('slow-reset')).rejects.toThrow(CounterTimeoutError)
      // Once Redis answers again, so does the store; the timed-out hit was not cancelled and
      // counted when the pause ended (the safe direction for a limiter).
      await sleep(PAUSE_MS)
      expect((await store.hit('slow', MINUTE)).count).toBe(3)
    } finally {
      paused.disconnect()
      admin.disconnect()
    }
  })

  it('rejects at once, without waiting for the timeout, while the client is reconnecting', async () => {
    const target = new URL(TEST_REDIS_URL)
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379))
    const client = new Redis(`redis://127.0.0.1:${proxy.port}`, {
      retryStrategy: () => 100,
    })
    try {
      const store = createCounterStore({ redis: client, prefix, timeoutMs: 5_000 })
      expect((await store.hit('reconnecting', MINUTE)).count).toBe(1)
      await proxy.cut()
      await waitFor(() => client.status === 'reconnecting', { timeoutMs: 5_000, intervalMs: 20 })
      const started = Date.now()
      const error = await store.hit('reconnecting', MINUTE).catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(CounterTimeoutError)
      expect(String(error)).toContain('reconnecting')
      expect(Date.now() - started).toBeLessThan(1_000)
      await proxy.restore()
      await waitFor(() => client.status === 'ready', { timeoutMs: 5_000, intervalMs: 20 })
      expect((await store.hit('reconnecting', MINUTE)).count).toBe(2)
    } finally {
      client.disconnect()
      await proxy.close()
    }
  })

  it('answers a route 503 when app.counters times out', async () => {
    const server = await startRedisServer()
    const admin = new Redis(server.url)
    const { app } = await buildTestApp(
      { redis: server.url, counters: { timeoutMs: 200 }, rateLimit: false },
      (instance) => {
        instance.post('/export', async () => {
          const { count } = await instance.counters.hit('exports', MINUTE)
          return { count }
        })
      },
    )
    try {
      expect(app.counters.kind).toBe('redis')
      expect((await app.inject({ method: 'POST', url: '/export' })).json()).toEqual({ count: 1 })
      await admin.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL')
      const response = await app.inject({ method: 'POST', url: '/export' })
      expect(response.statusCode).toBe(503)
      expect(response.json().code).toBe('ACME_CORE_DEPENDENCY_UNAVAILABLE')
      await sleep(PAUSE_MS)
    } finally {
      await app.close()
      admin.disconnect()
    }
  })
})

describe('app.counters', () => {
  it('counts in memory without Redis, on the counters clock', async () => {
    const time = manualClock(new Date(START))
    const { app } = await buildTestApp({ counters: { clock: time.now } })
    try {
      expect(app.counters.kind).toBe('memory')
      const limit: GcraLimit = { limit: 1, periodMs: MINUTE }
      expect((await app.counters.gcra('user:1', limit)).allowed).toBe(true)
      expect(await app.counters.gcra('user:1', limit)).toMatchObject({
        allowed: false,
        retryAfterMs: MINUTE,
      })
      time.advance(MINUTE)
      expect((await app.counters.gcra('user:1', limit)).allowed).toBe(true)
    } finally {
      await app.close()
    }
  })

  it('shares counts through Redis under <redisKeyPrefix>counters:', async () => {
    const redisKeyPrefix = uniquePrefix('app-counters')
    const one = await buildTestApp({ redis: TEST_REDIS_URL, redisKeyPrefix })
    const two = await buildTestApp({ redis: TEST_REDIS_URL, redisKeyPrefix })
    try {
      expect(one.app.counters.kind).toBe('redis')
      await one.app.counters.hit('{user:1}:exports', MINUTE)
      expect((await two.app.counters.hit('{user:1}:exports', MINUTE)).count).toBe(2)
      expect(await redis.get(`${redisKeyPrefix}counters:{user:1}:exports`)).toBe('2')
    } finally {
      await redis.del(`${redisKeyPrefix}counters:{user:1}:exports`)
      await Promise.all([one.app.close(), two.app.close()])
    }
  })
})
