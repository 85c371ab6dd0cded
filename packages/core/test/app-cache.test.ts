import { sleep, waitFor } from '@acme/test-kit'
import { afterEach, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from './support/app.js'
import { TEST_REDIS_URL, uniquePrefix } from './support/env.js'

const apps: TestApp[] = []
afterEach(async () => {
  for (const t of apps.splice(0)) await t.app.close()
})

async function twoInstances(store: 'memory' | 'redis') {
  const settings = {
    redis: TEST_REDIS_URL,
    redisKeyPrefix: uniquePrefix(`cache-${store}`),
    cache: { store, ttlMs: 60_000 },
  }
  const a = await buildTestApp(settings)
  const b = await buildTestApp(settings)
  apps.push(a, b)
  return [a.app, b.app] as const
}

describe.each(['memory', 'redis'] as const)('app.cache with the %s store', (store) => {
  it('returns what was set, as a copy the caller cannot change', async () => {
    const [a] = await twoInstances(store)
    expect(a.cache.store).toBe(store)
    const plan = { name: 'pro', seats: [1, 2] }
    await a.cache.set('plan:pro', plan)
    plan.seats.push(3)
    const first = await a.cache.get<typeof plan>('plan:pro')
    expect(first).toEqual({ name: 'pro', seats: [1, 2] })
    first?.seats.push(4)
    expect(await a.cache.get('plan:pro')).toEqual({ name: 'pro', seats: [1, 2] })
    expect(await a.cache.get('missing')).toBeUndefined()
  })

  it('memoizes: concurrent misses share one load, later reads none', async () => {
    const [a] = await twoInstances(store)
    let loads = 0
    const load = async () => {
      loads++
      await sleep(20)
      return { report: 'q3' }
    }
    const results = await Promise.all(Array.from({ length: 5 }, () => a.cache.memoize('r', load)))
    expect(results).toEqual(Array(5).fill({ report: 'q3' }))
    expect(await a.cache.memoize('r', load)).toEqual({ report: 'q3' })
    expect(loads).toBe(1)
  })

  it('drops tagged entries on every instance when one invalidates the tag', async () => {
    const [a, b] = await twoInstances(store)
    for (const app of [a, b]) {
      await app.cache.set('projects:t1:list', ['Apollo'], { tags: ['tenant:t1'] })
      await app.cache.set('projects:t2:list', ['Gemini'], { tags: ['tenant:t2'] })
    }
    await b.cache.invalidateTags(['tenant:t1'])
    await waitFor(async () => (await a.cache.get('projects:t1:list')) === undefined)
    expect(await b.cache.get('projects:t1:list')).toBeUndefined()
    expect(await a.cache.get('projects:t2:list')).toEqual(['Gemini'])
    await a.cache.delete('projects:t2:list')
    await waitFor(async () => (await b.cache.get('projects:t2:list')) === undefined)
  })

  it('forgets an entry after its TTL', async () => {
    const [a] = await twoInstances(store)
    await a.cache.set('short', 1, { ttlMs: 50 })
    expect(await a.cache.get('short')).toBe(1)
    await sleep(120)
    expect(await a.cache.get('short')).toBeUndefined()
  })
})

describe('app.cache stores', () => {
  it('shares values between instances with Redis, keeps them per instance in memory', async () => {
    const [redisA, redisB] = await twoInstances('redis')
    await redisA.cache.set('k', 'v')
    expect(await redisB.cache.get('k')).toBe('v')
    const [memoryA, memoryB] = await twoInstances('memory')
    await memoryA.cache.set('k', 'v')
    expect(await memoryB.cache.get('k')).toBeUndefined()
  })

  it('refuses a value that is not JSON', async () => {
    const [a] = await twoInstances('memory')
    await expect(a.cache.set('k', undefined)).rejects.toThrow(/JSON/)
  })
})
