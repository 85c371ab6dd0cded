import { manualClock, sleep, waitFor } from '@acme/test-kit'
import { startTcpProxy, type TcpProxy, TEST_REDIS_URL } from '@acme/test-support'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_PLANS } from '../src/index.js'
import {
  bearer,
  createTenancyApp,
  createTenant,
  signUp,
  type TenancyTestApp,
} from './support/app.js'
import { notesRoutes } from './support/notes-routes.js'

/** TEN-06: the per-tenant limit by plan, measured with core's own global limiter off. */

// The default plans (starter: 100 requests a minute), plus one without a limit.
const PLANS = {
  ...DEFAULT_PLANS,
  unlimited: { label: 'Unlimited', requestsPerMinute: null, seats: null, storageBytes: null },
}
const ANONYMOUS_PER_MINUTE = 20

type Tenant = { id: string; token: string }

async function routes(app: FastifyInstance) {
  await notesRoutes(app)
  app.get('/ping', { config: { auth: 'optional' } }, async () => ({ pong: true }))
}

const as = (tenant: Tenant) => ({ ...bearer(tenant.token), 'x-tenant-id': tenant.id })

async function tenantOf(t: TenancyTestApp, email: string): Promise<Tenant> {
  const user = await signUp(t, email)
  const tenant = await createTenant(t, user.token, email.split('@')[0] ?? 'tenant')
  return { id: tenant.id, token: user.token }
}

async function sequence(count: number, send: () => Promise<LightMyRequestResponse>) {
  const responses: LightMyRequestResponse[] = []
  for (let i = 0; i < count; i++) responses.push(await send())
  return responses
}

const statuses = (responses: LightMyRequestResponse[]) => responses.map((r) => r.statusCode)
const countOf = (responses: LightMyRequestResponse[], status: number) =>
  responses.filter((response) => response.statusCode === status).length

describe('per-tenant limit by plan (GCRA in Redis)', () => {
  let t: TenancyTestApp
  const clock = manualClock()
  let a: Tenant
  let b: Tenant
  let unlimited: Tenant

  beforeAll(async () => {
    t = await createTenancyApp(
      {
        plans: PLANS,
        clock: clock.now,
        rateLimit: { anonymousPerMinute: ANONYMOUS_PER_MINUTE },
      },
      { label: 'ratelimit', routes, core: { rateLimit: false } },
    )
    // Six requests from the injected client's IP, well under its anonymous budget.
    a = await tenantOf(t, 'a@limits.test')
    b = await tenantOf(t, 'b@limits.test')
    unlimited = await tenantOf(t, 'u@limits.test')
    await t.app.tenancy.tenants.setPlan(unlimited.id, 'unlimited')
  })

  afterAll(async () => {
    await t?.close()
  })

  it('lets exactly 100 of tenant A’s 150 requests through, while tenant B in parallel gets no 429', async () => {
    expect(DEFAULT_PLANS.starter?.requestsPerMinute).toBe(100)
    const [fromA, fromB] = await Promise.all([
      sequence(150, () => t.app.inject({ url: '/notes', headers: as(a) })),
      sequence(100, () => t.app.inject({ url: '/notes', headers: as(b) })),
    ])
    // Burst = limit: the first 100 pass at once, everything after is refused (time stands still).
    expect(statuses(fromA)).toEqual([...Array(100).fill(200), ...Array(50).fill(429)])
    expect(countOf(fromB, 429)).toBe(0)
    expect(countOf(fromB, 200)).toBe(100)

    const first = fromA[0]
    const hundredth = fromA[99]
    const refused = fromA[100]
    if (!first || !hundredth || !refused) throw new Error('missing responses')
    expect(first.headers).toMatchObject({
      'ratelimit-limit': '100',
      'ratelimit-remaining': '99',
      'ratelimit-reset': '1',
      'ratelimit-policy': '100;w=60',
    })
    expect(first.headers['retry-after']).toBeUndefined()
    expect(hundredth.headers).toMatchObject({ 'ratelimit-remaining': '0', 'ratelimit-reset': '60' })
    // 100 per minute is one per 600 ms: the next request is possible in 0.6 s, told as 1 s.
    expect(refused.headers).toMatchObject({
      'retry-after': '1',
      'ratelimit-limit': '100',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '60',
      'ratelimit-policy': '100;w=60',
    })
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(refused.json()).toMatchObject({
      status: 429,
      code: 'ACME_TENANCY_RATE_LIMITED',
      title: 'Too Many Requests',
      limited: 'tenant',
    })
    // B's own budget is what B's headers show.
    expect(fromB.at(-1)?.headers['ratelimit-remaining']).toBe('0')
  })

  it('refills at the sustained rate, and refused requests did not extend the wait', async () => {
    clock.advance(599)
    expect((await t.app.inject({ url: '/notes', headers: as(a) })).statusCode).toBe(429)
    clock.advance(1)
    const next = await t.app.inject({ url: '/notes', headers: as(a) })
    expect(next.statusCode).toBe(200)
    expect(next.headers['ratelimit-remaining']).toBe('0')
    expect((await t.app.inject({ url: '/notes', headers: as(a) })).statusCode).toBe(429)
    // A full minute later the whole burst is back.
    clock.advance(60_000)
    const fresh = await sequence(101, () => t.app.inject({ url: '/notes', headers: as(a) }))
    expect(countOf(fresh, 200)).toBe(100)
    expect(fresh.at(-1)?.statusCode).toBe(429)
  })

  it('limits requests that name no tenant per client IP, not per tenant', async () => {
    clock.advance(60_000)
    const ping = (remoteAddress: string) => t.app.inject({ url: '/ping', remoteAddress })
    const first = await sequence(ANONYMOUS_PER_MINUTE + 5, () => ping('203.0.113.7'))
    expect(countOf(first, 200)).toBe(ANONYMOUS_PER_MINUTE)
    expect(statuses(first).slice(ANONYMOUS_PER_MINUTE)).toEqual(Array(5).fill(429))
    expect(first[0]?.headers['ratelimit-limit']).toBe(String(ANONYMOUS_PER_MINUTE))
    expect(first.at(-1)?.json()).toMatchObject({
      code: 'ACME_TENANCY_RATE_LIMITED',
      limited: 'client',
      detail: 'Too many requests without a tenant from this address; retry later.',
    })
    // Signed in but naming no tenant: still the IP's budget.
    const signedIn = await t.app.inject({
      url: '/tenants',
      headers: bearer(a.token),
      remoteAddress: '203.0.113.7',
    })
    expect(signedIn.statusCode).toBe(429)
    // Another address has its own budget, and naming a tenant uses the tenant's.
    expect((await ping('198.51.100.9')).statusCode).toBe(200)
    const named = await t.app.inject({
      url: '/notes',
      headers: as(a),
      remoteAddress: '203.0.113.7',
    })
    expect(named.statusCode).toBe(200)
    expect(named.headers['ratelimit-limit']).toBe('100')
  })

  it('does not limit routes that opt out of rate limiting (health probes)', async () => {
    const probes = await sequence(ANONYMOUS_PER_MINUTE * 2, () =>
      t.app.inject({ url: '/health/live', remoteAddress: '192.0.2.44' }),
    )
    expect(countOf(probes, 200)).toBe(probes.length)
    expect(probes[0]?.headers['ratelimit-limit']).toBeUndefined()
  })

  it('does not limit a plan with requestsPerMinute: null', async () => {
    const responses = await sequence(150, () =>
      t.app.inject({ url: '/notes', headers: as(unlimited) }),
    )
    expect(countOf(responses, 200)).toBe(150)
    expect(responses[0]?.headers['ratelimit-limit']).toBeUndefined()
  })

  it('refuses a plan that is not configured, naming the ones that are, and keeps the old one', async () => {
    await expect(t.app.tenancy.tenants.setPlan(unlimited.id, 'platinum')).rejects.toThrow(
      'unknown plan "platinum": one of',
    )
    expect((await t.app.tenancy.tenants.get(unlimited.id)).plan).toBe('unlimited')
  })

  it('applies a plan change on the next request', async () => {
    clock.advance(60_000)
    await t.app.tenancy.tenants.setPlan(unlimited.id, 'starter')
    const limited = await t.app.inject({ url: '/notes', headers: as(unlimited) })
    expect(limited.headers['ratelimit-limit']).toBe('100')
    await t.app.tenancy.tenants.setPlan(unlimited.id, 'unlimited')
  })
})

describe('next to core’s global limiter', () => {
  let t: TenancyTestApp
  let tenant: Tenant

  beforeAll(async () => {
    // Core counts per IP; its budget is set apart from tenancy's so the headers tell them apart.
    t = await createTenancyApp(
      { clock: manualClock().now },
      { label: 'ratelimit_core', routes, core: { rateLimit: { max: 8, timeWindowMs: 60_000 } } },
    )
    tenant = await tenantOf(t, 'both@limits.test')
  })

  afterAll(async () => {
    await t?.close()
  })

  it('shows the tenant’s budget on responses both limiters let through', async () => {
    const responses = await sequence(8, () =>
      t.app.inject({ url: '/notes', headers: as(tenant), remoteAddress: '203.0.113.50' }),
    )
    expect(statuses(responses)).toEqual(Array(8).fill(200))
    responses.forEach((response, index) => {
      expect(response.headers).toMatchObject({
        'ratelimit-limit': '100',
        'ratelimit-remaining': String(99 - index),
        'ratelimit-policy': '100;w=60',
      })
    })
  })

  it('keeps core’s headers on core’s own 429', async () => {
    const refused = await t.app.inject({
      url: '/notes',
      headers: as(tenant),
      remoteAddress: '203.0.113.50',
    })
    expect(refused.statusCode).toBe(429)
    expect(refused.json().code).toBe('ACME_CORE_RATE_LIMITED')
    expect(refused.headers['ratelimit-limit']).toBe('8')
    expect(refused.headers['ratelimit-remaining']).toBe('0')
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
  })
})

describe('when Redis is unreachable', () => {
  let t: TenancyTestApp
  let proxy: TcpProxy
  let tenant: Tenant
  let cut = false

  beforeAll(async () => {
    const target = new URL(TEST_REDIS_URL)
    proxy = await startTcpProxy(target.hostname, Number(target.port || 6379))
    t = await createTenancyApp(
      {},
      {
        label: 'ratelimit_outage',
        routes,
        core: { rateLimit: false, redis: proxy.url(TEST_REDIS_URL) },
      },
    )
    tenant = await tenantOf(t, 'outage@limits.test')
  })

  afterAll(async () => {
    if (cut) await proxy.restore()
    if (t) {
      // Core's BullMQ runner hangs in close() while its connections are still reconnecting:
      // let every connection come back first (their retry delay is at most 2 s).
      await t.app.jobs.check().catch(() => undefined)
      await waitFor(() => t.app.redis?.status === 'ready')
      await sleep(2_100)
      await t.close()
    }
    await proxy?.close()
  })

  it('fails open within its deadline: the request still answers 2xx', async () => {
    // Warm: the membership is cached, so only the limiter needs Redis.
    const warm = await t.app.inject({ url: '/notes', headers: as(tenant) })
    expect(warm.statusCode).toBe(200)
    expect(warm.headers['ratelimit-limit']).toBe('100')

    await proxy.cut()
    cut = true
    for (let i = 0; i < 2; i++) {
      const started = performance.now()
      const response = await t.app.inject({ url: '/notes', headers: as(tenant) })
      const elapsed = performance.now() - started
      expect(response.statusCode).toBe(200)
      expect(response.headers['ratelimit-limit']).toBeUndefined()
      // The deadline is 500 ms; the rest is the database.
      expect(elapsed).toBeLessThan(1_500)
    }
    const warnings = t.logs.filter(
      (line) => line.msg === 'tenant rate limit unavailable; requests pass unlimited',
    )
    // Logged once per outage window, not once per request.
    expect(warnings).toHaveLength(1)
    await proxy.restore()
    cut = false
  })
})
