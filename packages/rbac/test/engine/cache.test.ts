import { setTimeout as sleep } from 'node:timers/promises'
import { Broadcast } from '@acme/core'
import { timeUntil } from '@acme/test-kit'
import { startTcpProxy, type TcpProxy, TEST_REDIS_URL, uniquePrefix } from '@acme/test-support'
import { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import {
  PermissionCache,
  type PermissionCacheKey,
  type PermissionCacheOptions,
} from '../../src/engine/cache.js'
import { PermissionSet } from '../../src/engine/permission.js'

const connections: Redis[] = []
let caches: Array<{ close(): Promise<void> }> = []
const proxies: TcpProxy[] = []

afterEach(async () => {
  await Promise.all(caches.map((cache) => cache.close()))
  caches = []
})

afterAll(async () => {
  await Promise.all(connections.map((redis) => redis.quit().catch(() => redis.disconnect())))
  await Promise.all(proxies.map((proxy) => proxy.close()))
})

function connect(url = TEST_REDIS_URL): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  // A connection through a proxy that is cut reports errors until restored: expected here.
  redis.on('error', () => {})
  connections.push(redis)
  return redis
}

/** An app's name: its instances share it as their broadcast prefix. */
function channel(): string {
  return uniquePrefix('rbac_cache')
}

type InstanceOptions = Partial<Omit<PermissionCacheOptions, 'broadcast' | 'channel'>> & {
  channel: string
  redis?: Redis | null
}

/**
 * Each instance gets its own connection and broadcast, as separate processes would, started as
 * core starts it (at onReady). The broadcast reports what it drops through `logger`.
 */
async function instance({ channel: app, redis = connect(), logger, ...options }: InstanceOptions) {
  const broadcast = new Broadcast({ redis, prefix: app, logger: logger ?? { warn: () => {} } })
  const cache = new PermissionCache({ broadcast, ttlMs: 60_000, ...options })
  caches.push(broadcast)
  await broadcast.start()
  return cache
}

/** A load that counts its calls and answers a fresh set each time (identity tells them apart). */
function counter(...granted: string[]) {
  const load = vi.fn(async () => PermissionSet.of(granted))
  return load
}

/** A load the test resolves when it wants, to hold it in flight. */
function deferred() {
  let resolve: (set: PermissionSet) => void = () => {}
  const promise = new Promise<PermissionSet>((r) => {
    resolve = r
  })
  const load = vi.fn(() => promise)
  return { load, resolve }
}

const T1 = 'tenant-1'
const T2 = 'tenant-2'
const key = (tenantId: string | null, principalId: string, ownerId?: string): PermissionCacheKey =>
  ownerId === undefined ? { tenantId, principalId } : { tenantId, principalId, ownerId }

describe('PermissionCache', () => {
  it('loads on a miss and answers from memory afterwards, per tenant and principal', async () => {
    const cache = await instance({ channel: channel() })
    const load = counter('members:read')
    expect(cache.peek(key(T1, 'u1'))).toBeUndefined()

    const first = await cache.get(key(T1, 'u1'), load)
    const second = await cache.get(key(T1, 'u1'), load)
    expect(first.can('members:read')).toBe(true)
    expect(second).toBe(first)
    expect(cache.peek(key(T1, 'u1'))).toBe(first)
    expect(load).toHaveBeenCalledTimes(1)

    await cache.get(key(T2, 'u1'), load)
    await cache.get(key(T1, 'u2'), load)
    await cache.get(key(null, 'u1'), load)
    expect(load).toHaveBeenCalledTimes(4)
    expect(cache.size).toBe(4)
  })

  it('shares one load among concurrent misses', async () => {
    const cache = await instance({ channel: channel() })
    const { load, resolve } = deferred()
    const waiting = [1, 2, 3].map(() => cache.get(key(T1, 'u1'), load))
    await sleep(5)
    const granted = PermissionSet.of(['projects:read'])
    resolve(granted)
    const results = await Promise.all(waiting)
    expect(load).toHaveBeenCalledTimes(1)
    for (const result of results) expect(result).toBe(granted)
  })

  it('does not cache a failed load, and every waiter sees the failure', async () => {
    const cache = await instance({ channel: channel() })
    const failing = vi.fn(async () => {
      throw new Error('database down')
    })
    const both = [cache.get(key(T1, 'u1'), failing), cache.get(key(T1, 'u1'), failing)]
    for (const attempt of both) await expect(attempt).rejects.toThrow('database down')
    expect(failing).toHaveBeenCalledTimes(1)
    expect(cache.peek(key(T1, 'u1'))).toBeUndefined()
    const load = counter('members:read')
    await cache.get(key(T1, 'u1'), load)
    expect(load).toHaveBeenCalledTimes(1)
  })

  /** Three users and three API keys in T1 (k1 by u1, k2 by u2, k3 of unknown creator), one user in T2 and tenant-less. */
  async function populated(cache: PermissionCache) {
    const load = counter('members:read')
    const keys = [
      key(T1, 'u1'),
      key(T1, 'u2'),
      key(T1, 'key:k1', 'u1'),
      key(T1, 'key:k2', 'u2'),
      key(T1, 'key:k3'),
      key(T2, 'u1'),
      key(T2, 'key:k4', 'u1'),
      key(null, 'u1'),
    ]
    for (const k of keys) await cache.get(k, load)
    const cached = () =>
      keys.filter((k) => cache.peek(k) !== undefined).map((k) => `${k.tenantId}/${k.principalId}`)
    expect(cached()).toHaveLength(keys.length)
    return cached
  }

  it("drops a tenant's entries only", async () => {
    const cache = await instance({ channel: channel() })
    const cached = await populated(cache)
    await cache.invalidate({ tenantId: T1 })
    expect(cached()).toEqual(['tenant-2/u1', 'tenant-2/key:k4', 'null/u1'])
  })

  it('drops a user in a tenant with the API keys it created there (and keys of unknown creator)', async () => {
    const cache = await instance({ channel: channel() })
    const cached = await populated(cache)
    await cache.invalidate({ tenantId: T1, principalId: 'u1' })
    expect(cached()).toEqual([
      'tenant-1/u2',
      'tenant-1/key:k2',
      'tenant-2/u1',
      'tenant-2/key:k4',
      'null/u1',
    ])
  })

  it('drops one API key alone', async () => {
    const cache = await instance({ channel: channel() })
    const cached = await populated(cache)
    await cache.invalidate({ tenantId: T1, principalId: 'key:k1' })
    expect(cached()).not.toContain('tenant-1/key:k1')
    expect(cached()).toHaveLength(7)
  })

  it('drops a user (and its keys) in every tenant, and the tenant-less scope on its own', async () => {
    const cache = await instance({ channel: channel() })
    const cached = await populated(cache)
    await cache.invalidate({ principalId: 'u1' })
    expect(cached()).toEqual(['tenant-1/u2', 'tenant-1/key:k2'])

    const other = await instance({ channel: channel() })
    const again = await populated(other)
    await other.invalidate({ tenantId: null })
    expect(again()).not.toContain('null/u1')
    expect(again()).toHaveLength(7)
  })

  it('drops everything', async () => {
    const cache = await instance({ channel: channel() })
    const cached = await populated(cache)
    await cache.invalidate('all')
    expect(cached()).toEqual([])
    expect(cache.size).toBe(0)
  })

  it('does not store a load that started before an invalidation, nor share it afterwards', async () => {
    const cache = await instance({ channel: channel() })
    const stale = deferred()
    const before = cache.get(key(T1, 'u1'), stale.load)
    await sleep(5)
    await cache.invalidate({ tenantId: T1, principalId: 'u1' })

    // A request after the change does not join the stale load: it loads afresh.
    const fresh = counter('members:read')
    const after = await cache.get(key(T1, 'u1'), fresh)
    expect(fresh).toHaveBeenCalledTimes(1)

    const old = PermissionSet.of(['*'])
    stale.resolve(old)
    expect(await before).toBe(old) // its caller asked before the change
    expect(cache.peek(key(T1, 'u1'))).toBe(after)
    expect(cache.peek(key(T1, 'u1'))?.has('*')).toBe(false)
  })

  it("discards an API key's in-flight load when its creator is invalidated", async () => {
    const cache = await instance({ channel: channel() })
    const stale = deferred()
    const loading = cache.get(key(T1, 'key:k1', 'u1'), stale.load)
    await sleep(5)
    await cache.invalidate({ tenantId: T1, principalId: 'u1' })
    stale.resolve(PermissionSet.of(['*']))
    await loading
    expect(cache.peek(key(T1, 'key:k1', 'u1'))).toBeUndefined()
  })

  it('still stores an in-flight load that an unrelated invalidation does not cover', async () => {
    const cache = await instance({ channel: channel() })
    const pending = deferred()
    const loading = cache.get(key(T1, 'u1'), pending.load)
    await sleep(5)
    await cache.invalidate({ tenantId: T2 })
    await cache.invalidate({ tenantId: T1, principalId: 'u2' })
    const granted = PermissionSet.of(['members:read'])
    pending.resolve(granted)
    await loading
    expect(cache.peek(key(T1, 'u1'))).toBe(granted)
  })

  it('another instance drops the entry within a second', async () => {
    const name = channel()
    const a = await instance({ channel: name })
    const b = await instance({ channel: name })
    const load = counter('members:invite')
    await b.get(key(T1, 'u1'), load)
    await b.get(key(T1, 'u2'), load)
    expect(b.peek(key(T1, 'u1'))).toBeDefined()

    const started = performance.now()
    await a.invalidate({ tenantId: T1, principalId: 'u1' })
    await timeUntil(() => b.peek(key(T1, 'u1')) === undefined, { timeoutMs: 2000, intervalMs: 5 })
    const elapsed = performance.now() - started

    expect(b.peek(key(T1, 'u1'))).toBeUndefined()
    expect(elapsed).toBeLessThan(1000)
    expect(b.peek(key(T1, 'u2'))).toBeDefined() // only what was named
    console.info(`invalidation reached the other instance in ${elapsed.toFixed(1)} ms`)
  })

  it('does not hear other channels', async () => {
    const a = await instance({ channel: channel() })
    const b = await instance({ channel: channel() })
    await b.get(key(T1, 'u1'), counter('members:read'))
    await a.invalidate('all')
    await sleep(100)
    expect(b.peek(key(T1, 'u1'))).toBeDefined()
  })

  it('forgets an entry after its TTL, and caches nothing with a TTL of 0', async () => {
    const cache = await instance({ channel: channel(), ttlMs: 50 })
    const load = counter('members:read')
    await cache.get(key(T1, 'u1'), load)
    expect(cache.peek(key(T1, 'u1'))).toBeDefined()
    await sleep(80)
    expect(cache.peek(key(T1, 'u1'))).toBeUndefined()
    await cache.get(key(T1, 'u1'), load)
    expect(load).toHaveBeenCalledTimes(2)

    const uncached = await instance({ channel: channel(), ttlMs: 0 })
    await uncached.get(key(T1, 'u1'), load)
    expect(uncached.peek(key(T1, 'u1'))).toBeUndefined()
  })

  it('keeps at most maxEntries, evicting the oldest', async () => {
    const cache = await instance({ channel: channel(), maxEntries: 2 })
    const load = counter('members:read')
    await cache.get(key(T1, 'u1'), load)
    await cache.get(key(T2, 'u2'), load)
    await cache.get(key(T1, 'u3'), load)
    expect(cache.size).toBe(2)
    expect(cache.peek(key(T1, 'u1'))).toBeUndefined()
    expect(cache.peek(key(T2, 'u2'))).toBeDefined()
    expect(cache.peek(key(T1, 'u3'))).toBeDefined()
  })

  it('forgets everything when its Redis connection drops, caches nothing until back, then resumes', async () => {
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(TEST_REDIS_URL).port || 6379))
    proxies.push(proxy)
    const name = channel()
    const warn = vi.fn()
    const cut = await instance({
      channel: name,
      redis: connect(proxy.url(TEST_REDIS_URL)),
      logger: { warn },
    })
    const other = await instance({ channel: name })
    const load = counter('projects:read')
    await cut.get(key(T1, 'u1'), load)
    expect(cut.peek(key(T1, 'u1'))).toBeDefined()

    await proxy.cut()
    // A change published while the connection is down never reaches this instance.
    await other.invalidate({ tenantId: T1, principalId: 'u1' })
    await timeUntil(() => cut.peek(key(T1, 'u1')) === undefined, { timeoutMs: 2000, intervalMs: 5 })
    expect(cut.peek(key(T1, 'u1'))).toBeUndefined()
    // Deaf, so every check loads: nothing it could miss a change for is kept.
    await cut.get(key(T1, 'u1'), load)
    await cut.get(key(T1, 'u1'), load)
    expect(load).toHaveBeenCalledTimes(3)
    expect(cut.peek(key(T1, 'u1'))).toBeUndefined()

    await proxy.restore()
    // Caching resumes once resubscribed, and changes are heard again.
    await timeUntil(
      () => {
        void cut.get(key(T1, 'u1'), load)
        return cut.peek(key(T1, 'u1')) !== undefined
      },
      { timeoutMs: 10_000, intervalMs: 5 },
    )
    expect(cut.peek(key(T1, 'u1'))).toBeDefined()
    await other.invalidate({ tenantId: T1, principalId: 'u1' })
    const elapsed = await timeUntil(() => cut.peek(key(T1, 'u1')) === undefined, {
      timeoutMs: 2000,
      intervalMs: 5,
    })
    expect(elapsed).toBeLessThan(1000)
    // Said once, when the connection went (not on every failed reconnection attempt).
    const paused = warn.mock.calls.filter(([, message]) => String(message).includes('paused'))
    expect(paused).toHaveLength(1)
  })

  it('works on one instance without Redis', async () => {
    const cache = await instance({ channel: channel(), redis: null })
    const load = counter('members:read')
    await cache.get(key(T1, 'u1'), load)
    await cache.get(key(T1, 'u1'), load)
    expect(load).toHaveBeenCalledTimes(1)
    await cache.invalidate({ tenantId: T1, principalId: 'u1' })
    expect(cache.peek(key(T1, 'u1'))).toBeUndefined()
  })

  it('ignores and reports malformed messages', async () => {
    const name = channel()
    const warn = vi.fn()
    const cache = await instance({ channel: name, logger: { warn } })
    await cache.get(key(T1, 'u1'), counter('members:read'))
    const publisher = connect()
    for (const message of [
      'not json',
      '42',
      '{"message":{"tenantId":"tenant-1"}}',
      '{"origin":"x","message":{"tenantId":7}}',
      '{"origin":"x","message":{"principalId":["u1"]}}',
    ]) {
      await publisher.publish(`${name}rbac:permissions`, message)
    }
    await timeUntil(() => warn.mock.calls.length >= 5, { timeoutMs: 2000, intervalMs: 5 })
    expect(warn).toHaveBeenCalledTimes(5)
    expect(cache.peek(key(T1, 'u1'))).toBeDefined()
  })
})
