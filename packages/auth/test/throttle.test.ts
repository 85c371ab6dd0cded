import { waitFor } from '@acme/test-kit'
import {
  createTestApp,
  startTcpProxy,
  type TcpProxy,
  TEST_REDIS_URL,
  type TestApp,
  type TestAppOptions,
  uniquePrefix,
} from '@acme/test-support'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PrismaClient } from '../src/generated/prisma/client.js'
import acmeAuth from '../src/index.js'
import {
  DEFAULT_THROTTLE_LIMITS,
  LoginThrottle,
  type ThrottleLimits,
} from '../src/services/throttle.js'
import { migrationsDir } from './support/app.js'
import { type TestClock, testClock } from './support/clock.js'

const PASSWORD = 'correct horse battery'
const WRONG = 'wrong password here'

// Both instances sign with the same key, as a real deployment configures it.
const sharedKey = {
  kty: 'OKP',
  crv: 'Ed25519',
  kid: 'test-key-1',
  alg: 'EdDSA',
  x: 'j3s0Pb6I5Rp6UXSvOTZY7GYp2L9q52kShCZcpzva2Hk',
  d: 'HsowerHb7hnZNvtT4eGREpiOXvvx6YqMhWUbkZnov1I',
}

interface Audit {
  failed: number
  throttled: Array<'account' | 'ip'>
}

type ThrottledApp = TestApp & { audit: Audit }

/** Auth as a host registers it, with the limits under test and the test clock. */
async function throttledApp(
  clock: TestClock,
  limits: Partial<ThrottleLimits> = {},
  harness: Pick<TestAppOptions, 'database' | 'redisPrefix' | 'core'> = {},
): Promise<ThrottledApp> {
  const audit: Audit = { failed: 0, throttled: [] }
  const t = await createTestApp({
    label: 'auth_throttle',
    migrationsDir,
    PrismaClient,
    ...harness,
    // Core's per-client rate limit counts in real time and would answer before the login route.
    core: { rateLimit: false, ...harness.core },
    setup: async (app) => {
      await app.register(acmeAuth, {
        jwt: { issuer: 'https://api.initech.test', privateKeys: [sharedKey] },
        clock: () => clock.now,
        throttle: limits,
      })
      // Each failure that reaches argon2 emits login_failed: that is the evaluation count.
      app.events.on('user.login_failed', () => {
        audit.failed += 1
      })
      app.events.on('auth.login_throttled', (event) => {
        audit.throttled.push(event.payload.scope)
      })
    },
  })
  return Object.assign(t, { audit })
}

async function register(t: TestApp, email: string) {
  const response = await t.app.inject({
    method: 'POST',
    url: '/auth/register',
    payload: { email, password: PASSWORD },
  })
  expect(response.statusCode).toBe(202)
}

function login(t: TestApp, email: string, password: string, ip = '192.0.2.1') {
  return t.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password },
    remoteAddress: ip,
  })
}

describe('AUTH-01: per-account throttle shared by two instances', () => {
  const clock = testClock()
  let first: ThrottledApp
  let second: ThrottledApp

  beforeAll(async () => {
    first = await throttledApp(clock)
    if (!first.database || !first.redisPrefix) throw new Error('the harness gave no database')
    second = await throttledApp(
      clock,
      {},
      {
        database: first.database,
        redisPrefix: first.redisPrefix,
      },
    )
    await register(first, 'victim@initech.test')
  })
  afterAll(async () => {
    await second?.close()
    await first?.close()
  })

  it('answers 429 + Retry-After after 10 failures, even with the right password, then lifts', async () => {
    // The lockout counts per account and client address (a stranger's failures must not lock
    // the owner out: see lockout.test.ts), so the guesses come from one address here.
    const guesser = '198.51.100.7'
    for (let attempt = 0; attempt < 10; attempt++) {
      // Alternating instances: only the count shared through Redis can add up.
      const instance = attempt % 2 === 0 ? first : second
      const response = await login(instance, 'victim@initech.test', WRONG, guesser)
      expect(response.statusCode).toBe(401)
    }
    for (const instance of [first, second]) {
      const refused = await login(instance, 'Victim@Initech.test', PASSWORD, guesser)
      expect(refused.statusCode).toBe(429)
      expect(refused.json().code).toBe('ACME_AUTH_TOO_MANY_ATTEMPTS')
      expect(refused.headers['retry-after']).toBe('900')
    }
    // The refusals cost no argon2: only the 10 wrong passwords were evaluated.
    expect(first.audit.failed + second.audit.failed).toBe(10)
    expect([...first.audit.throttled, ...second.audit.throttled]).toEqual(['account', 'account'])

    clock.advance(600)
    const later = await login(second, 'victim@initech.test', PASSWORD, guesser)
    expect(later.statusCode).toBe(429)
    expect(later.headers['retry-after']).toBe('300')

    clock.advance(300)
    const lifted = await login(first, 'victim@initech.test', PASSWORD, guesser)
    expect(lifted.statusCode).toBe(200)
    // The success forgave the failures, its own attempt included: 10 typos are ordinary 401s again.
    for (let attempt = 0; attempt < 10; attempt++) {
      const instance = attempt % 2 === 0 ? second : first
      const response = await login(instance, 'victim@initech.test', WRONG, guesser)
      expect(response.statusCode).toBe(401)
    }
    expect((await login(first, 'victim@initech.test', PASSWORD, guesser)).statusCode).toBe(429)
  })
  it('lets the owner reset the password while the account is throttled', async () => {
    const email = 'reset-while-locked@initech.test'
    const guesser = '198.51.100.8'
    await register(first, email)
    for (let attempt = 0; attempt < 10; attempt++) {
      expect((await login(first, email, WRONG, guesser)).statusCode).toBe(401)
    }
    expect((await login(second, email, PASSWORD, guesser)).statusCode).toBe(429)

    const forgot = await first.app.inject({
      method: 'POST',
      url: '/auth/password/forgot',
      payload: { email },
      remoteAddress: guesser,
    })
    expect(forgot.statusCode).toBe(202)
    // Either instance's worker may send the mail: they share the queue.
    const link = await waitFor(() => {
      const mail = [...first.app.mailer.sent, ...second.app.mailer.sent].find(
        (sent) => sent.to === email && sent.subject.includes('Reset your'),
      )
      return (mail && /https?:\/\/\S+/.exec(mail.text)?.[0]) ?? false
    })
    const token = new URL(link).searchParams.get('token')
    const newPassword = 'a brand new passphrase'
    const reset = await second.app.inject({
      method: 'POST',
      url: '/auth/password/reset',
      payload: { token, password: newPassword },
      remoteAddress: guesser,
    })
    expect(reset.statusCode).toBeLessThan(300)
    // The guesses counted against the old password stay counted: the new one waits them out.
    clock.advance(900)
    expect((await login(first, email, newPassword, guesser)).statusCode).toBe(200)
    expect((await login(first, email, PASSWORD, '198.51.100.9')).statusCode).toBe(401)
  })
})

describe('AUTH-02: hard cap of 100 evaluated failures per account per hour', () => {
  const clock = testClock()
  let t: ThrottledApp
  let capOnly: ThrottledApp

  beforeAll(async () => {
    t = await throttledApp(clock)
    // Only the hourly cap holds here, so the test sees the cap itself rather than the 10 / 15 min.
    capOnly = await throttledApp(clock, { accountMax: 10_000, ipMax: 10_000 })
    await register(t, 'paced@initech.test')
    await register(capOnly, 'paced@initech.test')
  })
  afterAll(async () => {
    await t?.close()
    await capOnly?.close()
  })

  async function script(instance: ThrottledApp) {
    const statuses: number[] = []
    // 200 attempts spread evenly over one simulated hour.
    for (let attempt = 0; attempt < 200; attempt++) {
      statuses.push((await login(instance, 'paced@initech.test', WRONG)).statusCode)
      clock.advance(18)
    }
    return statuses
  }

  it('with the default limits: at most 100 evaluated, the rest 429, every attempt audited', async () => {
    const statuses = await script(t)
    const evaluated = statuses.filter((status) => status === 401).length
    expect(evaluated).toBeLessThanOrEqual(100)
    expect(evaluated).toBe(t.audit.failed)
    expect(statuses.filter((status) => status === 429)).toHaveLength(200 - evaluated)
    expect(t.audit.failed + t.audit.throttled.length).toBe(200)
  })

  it('with only the hourly cap in force: exactly 100 evaluated, then 429', async () => {
    const statuses = await script(capOnly)
    expect(statuses.slice(0, 100).every((status) => status === 401)).toBe(true)
    expect(statuses.slice(100).every((status) => status === 429)).toBe(true)
    expect(capOnly.audit.failed).toBe(100)
    expect(capOnly.audit.throttled).toHaveLength(100)
  })
})

describe('AUTH-03: per-IP limit against credential stuffing', () => {
  const clock = testClock()
  let t: ThrottledApp

  beforeAll(async () => {
    t = await throttledApp(clock)
    await register(t, 'stuffed25@initech.test')
    await register(t, 'bystander@initech.test')
  })
  afterAll(async () => {
    await t?.close()
  })

  it('answers 429 after 20 accounts from one IP; another IP is unaffected', async () => {
    const statuses: number[] = []
    for (let account = 0; account < 50; account++) {
      const response = await login(t, `stuffed${account}@initech.test`, WRONG, '203.0.113.66')
      statuses.push(response.statusCode)
      // One attempt a second: the slot frees when the first attempt (at 0 s) is a minute old.
      if (response.statusCode === 429) {
        expect(response.headers['retry-after']).toBe(String(60 - account))
      }
      clock.advance(1)
    }
    expect(statuses.slice(0, 20).every((status) => status === 401)).toBe(true)
    expect(statuses.slice(20).every((status) => status === 429)).toBe(true)
    expect(new Set(t.audit.throttled)).toEqual(new Set(['ip']))

    const other = '203.0.113.99'
    expect((await login(t, 'bystander@initech.test', WRONG, other)).statusCode).toBe(401)
    expect((await login(t, 'bystander@initech.test', PASSWORD, other)).statusCode).toBe(200)
    // An account the stuffing IP also tried is not itself throttled.
    expect((await login(t, 'stuffed25@initech.test', PASSWORD, other)).statusCode).toBe(200)
  })

  it('lets many colleagues behind one address sign in: only failures count per IP', async () => {
    const office = '198.51.100.10'
    for (let i = 0; i < 25; i++) {
      expect((await login(t, 'bystander@initech.test', PASSWORD, office)).statusCode).toBe(200)
    }
    const failures: number[] = []
    for (let i = 0; i < 21; i++) {
      failures.push((await login(t, `nobody${i}@initech.test`, WRONG, office)).statusCode)
    }
    expect(failures.slice(0, 20).every((status) => status === 401)).toBe(true)
    expect(failures[20]).toBe(429)
  })
})

describe('CH-01: the login throttle fails closed when Redis is down', () => {
  const clock = testClock()
  const target = new URL(TEST_REDIS_URL)
  let proxy: TcpProxy
  let t: ThrottledApp

  beforeAll(async () => {
    proxy = await startTcpProxy(target.hostname, Number(target.port || 6379))
    t = await throttledApp(clock, {}, { core: { redis: proxy.url(TEST_REDIS_URL) } })
    await register(t, 'outage@initech.test')
  })
  afterAll(async () => {
    await proxy?.restore().catch(() => {})
    await t?.close()
    await proxy?.close()
  })

  it('answers 503 with Retry-After, never 200 or 401, and recovers with Redis', async () => {
    expect((await login(t, 'outage@initech.test', PASSWORD)).statusCode).toBe(200)
    await proxy.cut()
    for (const password of [PASSWORD, WRONG]) {
      const response = await login(t, 'outage@initech.test', password)
      expect(response.statusCode).toBe(503)
      expect(response.json().code).toBe('ACME_AUTH_THROTTLE_UNAVAILABLE')
      expect(Number(response.headers['retry-after'])).toBeGreaterThan(0)
    }
    expect(t.audit.failed).toBe(0)

    await proxy.restore()
    // Waits for ioredis to reconnect (real time, not the test clock); bounded.
    const deadline = Date.now() + 10_000
    while (t.app.redis?.status !== 'ready' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect((await login(t, 'outage@initech.test', PASSWORD)).statusCode).toBe(200)
  })
})

describe('LoginThrottle', () => {
  const prefix = uniquePrefix('auth_throttle_unit')
  const redis = new Redis(TEST_REDIS_URL)
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })

  const stores = [
    ['Redis', () => redis],
    ['in memory', () => null],
  ] as const
  let runs = 0

  describe.each(stores)('%s', (_name, client) => {
    function throttle(limits: Partial<ThrottleLimits> = {}) {
      const clock = testClock()
      runs += 1
      const instance = new LoginThrottle({
        redis: client(),
        keyPrefix: `${prefix}${runs}:`,
        clock: () => clock.now,
        limits: { ...DEFAULT_THROTTLE_LIMITS, ...limits },
      })
      return { instance, clock }
    }

    it('lets concurrent attempts through no more than the limit', async () => {
      const { instance } = throttle({ accountMax: 3 })
      const admissions = await Promise.all(
        Array.from({ length: 20 }, () =>
          instance.admit({ email: 'race@initech.test', ip: '192.0.2.10' }),
        ),
      )
      expect(admissions.filter((admission) => admission.allowed)).toHaveLength(3)
    })

    it('times Retry-After from the failure that frees a slot, and ignores refused attempts', async () => {
      const { instance, clock } = throttle({ accountMax: 2, accountWindowSeconds: 100 })
      const attempt = { email: 'slide@initech.test', ip: '192.0.2.11' }
      expect((await instance.admit(attempt)).allowed).toBe(true)
      clock.advance(30)
      expect((await instance.admit(attempt)).allowed).toBe(true)
      clock.advance(10)
      expect(await instance.admit(attempt)).toEqual({
        allowed: false,
        scope: 'account',
        retryAfterSeconds: 60,
      })
      clock.advance(60)
      // The first failure left the window; the refused attempt above was never counted.
      expect((await instance.admit(attempt)).allowed).toBe(true)
      expect(await instance.admit(attempt)).toMatchObject({ allowed: false, retryAfterSeconds: 30 })
    })

    it('counts failures per account and client address', async () => {
      const { instance } = throttle({ accountMax: 2 })
      await instance.admit({ email: 'roam@initech.test', ip: '192.0.2.12' })
      await instance.admit({ email: 'ROAM@initech.test ', ip: '192.0.2.12' })
      const third = await instance.admit({ email: 'roam@initech.test', ip: '192.0.2.12' })
      expect(third).toMatchObject({ allowed: false, scope: 'account', retryAfterSeconds: 900 })
      // Another address is not throttled by the first one's failures.
      const elsewhere = await instance.admit({ email: 'roam@initech.test', ip: '192.0.2.13' })
      expect(elsewhere).toMatchObject({ allowed: true, delayedMs: 0 })
    })

    it('gives the slot of a released attempt back', async () => {
      const { instance } = throttle({ accountMax: 2, ipMax: 2 })
      const attempt = { email: 'released@initech.test', ip: '192.0.2.16' }
      for (let i = 0; i < 5; i++) {
        const admission = await instance.admit(attempt)
        if (!admission.allowed) throw new Error(`attempt ${i} was refused`)
        await instance.release(admission.attempt)
      }
      await instance.admit(attempt)
      await instance.admit(attempt)
      expect(await instance.admit(attempt)).toMatchObject({ allowed: false })
    })

    it('past the hourly ceiling: refuses addresses that failed, delays the others', async () => {
      const slept: number[] = []
      const clock = testClock()
      runs += 1
      const instance = new LoginThrottle({
        redis: client(),
        keyPrefix: `${prefix}${runs}:`,
        clock: () => clock.now,
        limits: { ...DEFAULT_THROTTLE_LIMITS, accountHourlyCap: 4 },
        sleep: async (ms) => {
          slept.push(ms)
        },
      })
      const email = 'spread@initech.test'
      for (let i = 0; i < 4; i++) await instance.admit({ email, ip: `198.51.100.${i}` })
      expect(slept).toEqual([])
      expect(await instance.admit({ email, ip: '198.51.100.0' })).toMatchObject({
        allowed: false,
        scope: 'account',
        retryAfterSeconds: 3_600,
      })
      for (let i = 0; i < 6; i++) {
        expect(await instance.admit({ email, ip: `203.0.113.${i}` })).toMatchObject({
          allowed: true,
        })
      }
      expect(slept).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000])
      // Other accounts are not slowed down.
      expect(await instance.admit({ email: 'calm@initech.test', ip: '203.0.113.0' })).toMatchObject(
        {
          allowed: true,
          delayedMs: 0,
        },
      )
    })

    it('a success forgives the window but not the hourly cap', async () => {
      const { instance } = throttle({ accountMax: 2, accountHourlyCap: 3 })
      const attempt = { email: 'cap@initech.test', ip: '192.0.2.15' }
      await instance.admit(attempt)
      const correct = await instance.admit(attempt)
      if (!correct.allowed) throw new Error('expected the second attempt to be admitted')
      await instance.succeeded(correct.attempt)
      expect((await instance.admit(attempt)).allowed).toBe(true)
      expect((await instance.admit(attempt)).allowed).toBe(true)
      // The hour still holds the first failure, so the cap (a wait of an hour) governs now;
      // had the success cleared it, only the 15-minute window would be full.
      expect(await instance.admit(attempt)).toMatchObject({
        allowed: false,
        scope: 'account',
        retryAfterSeconds: 3_600,
      })
    })
  })
})

describe('AUTH-03 over IPv6: one /64 is one client', () => {
  const clock = testClock()
  let t: ThrottledApp

  beforeAll(async () => {
    t = await throttledApp(clock, { ipMax: 3 })
  })
  afterAll(async () => {
    await t?.close()
  })

  it('rotating addresses inside a /64 does not reset the per-IP limit; the next /64 is apart', async () => {
    const inside = ['2001:db8::1', '2001:db8::2', '2001:db8:0:0:ffff::3']
    for (const [index, ip] of inside.entries()) {
      expect((await login(t, `v6-${index}@initech.test`, WRONG, ip)).statusCode).toBe(401)
    }
    const fourth = await login(t, 'v6-3@initech.test', WRONG, '2001:db8::ffff:ffff:ffff:ffff')
    expect(fourth.statusCode).toBe(429)
    expect(t.audit.throttled).toEqual(['ip'])
    expect((await login(t, 'v6-4@initech.test', WRONG, '2001:db8:0:1::1')).statusCode).toBe(401)
  })

  it('an IPv4 client is the same client when reported as IPv4-mapped IPv6', async () => {
    for (const ip of ['203.0.113.50', '::ffff:203.0.113.50', '::ffff:cb00:7132']) {
      expect((await login(t, 'v4@initech.test', WRONG, ip)).statusCode).toBe(401)
    }
    expect((await login(t, 'v4@initech.test', WRONG, '203.0.113.50')).statusCode).toBe(429)
    expect((await login(t, 'v4@initech.test', WRONG, '203.0.113.51')).statusCode).toBe(401)
  })
})
