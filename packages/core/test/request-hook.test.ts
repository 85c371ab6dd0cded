import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { getRequestContext } from '../src/index.js'
import { routeConfigAccess } from '../src/route-config.js'
import { buildTestApp, type TestApp } from './support/app.js'
import { TEST_REDIS_URL, uniquePrefix } from './support/env.js'

const SECURITY_HEADERS = [
  'content-security-policy',
  'strict-transport-security',
  'x-content-type-options',
  'x-frame-options',
  'referrer-policy',
]

const apps: TestApp[] = []
async function app(...args: Parameters<typeof buildTestApp>): Promise<TestApp['app']> {
  const built = await buildTestApp(...args)
  apps.push(built)
  return built.app
}
const prefixes: string[] = []
afterAll(async () => {
  await Promise.all(apps.map((built) => built.app.close()))
  const redis = new Redis(TEST_REDIS_URL)
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
  }
  await redis.quit()
})

describe("core's request hook", () => {
  it('answers 200 and 429 alike with the security headers, the request id and the RateLimit fields', async () => {
    const server = await app({ rateLimit: { max: 1, timeWindowMs: 60_000 } }, (instance) => {
      instance.get('/ping', async () => ({ ok: true }))
    })
    const first = await server.inject({ url: '/ping', remoteAddress: '203.0.113.50' })
    const second = await server.inject({ url: '/ping', remoteAddress: '203.0.113.50' })
    expect([first.statusCode, second.statusCode]).toEqual([200, 429])
    for (const response of [first, second]) {
      for (const name of SECURITY_HEADERS) expect(response.headers).toHaveProperty(name)
      expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
      expect(response.headers['ratelimit-limit']).toBe('1')
      expect(response.headers['ratelimit-reset']).toBe('60')
    }
    expect(first.headers['ratelimit-remaining']).toBe('0')
    expect(second.headers['ratelimit-remaining']).toBe('0')
    expect(second.headers['retry-after']).toBe('60')
    expect(second.json()).toMatchObject({
      code: 'ACME_CORE_RATE_LIMITED',
      detail: 'Rate limit of 1 requests exceeded; retry in 1 minute.',
      requestId: second.headers['x-request-id'],
    })
  })

  it('counts an IPv6 client per /64 network, and never an allow-listed client', async () => {
    const server = await app(
      { rateLimit: { max: 2, timeWindowMs: 60_000, allowList: ['198.51.100.9'] } },
      (instance) => {
        instance.get('/ping', async () => ({ ok: true }))
      },
    )
    const statuses: number[] = []
    for (const remoteAddress of ['2001:db8:1:2::a', '2001:db8:1:2::b', '2001:db8:1:2::c']) {
      statuses.push((await server.inject({ url: '/ping', remoteAddress })).statusCode)
    }
    expect(statuses).toEqual([200, 200, 429])
    const otherNetwork = await server.inject({ url: '/ping', remoteAddress: '2001:db8:1:3::a' })
    expect(otherNetwork.statusCode).toBe(200)
    for (let i = 0; i < 5; i++) {
      const allowed = await server.inject({ url: '/ping', remoteAddress: '198.51.100.9' })
      expect(allowed.statusCode).toBe(200)
      expect(allowed.headers['ratelimit-limit']).toBeUndefined()
    }
  })

  it('gives each handler its own request context after the Redis round trip of the limit', async () => {
    const prefix = uniquePrefix('hook')
    prefixes.push(prefix)
    const server = await app(
      { redis: TEST_REDIS_URL, redisKeyPrefix: prefix, rateLimit: { max: 100 } },
      (instance) => {
        instance.get('/context', async (request) => ({
          requestId: getRequestContext()?.requestId,
          own: request.id,
        }))
      },
    )
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        server.inject({ url: '/context', headers: { 'x-request-id': `request-${i}` } }),
      ),
    )
    for (const [i, response] of responses.entries()) {
      expect(response.json()).toEqual({ requestId: `request-${i}`, own: `request-${i}` })
      expect(response.headers['ratelimit-remaining']).toBeDefined()
    }
  })

  it("counts each route's own limit apart, in Redis as in memory", async () => {
    for (const store of ['memory', 'redis'] as const) {
      const prefix = uniquePrefix('own')
      prefixes.push(prefix)
      const redis = store === 'redis' ? { redis: TEST_REDIS_URL, redisKeyPrefix: prefix } : {}
      const server = await app({ ...redis, rateLimit: { max: 100 } }, (instance) => {
        instance.get('/a', { config: { rateLimit: { max: 1 } } }, async () => ({}))
        instance.get('/b', { config: { rateLimit: { max: 1 } } }, async () => ({}))
      })
      const statuses: number[] = []
      for (const url of ['/a', '/b', '/a', '/b']) {
        statuses.push((await server.inject({ url, remoteAddress: '203.0.113.60' })).statusCode)
      }
      expect({ store, statuses }).toEqual({ store, statuses: [200, 200, 429, 429] })
    }
  })

  it('refuses at registration a route limit it does not understand', async () => {
    await expect(
      app({}, (instance) => {
        instance.get('/odd', { config: { rateLimit: { max: 1, per: 'day' } as never } }, () => ({}))
      }),
    ).rejects.toThrow(/rateLimit of \/odd/)
  })

  it("reads the matched route's options from Fastify's route context, not its per-call getter", async () => {
    const server = await app({}, (instance) => {
      instance.get('/ping', async () => ({ ok: true }))
    })
    await server.inject({ url: '/ping' })
    expect(routeConfigAccess()).toBe('context')
  })
})

describe('CORS around the request hook', () => {
  it('closed: no CORS header, and a preflight is an unknown route', async () => {
    const server = await app({}, (instance) => {
      instance.get('/ping', async () => ({ ok: true }))
    })
    const preflight = await server.inject({
      method: 'OPTIONS',
      url: '/ping',
      headers: { origin: 'https://app.initech.test', 'access-control-request-method': 'GET' },
    })
    expect(preflight.statusCode).toBe(404)
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('open: a preflight carries the security headers and is not counted; a 429 carries CORS', async () => {
    const origin = 'https://app.initech.test'
    const server = await app(
      { cors: { origin: [origin] }, rateLimit: { max: 1, timeWindowMs: 60_000 } },
      (instance) => {
        instance.get('/ping', async () => ({ ok: true }))
      },
    )
    const from = { remoteAddress: '203.0.113.70', headers: { origin } }
    for (let i = 0; i < 3; i++) {
      const preflight = await server.inject({
        ...from,
        method: 'OPTIONS',
        url: '/ping',
        headers: { origin, 'access-control-request-method': 'GET' },
      })
      expect(preflight.statusCode).toBe(204)
      expect(preflight.headers['access-control-allow-origin']).toBe(origin)
      expect(preflight.headers['x-content-type-options']).toBe('nosniff')
    }
    const allowed = await server.inject({ ...from, url: '/ping' })
    const limited = await server.inject({ ...from, url: '/ping' })
    expect([allowed.statusCode, limited.statusCode]).toEqual([200, 429])
    expect(limited.headers['access-control-allow-origin']).toBe(origin)
    expect(limited.headers['x-request-id']).toBeDefined()
  })
})
