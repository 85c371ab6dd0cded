import { type RedisCluster, startRedisCluster, waitFor } from '@acme/test-kit'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { BroadcastChannel } from '../src/index.js'
import { buildTestApp, type TestApp } from './support/app.js'
import { uniquePrefix } from './support/env.js'

/**
 * Core on a real three-master Redis Cluster (Debian's redis-server in cluster mode): two app
 * instances share its broadcast, rate limit, cache and job queue as they do one Redis.
 */
let cluster: RedisCluster
const apps: TestApp[] = []

beforeAll(async () => {
  cluster = await startRedisCluster({ nodes: 3 })
}, 60_000)

afterAll(async () => {
  for (const { app } of apps.splice(0)) await app.close()
  await cluster?.stop()
})

async function instance(prefix: string, declare: (app: FastifyInstance) => void = () => {}) {
  const built = await buildTestApp(
    {
      redis: { cluster: cluster.urls },
      redisKeyPrefix: prefix,
      cache: { store: 'redis' },
      rateLimit: { max: 5, timeWindowMs: 60_000 },
      jobs: { concurrency: 4 },
    },
    (app) => {
      app.get('/ping', async () => ({ ok: true }))
      declare(app)
    },
  )
  apps.push(built)
  return built
}

describe('core on Redis Cluster', () => {
  it('answers ready with the Cluster checked, on every instance', async () => {
    const prefix = uniquePrefix('cluster')
    const [a, b] = [await instance(prefix), await instance(prefix)]
    for (const { app } of [a, b]) {
      const ready = await app.inject({ method: 'GET', url: '/health/ready' })
      expect(ready.statusCode).toBe(200)
      expect(ready.json()).toMatchObject({ status: 'ok', checks: { redis: { status: 'up' } } })
    }
  })

  it('shares the rate limit, the cache and broadcast messages between instances', async () => {
    const prefix = uniquePrefix('cluster')
    const heard: string[] = []
    const note = z.object({ id: z.string() })
    let channel: BroadcastChannel<{ id: string }> | undefined
    const a = await instance(prefix, (app) => {
      channel = app.broadcast.channel('notes', { schema: note, onMessage: () => {} })
    })
    const b = await instance(prefix, (app) => {
      app.broadcast.channel('notes', { schema: note, onMessage: (m) => heard.push(m.id) })
    })
    if (!channel) throw new Error('channel not declared')
    await channel.publish({ id: 'n1' })
    await waitFor(() => heard.length === 1)
    expect(heard).toEqual(['n1'])

    await a.app.cache.set('plan:t1', { seats: 5 }, { tags: ['tenant:t1'] })
    expect(await b.app.cache.get('plan:t1')).toEqual({ seats: 5 })
    await b.app.cache.invalidateTags(['tenant:t1'])
    expect(await a.app.cache.get('plan:t1')).toBeUndefined()

    const statuses: number[] = []
    for (let i = 0; i < 8; i += 1) {
      const app = i % 2 === 0 ? a.app : b.app
      const response = await app.inject({
        method: 'GET',
        url: '/ping',
        remoteAddress: '203.0.113.9',
      })
      statuses.push(response.statusCode)
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(5)
    expect(statuses.slice(5)).toEqual([429, 429, 429])
  })

  it('runs each queued job once across the instances, under hash-tagged queue keys', async () => {
    const prefix = uniquePrefix('cluster')
    const [a, b] = [await instance(prefix), await instance(prefix)]
    const runs: Array<{ n: number; instance: string }> = []
    const define = (built: TestApp, name: string) =>
      built.app.jobs.define({
        name: 'cluster.count',
        schema: z.object({ n: z.number() }),
        handler: async ({ n }) => {
          runs.push({ n, instance: name })
        },
      })
    const job = define(a, 'a')
    define(b, 'b')
    await Promise.all([a.app.jobs.ready(), b.app.jobs.ready()])
    for (let n = 0; n < 40; n += 1) await job.enqueue({ n })
    await waitFor(() => runs.length >= 40, { timeoutMs: 30_000 })
    expect(runs.map((run) => run.n).sort((x, y) => x - y)).toEqual([...Array(40).keys()])

    // Every queue key carries the one hash tag, so BullMQ's multi-key scripts stay in one slot.
    const keys: string[] = []
    for (const port of cluster.ports) {
      const client = new Redis(port, '127.0.0.1')
      keys.push(...(await client.keys(`*${prefix}*`)))
      client.disconnect()
    }
    const jobKeys = keys.filter((key) => key.includes('cluster.count'))
    expect(jobKeys.length).toBeGreaterThan(0)
    for (const key of jobKeys) expect(key.startsWith(`{${prefix}jobs}:`)).toBe(true)
  }, 60_000)

  it('refuses to start job workers when any master may evict keys, naming it', async () => {
    const port = cluster.ports[2] as number
    const node = new Redis(port, '127.0.0.1')
    await node.config('SET', 'maxmemory-policy', 'allkeys-lru')
    try {
      const prefix = uniquePrefix('cluster')
      await expect(instance(prefix)).rejects.toThrow(
        new RegExp(`maxmemory-policy is "allkeys-lru" \\(CONFIG GET on 127\\.0\\.0\\.1:${port}\\)`),
      )
    } finally {
      await node.config('SET', 'maxmemory-policy', 'noeviction')
      node.disconnect()
    }
  })
})
