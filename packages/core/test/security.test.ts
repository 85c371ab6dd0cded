import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from './support/app.js'
import { TEST_REDIS_URL, uniquePrefix } from './support/env.js'

let t: TestApp
beforeAll(async () => {
  t = await buildTestApp({ cors: { origin: ['https://app.initech.test'] } }, (app) => {
    app.get('/ping', async () => ({ ok: true }))
  })
})
afterAll(async () => {
  await t.app.close()
})

describe('security defaults', () => {
  it('sends the headers helmet sets', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/ping' })
    expect(response.headers['x-content-type-options']).toBe('nosniff')
    expect(response.headers['strict-transport-security']).toContain('max-age=')
    expect(response.headers['content-security-policy']).toContain("default-src 'self'")
    expect(response.headers['x-powered-by']).toBeUndefined()
  })

  it('allows CORS only for the configured origins', async () => {
    const allowed = await t.app.inject({
      method: 'GET',
      url: '/ping',
      headers: { origin: 'https://app.initech.test' },
    })
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.initech.test')
    const other = await t.app.inject({
      method: 'GET',
      url: '/ping',
      headers: { origin: 'https://evil.test' },
    })
    expect(other.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('limits each client to 100 requests per minute by default', async () => {
    const statuses = new Map<number, number>()
    for (let i = 0; i < 101; i++) {
      const response = await t.app.inject({
        method: 'GET',
        url: '/ping',
        remoteAddress: '203.0.113.9',
      })
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: 100, 429: 1 })
    const otherClient = await t.app.inject({
      method: 'GET',
      url: '/ping',
      remoteAddress: '203.0.113.10',
    })
    expect(otherClient.statusCode).toBe(200)
  })
})

describe('rate limit shared through Redis', () => {
  it('counts a client across every instance that shares the Redis', async () => {
    const prefix = uniquePrefix('rate')
    const settings = { redis: TEST_REDIS_URL, redisKeyPrefix: prefix, rateLimit: { max: 3 } }
    const route = (app: TestApp['app']) => {
      app.get('/ping', async () => ({ ok: true }))
    }
    const first = await buildTestApp(settings, route)
    const second = await buildTestApp(settings, route)
    try {
      const statuses: number[] = []
      for (const instance of [first, second, first, second]) {
        const response = await instance.app.inject({
          method: 'GET',
          url: '/ping',
          remoteAddress: '198.51.100.7',
        })
        statuses.push(response.statusCode)
      }
      expect(statuses).toEqual([200, 200, 200, 429])
    } finally {
      await first.app.close()
      await second.app.close()
      const redis = new Redis(TEST_REDIS_URL)
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
      await redis.quit()
    }
  })
})
