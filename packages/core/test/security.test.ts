import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from './support/app.js'
import { TEST_REDIS_URL, uniquePrefix } from './support/env.js'

/** Headers that only take effect on an HTML document. */
const DOCUMENT_ONLY = [
  'cross-origin-opener-policy',
  'origin-agent-cluster',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
]

let t: TestApp
beforeAll(async () => {
  t = await buildTestApp({ cors: { origin: ['https://app.initech.test'] } }, (app) => {
    app.get('/ping', async () => ({ ok: true }))
    app.get('/page', { config: { document: true } }, async (_request, reply) =>
      reply.type('text/html').send('<!doctype html><title>Initech</title>'),
    )
    app.get('/boom', async () => {
      throw new Error('kaboom')
    })
  })
})
afterAll(async () => {
  await t.app.close()
})

describe('security defaults', () => {
  it('sends a JSON response every header a browser applies to it, with the strictest CSP', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/ping' })
    expect(response.headers['x-content-type-options']).toBe('nosniff')
    expect(response.headers['strict-transport-security']).toContain('max-age=')
    expect(response.headers['referrer-policy']).toBe('no-referrer')
    expect(response.headers['cross-origin-resource-policy']).toBe('same-origin')
    expect(response.headers['x-frame-options']).toBe('DENY')
    expect(response.headers['content-security-policy']).toBe(
      "default-src 'none'; frame-ancestors 'none'",
    )
    expect(response.headers['x-powered-by']).toBeUndefined()
    for (const documentOnly of DOCUMENT_ONLY)
      expect(response.headers).not.toHaveProperty(documentOnly)
  })

  it("sends helmet's whole set on a route that serves a document, and on the docs UI", async () => {
    for (const url of ['/page', '/docs/']) {
      const response = await t.app.inject({ method: 'GET', url })
      expect(response.statusCode).toBe(200)
      for (const name of DOCUMENT_ONLY) expect(response.headers).toHaveProperty(name)
      expect(response.headers['x-frame-options']).toBe('SAMEORIGIN')
    }
    const page = await t.app.inject({ method: 'GET', url: '/page' })
    expect(page.headers['content-security-policy']).toContain("default-src 'self'")
  })

  it('sends the applicable headers on a 404 and on an error', async () => {
    for (const url of ['/nowhere', '/boom']) {
      const response = await t.app.inject({ method: 'GET', url })
      expect(response.statusCode).toBeGreaterThanOrEqual(400)
      expect(response.headers['content-security-policy']).toBe(
        "default-src 'none'; frame-ancestors 'none'",
      )
      expect(response.headers['x-content-type-options']).toBe('nosniff')
    }
  })

  it("sends helmet's whole set on every response with securityHeaders: 'all'", async () => {
    const all = await buildTestApp({ securityHeaders: 'all' }, (app) => {
      app.get('/ping', async () => ({ ok: true }))
    })
    try {
      const response = await all.app.inject({ method: 'GET', url: '/ping' })
      for (const name of DOCUMENT_ONLY) expect(response.headers).toHaveProperty(name)
      expect(response.headers['content-security-policy']).toContain("default-src 'self'")
    } finally {
      await all.app.close()
    }
  })

  it('keeps a header turned off in the helmet options off on every response', async () => {
    const noHsts = await buildTestApp(
      { helmet: { strictTransportSecurity: false, xFrameOptions: false } },
      (app) => {
        app.get('/ping', async () => ({ ok: true }))
      },
    )
    try {
      const response = await noHsts.app.inject({ method: 'GET', url: '/ping' })
      expect(response.headers).not.toHaveProperty('strict-transport-security')
      expect(response.headers).not.toHaveProperty('x-frame-options')
      expect(response.headers['x-content-type-options']).toBe('nosniff')
    } finally {
      await noHsts.app.close()
    }
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
