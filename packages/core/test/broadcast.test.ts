import { sleep, startTcpProxy, type TcpProxy, waitFor } from '@acme/test-kit'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { Broadcast, type MissedReason } from '../src/broadcast.js'
import { BroadcastCache } from '../src/cache/broadcast-cache.js'
import { TEST_REDIS_URL, uniquePrefix } from './support/env.js'

const quiet = { warn: () => {} }
const opened: Array<{ close(): Promise<void> | void }> = []
afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close()
})

function redisClient(url = TEST_REDIS_URL, connectionName?: string): Redis {
  const client = new Redis(url, {
    maxRetriesPerRequest: 1,
    retryStrategy: () => 50,
    ...(connectionName ? { connectionName } : {}),
  })
  client.on('error', () => {})
  opened.push({ close: () => void client.disconnect() })
  return client
}

function instance(prefix: string, redis: Redis | null = redisClient()) {
  const broadcast = new Broadcast({ redis, prefix, logger: quiet })
  opened.push(broadcast)
  return broadcast
}

const note = z.object({ id: z.string() })

describe('app.broadcast', () => {
  it('delivers a message to every other instance, never back to its sender', async () => {
    const prefix = uniquePrefix('broadcast')
    const [a, b, c] = [instance(prefix), instance(prefix), instance(prefix)]
    const received = { a: [] as string[], b: [] as string[], c: [] as string[] }
    const channelA = a.channel('notes', { schema: note, onMessage: (m) => received.a.push(m.id) })
    b.channel('notes', { schema: note, onMessage: (m) => received.b.push(m.id) })
    c.channel('notes', { schema: note, onMessage: (m) => received.c.push(m.id) })
    await Promise.all([a.start(), b.start(), c.start()])
    await channelA.publish({ id: 'n1' })
    await waitFor(() => received.b.length === 1 && received.c.length === 1)
    await sleep(50)
    expect(received).toEqual({ a: [], b: ['n1'], c: ['n1'] })
  })

  it('keeps channels apart over one subscriber connection, and drops malformed messages', async () => {
    const prefix = uniquePrefix('broadcast')
    const name = `bcast${Date.now()}`
    const [a, b] = [instance(prefix), instance(prefix, redisClient(TEST_REDIS_URL, name))]
    const notes: string[] = []
    const other: string[] = []
    const sender = a.channel('notes', { schema: note, onMessage: () => {} })
    b.channel('notes', { schema: note, onMessage: (m) => notes.push(m.id) })
    b.channel('other', { schema: note, onMessage: (m) => other.push(m.id) })
    await Promise.all([a.start(), b.start()])
    const raw = redisClient()
    await raw.publish(`${prefix}notes`, 'not json')
    await raw.publish(`${prefix}notes`, JSON.stringify({ origin: 'x', message: { id: 42 } }))
    await sender.publish({ id: 'ok' })
    await waitFor(() => notes.length === 1)
    expect(notes).toEqual(['ok'])
    expect(other).toEqual([])
    // B's two channels share one subscriber connection (duplicated from its client, same name).
    const clients = (await raw.client('LIST')) as string
    const subscribers = clients
      .split('\n')
      .filter((line) => line.includes(`name=${name} `) && !line.includes(' sub=0 '))
    expect(subscribers).toHaveLength(1)
    expect(subscribers[0]).toContain(' sub=2 ')
  })

  it('is listening at once and publishes nowhere without Redis', async () => {
    const alone = instance(uniquePrefix('broadcast'), null)
    const channel = alone.channel('notes', { schema: note, onMessage: () => {} })
    expect(channel.listening).toBe(true)
    await alone.start()
    await expect(channel.publish({ id: 'n' })).resolves.toBeUndefined()
  })

  it('goes deaf when its connection drops and listens again once resubscribed', async () => {
    const target = new URL(TEST_REDIS_URL)
    const proxy: TcpProxy = await startTcpProxy(target.hostname, Number(target.port || 6379))
    opened.push(proxy)
    const prefix = uniquePrefix('broadcast')
    const cut = instance(prefix, redisClient(proxy.url(TEST_REDIS_URL)))
    const sender = instance(prefix)
    const missed: MissedReason[] = []
    const heard: string[] = []
    const channel = cut.channel('notes', {
      schema: note,
      onMessage: (m) => heard.push(m.id),
      onMissed: (reason) => {
        missed.push(reason)
      },
    })
    const out = sender.channel('notes', { schema: note, onMessage: () => {} })
    await Promise.all([cut.start(), sender.start()])
    expect(channel.listening).toBe(true)

    await proxy.cut()
    await waitFor(() => missed.includes('disconnected'))
    expect(channel.listening).toBe(false)
    await out.publish({ id: 'lost' })

    await proxy.restore()
    await waitFor(() => channel.listening, { timeoutMs: 10_000 })
    expect(missed).toEqual(['disconnected', 'resubscribed'])
    await out.publish({ id: 'after' })
    await waitFor(() => heard.includes('after'))
    expect(heard).toEqual(['after'])
  })

  it('closes while its connection is coming back without an unhandled rejection', async () => {
    const target = new URL(TEST_REDIS_URL)
    const proxy: TcpProxy = await startTcpProxy(target.hostname, Number(target.port || 6379))
    opened.push(proxy)
    const redis = redisClient(proxy.url(TEST_REDIS_URL))
    // The real subscriber connection, kept to close the broadcast as it reconnects.
    let subscriber: Redis | undefined
    const duplicate = redis.duplicate.bind(redis)
    redis.duplicate = (options) => {
      subscriber = duplicate(options)
      return subscriber
    }
    const broadcast = instance(uniquePrefix('broadcast'), redis)
    broadcast.channel('notes', { schema: note, onMessage: () => {} })
    await broadcast.start()
    const unhandled: unknown[] = []
    const record = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', record)
    try {
      await proxy.cut()
      await waitFor(() => subscriber?.status === 'reconnecting')
      // Connected again, its readiness check (INFO) just sent: a shutdown comes now.
      const connection = subscriber as Redis
      const info = connection.info.bind(connection) as (...args: unknown[]) => unknown
      let closed: Promise<void> | undefined
      Object.assign(connection, {
        info: (...args: unknown[]) => {
          const sent = info(...args)
          closed ??= broadcast.close()
          return sent
        },
      })
      await proxy.restore()
      await waitFor(() => closed !== undefined, { timeoutMs: 10_000 })
      await closed
      await sleep(300)
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', record)
    }
  })
})

describe('BroadcastCache', () => {
  it('drops a key on every instance when one invalidates it', async () => {
    const prefix = uniquePrefix('bcache')
    const [a, b] = [instance(prefix), instance(prefix)]
    const cacheA = new BroadcastCache<string>({ broadcast: a, channel: 'names', ttlMs: 60_000 })
    const cacheB = new BroadcastCache<string>({ broadcast: b, channel: 'names', ttlMs: 60_000 })
    await Promise.all([a.start(), b.start()])
    cacheA.set('tenant:1:user:1', 'Ann', { tags: ['tenant:1'] })
    cacheB.set('tenant:1:user:1', 'Ann', { tags: ['tenant:1'] })
    cacheB.set('tenant:2:user:1', 'Bob')
    await cacheA.invalidate({ tags: ['tenant:1'] })
    expect(cacheA.get('tenant:1:user:1')).toBeUndefined()
    await waitFor(() => cacheB.get('tenant:1:user:1') === undefined)
    expect(cacheB.get('tenant:2:user:1')).toBe('Bob')
    await cacheA.invalidate({ prefixes: ['tenant:2:'] })
    await waitFor(() => cacheB.get('tenant:2:user:1') === undefined)
  })

  it('serves nothing and stores nothing while deaf, and starts empty when back', async () => {
    const target = new URL(TEST_REDIS_URL)
    const proxy: TcpProxy = await startTcpProxy(target.hostname, Number(target.port || 6379))
    opened.push(proxy)
    const broadcast = instance(uniquePrefix('bcache'), redisClient(proxy.url(TEST_REDIS_URL)))
    const cache = new BroadcastCache<number>({ broadcast, channel: 'n', ttlMs: 60_000 })
    await broadcast.start()
    let loads = 0
    const load = async () => ++loads
    expect(await cache.memoize('k', load)).toBe(1)
    expect(await cache.memoize('k', load)).toBe(1)

    await proxy.cut()
    await waitFor(() => cache.get('k') === undefined)
    expect(await cache.memoize('k', load)).toBe(2)
    expect(await cache.memoize('k', load)).toBe(3)

    await proxy.restore()
    // Caching again once resubscribed: two reads in a row give the same (stored) value.
    await waitFor(
      async () => {
        const first = await cache.memoize('k', load)
        return first === (await cache.memoize('k', load))
      },
      { timeoutMs: 10_000 },
    )
    expect(cache.size).toBe(1)
  })

  it('does not store a load that an invalidation overtook', async () => {
    const broadcast = instance(uniquePrefix('bcache'), null)
    const cache = new BroadcastCache<string>({ broadcast, channel: 'n', ttlMs: 60_000 })
    let release: (value: string) => void = () => {}
    const slow = cache.memoize('k', () => new Promise<string>((resolve) => (release = resolve)))
    await cache.invalidate({ keys: ['k'] })
    release('stale')
    expect(await slow).toBe('stale')
    expect(cache.get('k')).toBeUndefined()
  })
})
