import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { PassThrough } from 'node:stream'
import { freePort, sleep, waitFor } from '@acme/test-kit'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { acmeCore, serverOptions } from '../src/index.js'
import { createBullmqRunner } from '../src/jobs/bullmq-runner.js'
import { readEvictionPolicy } from '../src/jobs/redis-policy.js'
import { TEST_BRAND } from './support/app.js'
import { createCapturingLogger } from './support/capture-logger.js'
import { uniquePrefix } from './support/env.js'

/** A real redis-server of its own on a free port, so its settings can differ from the shared one. */
interface RedisServer {
  url: string
  client: Redis
  stop(): Promise<void>
}

const servers: RedisServer[] = []

async function startRedisServer(...settings: string[]): Promise<RedisServer> {
  const port = await freePort()
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      ...settings,
    ],
    { stdio: 'ignore' },
  )
  const exited = once(child, 'exit')
  const url = `redis://127.0.0.1:${port}`
  // ioredis's ready check sends INFO, which one of these servers refuses.
  const client = new Redis(url, {
    maxRetriesPerRequest: 1,
    retryStrategy: () => 50,
    enableReadyCheck: false,
  })
  client.on('error', () => {})
  const server = {
    url,
    client,
    async stop() {
      client.disconnect()
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    },
  }
  // Registered before it answers, so afterAll stops it even if it never does.
  servers.push(server)
  await waitFor(async () => (await client.ping()) === 'PONG', { timeoutMs: 10_000, intervalMs: 50 })
  return server
}

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()))
})

const settings = { concurrency: 1, attempts: 1, backoffMs: 10, keepFailed: 10 }
const MESSAGE =
  /maxmemory-policy is "allkeys-lru" \(CONFIG GET\).*needs "noeviction".*CONFIG SET maxmemory-policy noeviction.*redis\.conf/s

describe('Q-02: the job queue refuses a Redis that evicts keys', () => {
  let evicting: RedisServer

  beforeAll(async () => {
    evicting = await startRedisServer('--maxmemory-policy', 'allkeys-lru')
  })

  it('fails app.ready() with a message naming the setting, its value and the fix', async () => {
    const stream = new PassThrough()
    const lines: string[] = []
    stream.on('data', (chunk: Buffer) => lines.push(chunk.toString()))
    const app = Fastify(serverOptions({ logger: { stream } }))
    await app.register(acmeCore, {
      brand: TEST_BRAND,
      mail: { transport: 'memory' },
      redis: evicting.url,
      redisKeyPrefix: uniquePrefix('eviction-app'),
    })
    await expect(app.ready()).rejects.toThrow(MESSAGE)
    await app.close()
    expect(lines.join('')).toContain('job workers not started')
  })

  it('starts no worker, fails check(), and leaves the jobs waiting for a fixed Redis', async () => {
    const prefix = uniquePrefix('eviction-runner')
    const logger = createCapturingLogger()
    const runs: number[] = []
    const definition = {
      name: 'test.precious',
      schema: z.object({ n: z.number() }),
      handler: async ({ n }: { n: number }) => {
        runs.push(n)
      },
    }
    const redis = new Redis(evicting.url)
    const runner = createBullmqRunner({ redis, prefix, settings, logger })
    const handle = runner.define(definition)
    await handle.enqueue({ n: 1 })

    await expect(runner.ready()).rejects.toThrow(MESSAGE)
    await expect(runner.check()).rejects.toThrow(MESSAGE)
    const late = runner.define({ ...definition, name: 'test.defined-late' })
    await late.enqueue({ n: 2 })
    await sleep(1_000)
    expect(runs).toEqual([])
    expect(logger.lines).toContainEqual(
      expect.objectContaining({ level: 'error', message: expect.stringContaining('not started') }),
    )
    await runner.close()

    // The operator applies the fix; the next start runs what waited.
    await evicting.client.config('SET', 'maxmemory-policy', 'noeviction')
    const fixed = createBullmqRunner({ redis, prefix, settings, logger })
    fixed.define(definition)
    await fixed.ready()
    await fixed.check()
    await waitFor(() => expect(runs).toEqual([1]))
    await fixed.close()
    await redis.quit()
    await evicting.client.config('SET', 'maxmemory-policy', 'allkeys-lru')
  }, 30_000)

  it('reads INFO memory where CONFIG is disabled (managed Redis)', async () => {
    const noConfig = await startRedisServer(
      '--maxmemory-policy',
      'volatile-lru',
      '--rename-command',
      'CONFIG',
      '',
    )
    expect(await readEvictionPolicy(noConfig.client)).toEqual({
      policy: 'volatile-lru',
      source: 'INFO memory',
    })
    const redis = new Redis(noConfig.url)
    const runner = createBullmqRunner({
      redis,
      prefix: uniquePrefix('eviction-info'),
      settings,
      logger: createCapturingLogger(),
    })
    runner.define({ name: 'test.info', schema: z.object({}), handler: async () => {} })
    await expect(runner.ready()).rejects.toThrow(
      /maxmemory-policy is "volatile-lru" \(INFO memory\)/,
    )
    await runner.close()
    await redis.quit()
  })

  it('reports no policy, with both refusals, where neither CONFIG nor INFO answers', async () => {
    // BullMQ itself needs INFO, so such a Redis cannot run jobs at all; the reading says so.
    const silent = await startRedisServer(
      '--rename-command',
      'CONFIG',
      '',
      '--rename-command',
      'INFO',
      '',
    )
    expect(await readEvictionPolicy(silent.client)).toEqual({
      policy: null,
      refusals: [
        expect.stringMatching(/^CONFIG GET maxmemory-policy: ERR unknown command/),
        expect.stringMatching(/^INFO memory: ERR unknown command/),
      ],
    })
  })

  it('passes a noeviction Redis, through CONFIG GET', async () => {
    const fine = await startRedisServer('--maxmemory-policy', 'noeviction')
    expect(await readEvictionPolicy(fine.client)).toEqual({
      policy: 'noeviction',
      source: 'CONFIG GET',
    })
  })
})
